using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Persistence;

namespace Microsoft.ML.Srt.Tests.Scoring;

/// <summary><see cref="ItemSimilarityScorer"/>: items ranked by cosine similarity to the history's last item.</summary>
public class ItemSimilarityScorerTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void ScoresAreTheLastItemsCosineSimilaritiesWithTheItemItselfLast()
    {
        var model = fixture.Model;
        var scorer = new ItemSimilarityScorer(model);
        int n = model.Catalog.Count;
        int[][] histories = [[3, 7, 11], [11], [5, 3]];
        var scores = new float[histories.Length * n];
        scorer.ScoreBatch(histories, scores);

        for (int h = 0; h < histories.Length; h++)
        {
            var row = scores.AsSpan(h * n, n);
            int last = histories[h][^1];
            Assert.Equal(float.NegativeInfinity, row[last]);
            // The model's own similar-items scores for that item, which the recommender shows (computed one at a time
            // there, in one batched product here: equal within rounding).
            var similar = new float[n];
            model.ItemSimilarities(last, similar);
            for (int i = 0; i < n; i++)
                if (i != last) Assert.InRange(Math.Abs(similar[i] - row[i]), 0, 1e-6);
            for (int i = 0; i < n; i++)
                if (i != last) Assert.InRange(row[i], -1.0001f, 1.0001f);
        }
        // Histories ending in the same item score alike, whatever came before.
        for (int i = 0; i < n; i++)
            if (i != 11) Assert.InRange(Math.Abs(scores[i] - scores[n + i]), 0, 1e-6);
    }

    [Fact]
    public void EvaluatesLikeAnyScorerAndRefusesEmptyHistories()
    {
        var scorer = new ItemSimilarityScorer(fixture.Model);
        var metrics = NextItemEvaluator.Evaluate(scorer, fixture.Split.Test, new SrtEvaluationOptions { Ks = [5, 10] });
        Assert.Equal(fixture.Split.Test.Count, metrics.Cases);
        Assert.InRange(metrics.Ndcg[10], 0, 1);
        Assert.True(metrics.Hit[10] >= metrics.Hit[5]);
        var error = Assert.Throws<ArgumentException>(() => scorer.ScoreBatch([[1], []], new float[2 * scorer.Catalog.Count]));
        Assert.Contains("History 1 is empty", error.Message);
    }
}
