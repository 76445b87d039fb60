using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;

namespace Microsoft.ML.Srt.Tests.Evaluation;

public class PopularityEvaluationTests
{
    private static readonly ItemCatalog Catalog = ItemCatalog.FromIds(new[] { "a", "b", "c", "d", "e" });

    private static InteractionSequences Sequences(params int[][] users)
    {
        var offsets = new long[users.Length + 1];
        for (int u = 0; u < users.Length; u++) offsets[u + 1] = offsets[u] + users[u].Length;
        return new InteractionSequences(Catalog, users.Select((_, u) => "u" + u).ToArray(), offsets, users.SelectMany(s => s).ToArray());
    }

    // Training counts a=3 b=2 c=1 d=1 e=0, so popularity scores are [3, 2, 1, 1, 0].
    private static PopularityRecommender Fitted() => PopularityRecommender.Fit(Sequences(new[] { 0, 1, 2 }, new[] { 0, 1 }, new[] { 0, 3 }));

    // Case 0: history a b c, target d (tied with c). Case 1: history b, target e. Case 2: history a, target c (tied with d).
    private static EvaluationCases Cases() =>
        new(Sequences(new[] { 0, 1, 2, 3 }, new[] { 1, 4 }, new[] { 0, 2 }), new[] { 0, 1, 2 }, new[] { 3, 1, 1 }, new[] { 3, 4, 2 });

    [Fact]
    public void PopularityScoresAreTrainingCounts()
    {
        var scores = new float[5];
        Fitted().Score(new[] { 4 }, scores);
        Assert.Equal(new[] { 3f, 2f, 1f, 1f, 0f }, scores);
    }

    [Fact]
    public void RecommendBreaksTiesByIndexAndSkipsTheHistory()
    {
        var model = Fitted();
        Assert.Equal(new[] { 1, 2 }, model.Recommend(new[] { 0 }, 2));
        Assert.Equal(new[] { 0, 1, 2, 3 }, model.Recommend(new[] { 0 }, 4, excludeHistory: false));
        Assert.Equal(new[] { 4 }, model.Recommend(new[] { 0, 1, 2, 3 }, 3));
    }

    [Fact]
    public void MaskedRanksExcludeTheHistoryAndCountTiesPessimistically()
    {
        // Case 0: a b c masked, only e remains and scores lower => 0. Case 1: b masked, a c d score above e => 3.
        // Case 2: a masked, b scores higher and d ties (pessimistic) => 2.
        var ranks = CatalogRankingEvaluator.ComputeRanks(Cases(), Fitted().Score, new SrtEvaluationOptions { MaskHistory = true });
        Assert.Equal(new long[] { 0, 3, 2 }, ranks);
        var m = CatalogRankingEvaluator.Evaluate(Cases(), Fitted().Score, maskHistory: true, ks: new[] { 1, 3 });
        Assert.Equal(1.0 / 3, m.Ndcg[1], 12);
        Assert.Equal(2.0 / 3, m.Hit[3], 12);
        Assert.Equal((1 + 0 + 0.5) / 3, m.Ndcg[3], 12);
        Assert.Equal((1 + 1.0 / 4 + 1.0 / 3) / 3, m.Mrr, 12);
        Assert.Equal(3, m.Cases);
    }

    [Fact]
    public void UnmaskedRanksCountEveryOtherItem()
    {
        // Case 0: a b c score >= 1 => 3. Case 1: all four others >= 0 => 4. Case 2: a b and tied d => 3.
        Assert.Equal(new long[] { 3, 4, 3 }, CatalogRankingEvaluator.ComputeRanks(Cases(), Fitted().Score, new SrtEvaluationOptions { MaskHistory = false }));
        var m = CatalogRankingEvaluator.Evaluate(Cases(), Fitted().Score, maskHistory: false, ks: new[] { 3 });
        Assert.Equal(0, m.Hit[3]);
        Assert.Equal((1.0 / 4 + 1.0 / 5 + 1.0 / 4) / 3, m.Mrr, 12);
    }

    [Fact]
    public void EveryEntryPointUsesTheDefaultsOfSrtEvaluationOptions()
    {
        // The defaults do not mask the history: the unmasked ranks above, whichever way the evaluator is reached.
        Assert.False(new SrtEvaluationOptions().MaskHistory);
        long[] unmasked = [3, 4, 3];
        Assert.Equal(unmasked, CatalogRankingEvaluator.ComputeRanks(Cases(), Fitted().Score));
        Assert.Equal(unmasked, NextItemEvaluator.ComputeRanks(Fitted(), Cases()));
        var expected = NextItemEvaluator.Evaluate(Fitted(), Cases(), new SrtEvaluationOptions()).ToString();
        Assert.Equal(expected, CatalogRankingEvaluator.Evaluate(Cases(), Fitted().Score).ToString());
        Assert.Equal(expected, NextItemEvaluator.Evaluate(Fitted(), Cases()).ToString());
        Assert.Equal(expected, CatalogRankingEvaluator.Evaluate(Cases(), Fitted().Score, maskHistory: false).ToString());
        Assert.NotEqual(expected, CatalogRankingEvaluator.Evaluate(Cases(), Fitted().Score, maskHistory: true).ToString());
    }

    [Fact]
    public void AConstantScorerEarnsNothing()
    {
        var m = CatalogRankingEvaluator.Evaluate(Cases(), (_, scores) => scores.Fill(1f), maskHistory: false, ks: new[] { 1 });
        Assert.Equal(0, m.Hit[1]);
    }

    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        var generator = new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = 500, UserCount = 1_000 });
        var (_, sequences) = generator.Generate();
        var lengths = Enumerable.Range(0, sequences.UserCount).Select(sequences.GetLength).ToArray();
        var cases = new EvaluationCases(sequences, Enumerable.Range(0, sequences.UserCount).ToArray(),
            lengths.Select(l => l - 1).ToArray(), Enumerable.Range(0, sequences.UserCount).Select(u => sequences.GetSequence(u)[^1]).ToArray());
        var model = PopularityRecommender.Fit(sequences.WithPrefixes(lengths.Select(l => l - 1).ToArray()));
        var one = CatalogRankingEvaluator.Evaluate(cases, model.Score, maxDegreeOfParallelism: 1);
        var two = CatalogRankingEvaluator.Evaluate(cases, model.Score, maxDegreeOfParallelism: 2);
        Assert.Equal(one.ToString(), two.ToString());
        Assert.Equal(one.Mrr, two.Mrr);
    }
}
