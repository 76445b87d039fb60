using System.Collections.Concurrent;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Persistence;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Persistence;

namespace Microsoft.ML.Srt.Tests.Scoring;

public class SrtRecommenderTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    private readonly SrtModel _model = fixture.Model;

    private ItemCatalog Catalog => _model.Catalog;

    private string Id(int index) => Catalog.GetId(index);

    /// <summary>The model's own top-k for known indices: what the recommender must agree with.</summary>
    private (string[] Ids, float[] Scores) Direct(int[] history, int k, bool excludeHistory = true)
    {
        var pairs = _model.Recommend(history, k, excludeHistory);
        return (pairs.Select(p => Id(p.Item)).ToArray(), pairs.Select(p => p.Score).ToArray());
    }

    private static void AssertSame((string[] Ids, float[] Scores) expected, RecommendationResult actual, string what) =>
        ScoreAgreement.AssertSameTopK(expected.Ids, expected.Scores, actual.Items.Select(i => i.Id).ToList(), actual.Items.Select(i => i.Score).ToList(), what);

    /// <summary>The same items under other ids ("b-" + id): a catalog disjoint from the model's, with the same vectors.</summary>
    private static ItemCatalog Renamed(ItemCatalog catalog, string prefix, int extra = 0)
    {
        var b = new ItemCatalog.Builder(catalog.TextFields, catalog.TokenFields, catalog.Count + extra);
        for (int i = 0; i < catalog.Count; i++) b.Add(prefix + catalog.GetId(i), Texts(catalog, i), Tokens(catalog, i));
        return b.Build();
    }

    private static string[] Texts(ItemCatalog c, int i) => Enumerable.Range(0, c.TextFields.Count).Select(f => c.GetText(i, f)).ToArray();

    private static string[][] Tokens(ItemCatalog c, int i) => Enumerable.Range(0, c.TokenFields.Count).Select(f => c.GetTokens(i, f).ToArray()).ToArray();

    [Fact]
    public void UnknownIdsAreSkippedReportedAndTheRestIsScored()
    {
        using var recommender = new SrtRecommender(_model);
        var result = recommender.Recommend([Id(3), "nope", Id(40), "nope", "gone", Id(7)], 10);
        Assert.False(result.IsFallback);
        Assert.Equal(["nope", "gone"], result.Skipped);
        AssertSame(Direct([3, 40, 7], 10), result, "unknown ids skipped: ");
        Assert.All(result.Items, item => Assert.Equal(Catalog.GetTitle(Catalog.TryGetIndex(item.Id, out int i) ? i : -1), item.Title));
        Assert.Throws<ArgumentOutOfRangeException>(() => recommender.Recommend([Id(3)], 0));
    }

    [Fact]
    public void ExcludeAllowAndExcludeHistoryAreHonoured()
    {
        using var recommender = new SrtRecommender(_model);
        int[] history = [5, 9, 5, 12];
        var ids = history.Select(Id).ToArray();

        // ExcludeHistory (the default) leaves the history out; off, the ranking is the model's over the whole catalog.
        // The whole catalog is asked for, so the history's items are in the list unless excluded, wherever the model ranks them.
        int n = Catalog.Count;
        var withHistory = recommender.Recommend(ids, n, new RecommendOptions { ExcludeHistory = false });
        AssertSame(Direct(history, n, excludeHistory: false), withHistory, "history kept: ");
        Assert.Equal(n, withHistory.Items.Count);
        var without = recommender.Recommend(ids, n);
        AssertSame(Direct(history, n), without, "history excluded: ");
        Assert.Equal(n - 3, without.Items.Count);
        Assert.DoesNotContain(without.Items, i => ids.Contains(i.Id));

        // Exclude: the next best items move up.
        var full = Direct(history, Catalog.Count);
        var excluded = new[] { full.Ids[0], full.Ids[2], "not-an-item" };
        var filtered = recommender.Recommend(ids, 5, new RecommendOptions { Exclude = excluded });
        Assert.Equal(full.Ids.Where(id => !excluded.Contains(id)).Take(5), filtered.Items.Select(i => i.Id));
        Assert.Empty(filtered.Skipped); // the exclude list is not the history: its unknown ids are ignored, not reported

        // Allow: only allowed items, still k of them, in the model's order; the predicate sees a few candidates, not the catalog.
        int calls = 0;
        bool Even(string id) { Interlocked.Increment(ref calls); return Catalog.TryGetIndex(id, out int i) && i % 2 == 0; }
        var allowed = recommender.Recommend(ids, 5, new RecommendOptions { Allow = Even });
        Assert.Equal(full.Ids.Where(id => Catalog.TryGetIndex(id, out int i) && i % 2 == 0).Take(5), allowed.Items.Select(i => i.Id));
        Assert.InRange(calls, 5, Catalog.Count / 2);

        // Filters that leave fewer than k items return what is left.
        var few = recommender.Recommend(ids, 50, new RecommendOptions { Allow = id => id == full.Ids[10] || id == full.Ids[30] });
        Assert.Equal([full.Ids[10], full.Ids[30]], few.Items.Select(i => i.Id));
    }

    [Fact]
    public void EmptyOrUnknownHistoriesFallBackToPopularityUnlessTurnedOff()
    {
        var counts = _model.ItemCounts!;
        Assert.Equal(fixture.Split.Train.ItemCounts(), counts.ToArray());
        // Most frequent first, ties to the lower index.
        var popular = Enumerable.Range(0, Catalog.Count).OrderByDescending(i => counts[i]).ThenBy(i => i).ToArray();
        using var recommender = new SrtRecommender(_model);
        Assert.True(recommender.HasPopularityCounts);

        var empty = recommender.Recommend([], 6);
        Assert.True(empty.IsFallback);
        Assert.Empty(empty.Skipped);
        Assert.Equal(popular.Take(6).Select(Id), empty.Items.Select(i => i.Id));
        Assert.Equal(popular.Take(6).Select(i => (float)counts[i]), empty.Items.Select(i => i.Score));

        var unknown = recommender.Recommend(["x", "y"], 6, new RecommendOptions { Exclude = [Id(popular[0])], Allow = id => id != Id(popular[2]) });
        Assert.True(unknown.IsFallback);
        Assert.Equal(["x", "y"], unknown.Skipped);
        Assert.Equal(popular.Where(i => i != popular[0] && i != popular[2]).Take(6).Select(Id), unknown.Items.Select(i => i.Id));

        var off = recommender.Recommend(["x"], 6, new RecommendOptions { PopularityFallback = false });
        Assert.False(off.IsFallback);
        Assert.Empty(off.Items);
        Assert.Equal(["x"], off.Skipped);

        // One known id is enough for the model to answer.
        Assert.False(recommender.Recommend(["x", Id(popular[0])], 6).IsFallback);
    }

    [Fact]
    public void PopularityCountsRoundTripAndOlderFilesFallBackToCatalogOrder()
    {
        using (var loaded = SrtModel.Load(new MemoryStream(fixture.Bytes), "cpu"))
            Assert.Equal(_model.ItemCounts!, loaded.ItemCounts!);

        // A file written before the counts were saved: no popularity entry, nothing listed in the manifest.
        var old = ModelFileTests.Rewrite(fixture.Bytes, m => m["entries"]!.AsObject().Remove(SrtModelFile.PopularityEntry), (SrtModelFile.PopularityEntry, null));
        using var model = SrtModel.Load(new MemoryStream(old), "cpu");
        Assert.Null(model.ItemCounts);
        using var recommender = new SrtRecommender(model);
        Assert.False(recommender.HasPopularityCounts);
        var fallback = recommender.Recommend([], 4, new RecommendOptions { Exclude = [Id(1)] });
        Assert.True(fallback.IsFallback);
        Assert.Equal([Id(0), Id(2), Id(3), Id(4)], fallback.Items.Select(i => i.Id));
        Assert.All(fallback.Items, i => Assert.Equal(0f, i.Score));

        // A damaged entry is an error that names it.
        var bad = ModelFileTests.Rewrite(fixture.Bytes, entry: (SrtModelFile.PopularityEntry, data => data[..^8]));
        var e = Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(bad), "cpu"));
        Assert.Contains(SrtModelFile.PopularityEntry, e.Message);
    }

    [Fact]
    public void SimilarItemsWorkForExistingAndNewlyAddedItems()
    {
        using var recommender = new SrtRecommender(_model);
        var similar = recommender.SimilarItems(Id(17), 10);
        Assert.Equal(10, similar.Items.Count);
        Assert.DoesNotContain(similar.Items, i => i.Id == Id(17));
        Assert.All(similar.Items, i => Assert.InRange(i.Score, -1 - 1e-5f, 1 + 1e-5f));
        Assert.True(similar.Items.Zip(similar.Items.Skip(1)).All(p => p.First.Score >= p.Second.Score));
        // Cosine is symmetric: the best neighbour sees item 17 with the same score (within rounding: another matrix product).
        var back = recommender.SimilarItems(similar.Items[0].Id, Catalog.Count);
        var reverse = back.Items.Single(i => i.Id == Id(17));
        Assert.True(ScoreAgreement.Close(similar.Items[0].Score, reverse.Score, 10), $"{similar.Items[0].Score} vs {reverse.Score}");

        var missing = recommender.SimilarItems("nope", 5);
        Assert.Empty(missing.Items);
        Assert.Equal(["nope"], missing.Skipped);

        // A new item with item 17's text: its vector is item 17's, so each is the other's nearest (cosine 1) after the swap.
        var b = Catalog.ToBuilder();
        b.Add("new-17", Texts(Catalog, 17), Tokens(Catalog, 17));
        recommender.SwapCatalog(b.Build());
        var ofNew = recommender.SimilarItems("new-17", 3);
        Assert.Equal(1f, ofNew.Items[0].Score, 1e-5f);
        Assert.Contains(ofNew.Items.Where(i => Math.Abs(i.Score - 1) < 1e-5), i => i.Id == Id(17));
        Assert.Contains(recommender.SimilarItems(Id(17), 3).Items, i => i.Id == "new-17");
        Assert.Contains(recommender.SimilarItems(Id(17), 3, new RecommendOptions { Exclude = ["new-17"] }).Items, i => i.Id != "new-17");
        Assert.DoesNotContain(recommender.SimilarItems(Id(17), 3, new RecommendOptions { Exclude = ["new-17"] }).Items, i => i.Id == "new-17");
    }

    [Fact]
    public void BatchAgreesWithSingleRequestsWithinTheTolerance()
    {
        using var recommender = new SrtRecommender(_model);
        var random = new Random(3);
        var requests = Enumerable.Range(0, 40).Select(r =>
        {
            // 0 to 25 items (longer than MaxLength 20 for some), an unknown id in some, an empty history in a few.
            var history = Enumerable.Range(0, r % 26).Select(_ => Id(random.Next(Catalog.Count))).ToList();
            if (r % 7 == 3) history.Insert(0, "unknown");
            return new RecommendationRequest(history, 1 + r % 12, r % 5 == 0 ? new RecommendOptions { ExcludeHistory = false } : null);
        }).ToList();
        var batch = recommender.RecommendBatch(requests);
        Assert.Equal(requests.Count, batch.Count);
        for (int r = 0; r < requests.Count; r++)
        {
            var single = recommender.Recommend(requests[r].History, requests[r].K, requests[r].Options);
            Assert.Equal(single.IsFallback, batch[r].IsFallback);
            Assert.Equal(single.Skipped, batch[r].Skipped);
            ScoreAgreement.AssertSameTopK(single.Items.Select(i => i.Id).ToList(), single.Items.Select(i => i.Score).ToList(),
                batch[r].Items.Select(i => i.Id).ToList(), batch[r].Items.Select(i => i.Score).ToList(), $"request {r}: ");
        }
        Assert.Contains(batch, r => r.IsFallback);
        Assert.Contains(batch, r => !r.IsFallback && r.Skipped.Count > 0);
    }

    [Fact]
    public async Task ConcurrentRequestsDuringSwapsSeeOneCatalogAndNeverFail()
    {
        var a = Catalog;
        var b = Renamed(a, "b-");
        var aIds = a.Ids.ToHashSet();
        var bIds = b.Ids.ToHashSet();
        using var other = SrtModel.Load(new MemoryStream(fixture.Bytes), "cpu"); // the whole model swapped too (catalog A)
        using var recommender = new SrtRecommender(_model);
        var errors = new ConcurrentQueue<string>();
        int checkedResults = 0, sawB = 0;
        using var stop = new CancellationTokenSource();

        // A result is from catalog A when its items are A's and the history's "b-" ids were skipped, and vice versa.
        void Check(RecommendationResult result, IReadOnlyList<string> history, string what)
        {
            bool fromA = result.Items.Count > 0 ? aIds.Contains(result.Items[0].Id) : !result.Skipped.Any(aIds.Contains);
            var ids = fromA ? aIds : bIds;
            if (!result.Items.All(i => ids.Contains(i.Id))) errors.Enqueue($"{what}: items from both catalogs");
            var expectedSkipped = history.Where(id => !ids.Contains(id)).Distinct();
            if (!expectedSkipped.SequenceEqual(result.Skipped)) errors.Enqueue($"{what}: skipped [{string.Join(",", result.Skipped)}] is not the other catalog's ids");
            if (!fromA) Interlocked.Increment(ref sawB);
            Interlocked.Increment(ref checkedResults);
        }

        var readers = Enumerable.Range(0, 3).Select(t => Task.Run(() =>
        {
            var random = new Random(t);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    // Histories mixing both catalogs' ids: whichever catalog answers, the other's ids are skipped.
                    var history = Enumerable.Range(0, 1 + random.Next(6)).Select(_ => (random.Next(2) == 0 ? "" : "b-") + Id(random.Next(a.Count))).ToArray();
                    Check(recommender.Recommend(history, 5), history, "single");
                    var requests = Enumerable.Range(0, 4).Select(i => new RecommendationRequest(i == 0 ? [] : history, 3)).ToList();
                    var results = recommender.RecommendBatch(requests);
                    bool batchFromA = results.All(r => r.Items.All(i => aIds.Contains(i.Id)));
                    bool batchFromB = results.All(r => r.Items.All(i => bIds.Contains(i.Id)));
                    if (!batchFromA && !batchFromB) errors.Enqueue("batch: results from both catalogs");
                    var similar = recommender.SimilarItems(history[0], 3);
                    if (similar.Items.Count > 0 && !(similar.Items.All(i => aIds.Contains(i.Id)) || similar.Items.All(i => bIds.Contains(i.Id))))
                        errors.Enqueue("similar: items from both catalogs");
                }
                catch (Exception e)
                {
                    errors.Enqueue(e.ToString());
                }
            }
        })).ToArray();

        for (int swap = 0; swap < 12; swap++)
        {
            if (swap % 4 == 3) recommender.SwapModel(swap % 8 == 3 ? other : _model);
            else recommender.SwapCatalog(swap % 2 == 0 ? b : a);
            await Task.Delay(20);
        }
        stop.Cancel();
        await Task.WhenAll(readers);

        Assert.True(errors.IsEmpty, string.Join("\n", errors.Take(5)));
        Assert.True(checkedResults > 12, $"only {checkedResults} results checked");
        Assert.True(sawB > 0, "no request saw catalog B");
        // The recommender's models were its own handles: the caller's still work after it is disposed.
        recommender.Dispose();
        Assert.Throws<ObjectDisposedException>(() => recommender.Recommend([Id(1)], 3));
        Assert.Equal(3, _model.Recommend([1], 3).Length);
        Assert.Equal(3, other.Recommend([1], 3).Length);
    }
}
