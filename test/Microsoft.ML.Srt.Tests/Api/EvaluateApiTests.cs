using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Tests.Api;

/// <summary><c>mlContext.Recommendation().Evaluate(...)</c> on SRT (text and id representations) and the popularity baseline.</summary>
public class EvaluateApiTests
{
    private static readonly SrtEvaluationOptions ByTimestamp = new() { TimestampColumnName = "Timestamp" };

    /// <summary>All interactions, and the same without each user's last one (what the model is fitted on).</summary>
    private static (MLContext Ml, List<InteractionRow> All, List<InteractionRow> Train) Data()
    {
        var rows = TinyData.Interactions();
        var last = rows.GroupBy(r => r.UserId).ToDictionary(g => g.Key, g => g.Max(r => r.Timestamp));
        return (new MLContext(seed: 1), rows, rows.Where(r => r.Timestamp < last[r.UserId]).ToList());
    }

    [Theory]
    [InlineData(ItemRepresentation.Text)]
    [InlineData(ItemRepresentation.Id)]
    public void EvaluatesAFittedTransformerOnTheLeaveOneOutTestCases(ItemRepresentation representation)
    {
        var (ml, all, train) = Data();
        var options = TinyData.TinyOptions(ml);
        options.ItemRepresentation = representation;
        using var model = ml.Recommendation().Srt(options).Fit(ml.Data.LoadFromEnumerable(train));
        var allView = ml.Data.LoadFromEnumerable(all);
        var metrics = ml.Recommendation().Evaluate(model, allView, ByTimestamp);

        // The leave-one-out test cases of the same data, built the way srt train builds them.
        var test = UserSplits.LeaveOneOut(DataViewInteractionReader.Read(allView, model.Model.Catalog)).Test;
        Assert.Equal(24, test.Count);
        Assert.Equal(24, metrics.Cases);
        var expected = model.Model.Evaluate(test);
        Assert.Equal(expected.Ndcg, metrics.Ndcg);
        Assert.Equal(expected.Hit, metrics.Hit);
        Assert.Equal(expected.Mrr, metrics.Mrr);
        Assert.InRange(metrics.Mrr, 1.0 / 20, 1);

        // Masking the history and sampling negatives only ever take candidates away, so no target ranks lower.
        var full = NextItemEvaluator.ComputeRanks(model.Model, test);
        var masked = NextItemEvaluator.ComputeRanks(model.Model, test, new SrtEvaluationOptions { MaskHistory = true });
        var sampled = NextItemEvaluator.ComputeRanks(model.Model, test, new SrtEvaluationOptions { Protocol = RankingProtocol.SampledNegatives, SampledNegatives = 5 });
        Assert.All(Enumerable.Range(0, test.Count), k =>
        {
            Assert.InRange(masked[k], 0, full[k]);
            Assert.InRange(sampled[k], 0, Math.Min(5, full[k]));
        });
        // Users walk through a five-item theme, so history items compete with the target and masking must matter somewhere.
        Assert.Contains(Enumerable.Range(0, test.Count), k => masked[k] < full[k]);
    }

    [Fact]
    public void PopularityBaselineMatchesCountsRankedByHand()
    {
        var (ml, all, train) = Data();
        var catalog = ItemCatalog.FromIds(TinyData.Items().Select(i => i.ItemId));
        var popularity = PopularityRecommender.Fit(ml.Data.LoadFromEnumerable(train), catalog);
        var metrics = ml.Recommendation().Evaluate(popularity, ml.Data.LoadFromEnumerable(all), new SrtEvaluationOptions { TimestampColumnName = "Timestamp", Ks = [1, 5] });

        // By hand: each user's newest interaction is the target; items with at least its training count rank ahead.
        var counts = train.GroupBy(r => r.ItemId).ToDictionary(g => g.Key, g => g.Count());
        int Count(string id) => counts.GetValueOrDefault(id);
        var ranks = all.GroupBy(r => r.UserId).Select(g =>
        {
            var target = g.MaxBy(r => r.Timestamp)!.ItemId;
            return catalog.Ids.Count(id => id != target && Count(id) >= Count(target));
        }).ToList();
        Assert.Equal(24, metrics.Cases);
        Assert.Equal(ranks.Average(r => 1.0 / (r + 1)), metrics.Mrr, 12);
        Assert.Equal(ranks.Average(r => r < 5 ? 1.0 : 0), metrics.Hit[5], 12);
        Assert.Equal(ranks.Average(r => r < 1 ? 1.0 : 0), metrics.Ndcg[1], 12);
    }

    [Fact]
    public void BadEvaluationDataNamesTheColumnOrItem()
    {
        var (ml, all, train) = Data();
        var catalog = ItemCatalog.FromIds(TinyData.Items().Select(i => i.ItemId));
        var popularity = PopularityRecommender.Fit(ml.Data.LoadFromEnumerable(train), catalog);
        var view = ml.Data.LoadFromEnumerable(all);
        var missing = Assert.Throws<SrtDataException>(() => ml.Recommendation().Evaluate(popularity, view, new SrtEvaluationOptions { TimestampColumnName = "When" }));
        Assert.Contains("'When'", missing.Message);

        var unknown = all.Append(new InteractionRow { UserId = "u0", ItemId = "zz", Timestamp = 99 }).ToList();
        var e = Assert.Throws<SrtDataException>(() => ml.Recommendation().Evaluate(popularity, ml.Data.LoadFromEnumerable(unknown), ByTimestamp));
        Assert.Contains("'zz'", e.Message);
        // Dropped, the unknown interaction is gone before the target is chosen: u0 is evaluated on its real last item.
        var dropped = ml.Recommendation().Evaluate(popularity, ml.Data.LoadFromEnumerable(unknown), new SrtEvaluationOptions { TimestampColumnName = "Timestamp", UnknownItems = UnknownItemPolicy.Drop });
        Assert.Equal(24, dropped.Cases);
        Assert.Equal(ml.Recommendation().Evaluate(popularity, view, ByTimestamp).Ndcg, dropped.Ndcg);

        var tooShort = new SrtEvaluationOptions { TimestampColumnName = "Timestamp", MinimumInteractions = 7 };
        Assert.Throws<ArgumentException>(() => ml.Recommendation().Evaluate(popularity, view, tooShort));
    }
}
