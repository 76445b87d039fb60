using Microsoft.ML.Data;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Api;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Tests.Scoring;

/// <summary>An SRT transformer fitted once on <see cref="TinyData"/> (20 items, titles only), shared by the scoring tests.</summary>
public sealed class TinyTransformerFixture : IDisposable
{
    public TinyTransformerFixture()
    {
        Ml = new MLContext(1);
        var options = TinyData.TinyOptions(Ml);
        options.TopK = 20; // the whole catalog: membership tests see every item
        Transformer = Ml.Recommendation().Srt(options).Fit(Ml.Data.LoadFromEnumerable(TinyData.Interactions()));
    }

    public MLContext Ml { get; }

    public SrtTransformer Transformer { get; }

    public SrtModel Model => Transformer.Model;

    /// <summary>Histories of 1 to 12 items (longer than none, shorter than MaxLength), some with ids outside the catalog.</summary>
    public static List<HistoryInput> Histories(int count = 30) =>
        Enumerable.Range(0, count).Select(u => new HistoryInput
        {
            UserId = $"u{u}",
            History = Enumerable.Range(0, 1 + u % 12).Select(k => k == 2 && u % 5 == 0 ? "unknown" : $"i{(u * 7 + k * 3) % 20}").ToArray(),
        }).ToList();

    public void Dispose() => Transformer.Dispose();
}

public sealed class HistoryInput
{
    public string UserId = "";
    public string[] History = [];
}

public sealed class CandidateInput
{
    public string[] History = [];
    public string Candidate = "";
}

public sealed class CandidatesInput
{
    public string[] History = [];
    public string[] Candidates = [];
}

public sealed class RecommendationOutput
{
    public string[] RecommendedItems = [];
    public float[] RecommendationScores = [];
}

public sealed class CandidateOutput
{
    public string[] RecommendedItems = [];
    public float CandidateScore;
}

public sealed class CandidatesOutput
{
    public float[] CandidateScore = [];
}

public class ScoringTests(TinyTransformerFixture fixture) : IClassFixture<TinyTransformerFixture>
{
    private readonly MLContext _ml = fixture.Ml;

    private int[] Indices(string[] ids) =>
        ids.Select(id => fixture.Model.Catalog.TryGetIndex(id, out int i) ? i : -1).Where(i => i >= 0).ToArray();

    [Fact]
    public void PredictionEngineMatchesTransformAndRecommend()
    {
        Assert.True(fixture.Transformer.IsRowToRowMapper);
        var histories = TinyTransformerFixture.Histories();
        var engine = _ml.Model.CreatePredictionEngine<HistoryInput, RecommendationOutput>(fixture.Transformer);
        var transformed = _ml.Data.CreateEnumerable<RecommendationOutput>(
            fixture.Transformer.Transform(_ml.Data.LoadFromEnumerable(histories)), reuseRowObject: false).ToList();
        for (int u = 0; u < histories.Count; u++)
        {
            var predicted = engine.Predict(histories[u]);
            var direct = fixture.Model.Recommend(Indices(histories[u].History), 20);
            Assert.Equal(20, predicted.RecommendedItems.Length);
            ScoreAgreement.AssertSameTopK(direct.Select(p => fixture.Model.Catalog.GetId(p.Item)).ToList(), direct.Select(p => p.Score).ToList(),
                predicted.RecommendedItems, predicted.RecommendationScores, $"history {u}, engine: ");
            // Batched (padded to the batch's longest history) and one-at-a-time agree, within the tolerance (other shapes).
            ScoreAgreement.AssertSameTopK(predicted.RecommendedItems, predicted.RecommendationScores,
                transformed[u].RecommendedItems, transformed[u].RecommendationScores, $"history {u}, batched: ");
        }
        // A later prediction is not served from the previous row's result.
        Assert.NotEqual(engine.Predict(histories[1]).RecommendationScores, engine.Predict(histories[2]).RecommendationScores);
        // Through a transformer chain (what Fit on an EstimatorChain returns), with the package's own class pair.
        var chain = new TransformerChain<SrtTransformer>(fixture.Transformer);
        var chained = _ml.Model.CreatePredictionEngine<SrtHistoryInput, SrtRecommendationOutput>(chain);
        Assert.Equal(engine.Predict(histories[3]).RecommendedItems, chained.Predict(new SrtHistoryInput { History = histories[3].History }).RecommendedItems);
        var empty = engine.Predict(new HistoryInput { History = ["nothing", "known"] });
        Assert.Empty(empty.RecommendedItems);
        Assert.Empty(empty.RecommendationScores);
    }

    [Fact]
    public void EveryBatchSizeAndAShuffledCursorGiveTheSameRows()
    {
        var histories = _ml.Data.LoadFromEnumerable(TinyTransformerFixture.Histories(40));
        List<(string User, string[] Items, float[] Scores)> Rows(IDataView view, Random? rand = null)
        {
            var rows = new List<(string, string[], float[])>();
            using var cursor = view.GetRowCursor(view.Schema, rand);
            var user = cursor.GetGetter<ReadOnlyMemory<char>>(view.Schema["UserId"]);
            var items = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(view.Schema["RecommendedItems"]);
            var scores = cursor.GetGetter<VBuffer<float>>(view.Schema["RecommendationScores"]);
            ReadOnlyMemory<char> u = default;
            VBuffer<ReadOnlyMemory<char>> i = default;
            VBuffer<float> s = default;
            while (cursor.MoveNext())
            {
                user(ref u);
                items(ref i);
                scores(ref s);
                rows.Add((u.ToString(), i.DenseValues().Select(x => x.ToString()).ToArray(), s.DenseValues().ToArray()));
            }
            return rows;
        }

        var one = Rows(fixture.Transformer.Transform(histories));
        foreach (int batch in new[] { 1, 3, 40, 1000 })
        {
            var options = new SrtTransformer.Options { TopK = 20, ScoringBatchSize = batch };
            using var transformer = fixture.Transformer.WithOptions(options);
            var rows = Rows(transformer.Transform(histories));
            Assert.Equal(one.Select(r => r.User), rows.Select(r => r.User));
            for (int k = 0; k < one.Count; k++)
                ScoreAgreement.AssertSameTopK(one[k].Items, one[k].Scores, rows[k].Items, rows[k].Scores, $"batch {batch}, row {k}: ");
        }

        // ArrayDataView (LoadFromEnumerable) can shuffle: rows come in another order, each with its own recommendations.
        var shuffled = Rows(fixture.Transformer.Transform(_ml.Data.Cache(histories)), new Random(3));
        Assert.NotEqual(one.Select(r => r.User), shuffled.Select(r => r.User));
        var byUser = one.ToDictionary(r => r.User);
        foreach (var row in shuffled)
            ScoreAgreement.AssertSameTopK(byUser[row.User].Items, byUser[row.User].Scores, row.Items, row.Scores, $"{row.User}, shuffled: ");
    }

    [Fact]
    public void ACursorThatSkipsRowsStillScoresTheRowsItReads()
    {
        var list = TinyTransformerFixture.Histories(40);
        using var transformer = fixture.Transformer.WithOptions(new SrtTransformer.Options { TopK = 20, ScoringBatchSize = 4 });
        var view = transformer.Transform(_ml.Data.LoadFromEnumerable(list));
        using var cursor = view.GetRowCursor(view.Schema);
        var items = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(view.Schema["RecommendedItems"]);
        var scores = cursor.GetGetter<VBuffer<float>>(view.Schema["RecommendationScores"]);
        VBuffer<ReadOnlyMemory<char>> i = default;
        VBuffer<float> s = default;
        int row = 0, read = 0;
        while (cursor.MoveNext())
        {
            if (row % 7 == 5 || row == 39)
            {
                items(ref i);
                scores(ref s);
                // One at a time against batches of 4: the same ranking within the tolerance.
                var expected = fixture.Model.Recommend(Indices(list[row].History), 20);
                ScoreAgreement.AssertSameTopK(expected.Select(p => fixture.Model.Catalog.GetId(p.Item)).ToList(), expected.Select(p => p.Score).ToList(),
                    i.DenseValues().Select(x => x.ToString()).ToList(), s.DenseValues().ToList(), $"row {row}: ");
                read++;
            }
            row++;
        }
        Assert.Equal(6, read); // rows 5, 12, 19, 26, 33 and 39
    }

    [Fact]
    public void CandidateScoresMatchTheModelAndUnknownCandidatesAreNaN()
    {
        using var transformer = fixture.Transformer.WithOptions(new SrtTransformer.Options { TopK = 20, CandidateColumnName = "Candidate" });
        var rows = new[]
        {
            new CandidateInput { History = ["i1", "i2", "i3"], Candidate = "i4" },
            new CandidateInput { History = ["i1", "i2", "i3"], Candidate = "i2" },
            new CandidateInput { History = ["i9"], Candidate = "not-an-item" },
            new CandidateInput { History = ["not-an-item"], Candidate = "i4" },
        };
        var view = transformer.Transform(_ml.Data.LoadFromEnumerable(rows));
        Assert.Equal(NumberDataViewType.Single, view.Schema["CandidateScore"].Type);
        var output = _ml.Data.CreateEnumerable<CandidateOutput>(view, reuseRowObject: false).ToList();

        var recommended = fixture.Model.Recommend(Indices(["i1", "i2", "i3"]), 20);
        foreach (var (row, id) in new[] { (0, "i4"), (1, "i2") })
        {
            var expected = recommended.Single(p => fixture.Model.Catalog.GetId(p.Item) == id).Score;
            Assert.True(ScoreAgreement.Close(expected, output[row].CandidateScore), $"{id}: {expected} vs {output[row].CandidateScore}");
            float scored = fixture.Model.Score(Indices(["i1", "i2", "i3"]), Indices([id]))[0];
            Assert.True(ScoreAgreement.Close(scored, output[row].CandidateScore), $"{id}: {scored} vs {output[row].CandidateScore}");
        }
        Assert.True(float.IsNaN(output[2].CandidateScore));
        Assert.True(float.IsNaN(output[3].CandidateScore)); // empty history: nothing to score with
        Assert.Empty(output[3].RecommendedItems);
        Assert.Equal(1, transformer.UnknownCandidates);
        Assert.Equal(1, transformer.EmptyHistories);

        // The same through a prediction engine; excluding the history shapes the list, never the candidate's own score.
        using var excluding = fixture.Transformer.WithOptions(new SrtTransformer.Options { TopK = 20, CandidateColumnName = "Candidate", ExcludeHistory = true });
        var engine = _ml.Model.CreatePredictionEngine<CandidateInput, CandidateOutput>(excluding);
        var one = engine.Predict(rows[1]);
        Assert.True(ScoreAgreement.Close(output[1].CandidateScore, one.CandidateScore), $"{output[1].CandidateScore} vs {one.CandidateScore}");
        Assert.DoesNotContain("i2", one.RecommendedItems);
        Assert.Equal(17, one.RecommendedItems.Length);

        // A vector of candidates gives a vector of scores in the same order.
        using var many = fixture.Transformer.WithOptions(new SrtTransformer.Options { CandidateColumnName = "Candidates" });
        var manyView = many.Transform(_ml.Data.LoadFromEnumerable(new[] { new CandidatesInput { History = ["i1", "i2", "i3"], Candidates = ["i2", "zzz", "i4"] } }));
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single), manyView.Schema["CandidateScore"].Type);
        var scores = _ml.Data.CreateEnumerable<CandidatesOutput>(manyView, reuseRowObject: false).Single().CandidateScore;
        Assert.Equal(3, scores.Length);
        Assert.True(ScoreAgreement.Close(output[1].CandidateScore, scores[0]), $"{output[1].CandidateScore} vs {scores[0]}");
        Assert.True(float.IsNaN(scores[1]));
        Assert.True(ScoreAgreement.Close(output[0].CandidateScore, scores[2]), $"{output[0].CandidateScore} vs {scores[2]}");
        Assert.Equal(1, many.UnknownCandidates);

        var missing = Assert.Throws<SrtDataException>(() => many.Transform(_ml.Data.LoadFromEnumerable(new[] { new HistoryInput() })));
        Assert.Contains("'Candidates' (CandidateColumnName) is missing", missing.Message);
        var estimator = _ml.Recommendation().Srt(new SrtTrainer.Options { CandidateColumnName = "Candidate" });
        var interactionsWithCandidate = _ml.Data.LoadFromEnumerable(new[] { new { UserId = "u", ItemId = "i1", Candidate = "i2" } });
        var shape = estimator.GetOutputSchema(Microsoft.ML.Srt.Persistence.MlNetInternals.SchemaShapeOf(interactionsWithCandidate.Schema));
        Assert.Equal(SchemaShape.Column.VectorKind.Scalar, shape.Single(c => c.Name == "CandidateScore").Kind);
    }

    [Fact]
    public void ManyThreadsScoreLikeOneThread()
    {
        var histories = TinyTransformerFixture.Histories(24);
        var expected = histories.Select(h => fixture.Model.Recommend(Indices(h.History), 20)).ToList();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            try
            {
                // PredictionEngine is not thread-safe: one per thread, over the one shared transformer.
                var engine = _ml.Model.CreatePredictionEngine<HistoryInput, RecommendationOutput>(fixture.Transformer);
                for (int round = 0; round < 5; round++)
                    for (int u = 0; u < histories.Count; u++)
                    {
                        int k = (u + t * 5) % histories.Count;
                        (string[] Items, float[] Scores) got = t % 2 == 0
                            ? engine.Predict(histories[k]) is var p ? (p.RecommendedItems, p.RecommendationScores) : default
                            : fixture.Model.Recommend(Indices(histories[k].History), 20) is var r ? (r.Select(x => fixture.Model.Catalog.GetId(x.Item)).ToArray(), r.Select(x => x.Score).ToArray()) : default;
                        // Concurrent calls may split libtorch's work differently: the same ranking within the tolerance.
                        try
                        {
                            ScoreAgreement.AssertSameTopK(expected[k].Select(x => fixture.Model.Catalog.GetId(x.Item)).ToList(), expected[k].Select(x => x.Score).ToList(),
                                got.Items, got.Scores, $"thread {t}, history {k}: ");
                        }
                        catch (Xunit.Sdk.XunitException e)
                        {
                            failures.Add(e.Message);
                        }
                    }
            }
            catch (Exception e)
            {
                failures.Add(e.ToString());
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
    }

    [Fact]
    public void ANewCatalogDropsRemovedItemsAndScoresNewOnesFromTheirText()
    {
        var old = fixture.Model;
        var builder = new ItemCatalog.Builder(old.Catalog.TextFields, old.Catalog.TokenFields);
        for (int i = 0; i < old.Catalog.Count; i++)
            if (old.Catalog.GetId(i) != "i3")
                builder.Add(old.Catalog.GetId(i), [old.Catalog.GetText(i, 0)], []);
        builder.Add("copy-of-i7", [old.Catalog.GetText(old.Catalog.TryGetIndex("i7", out int i7) ? i7 : -1, 0)], []);
        builder.Add("brand-new", ["face cream night travel size"], []);
        var catalog = builder.Build();

        using var everything = fixture.Transformer.WithOptions(new SrtTransformer.Options { TopK = 100 });
        using var changed = everything.WithCatalog(catalog);
        Assert.Equal(21, changed.Model.Catalog.Count);
        var histories = TinyTransformerFixture.Histories(20).Append(new HistoryInput { UserId = "x", History = ["i1", "i3", "i2"] }).ToList();
        var engine = _ml.Model.CreatePredictionEngine<HistoryInput, RecommendationOutput>(changed);
        var transformed = _ml.Data.CreateEnumerable<RecommendationOutput>(
            changed.Transform(_ml.Data.LoadFromEnumerable(histories)), reuseRowObject: false).ToList();
        foreach (var (row, input) in transformed.Zip(histories))
        {
            Assert.Equal(21, row.RecommendedItems.Length); // every item of the new catalog, all of them
            Assert.DoesNotContain("i3", row.RecommendedItems);
            Assert.Contains("brand-new", row.RecommendedItems);
            var scores = row.RecommendedItems.Zip(row.RecommendationScores).ToDictionary(p => p.First, p => p.Second);
            // The same text scores the same, unless the history holds i7 itself: then i7 carries the learned repeat bias.
            float expected = scores["copy-of-i7"] + (input.History.Contains("i7") ? changed.Model.RepeatBias : 0);
            Assert.True(ScoreAgreement.Close(scores["i7"], expected), $"{scores["i7"]} vs {expected}");
        }

        // Items kept score as before; a history naming the removed item is read without it (skipped and counted).
        long skipped = changed.SkippedHistoryItems;
        var withRemoved = engine.Predict(new HistoryInput { History = ["i1", "i3", "i2"] });
        Assert.Equal(skipped + 1, changed.SkippedHistoryItems);
        var before = old.Recommend(Indices(["i1", "i2"]), 20).ToDictionary(p => old.Catalog.GetId(p.Item), p => p.Score);
        foreach (var (id, score) in withRemoved.RecommendedItems.Zip(withRemoved.RecommendationScores).Where(p => before.ContainsKey(p.First)))
            Assert.True(ScoreAgreement.Close(before[id], score), $"{id}: {before[id]} vs {score}");

        // The original keeps its own catalog.
        Assert.Contains("i3", fixture.Transformer.Model.Recommend([0], 20).Select(p => old.Catalog.GetId(p.Item)));

        // A changed model saves and loads like any other (its catalog is the new one).
        using var stream = new MemoryStream();
        changed.Model.Save(stream);
        stream.Position = 0;
        using var loaded = SrtModel.Load(stream, "cpu");
        Assert.Equal(catalog.Ids, loaded.Catalog.Ids);
        var history = changed.Model.Catalog.TryGetIndex("i1", out int i1) ? new[] { i1 } : [];
        Assert.Equal(changed.Model.Recommend(history, 21), loaded.Recommend(history, 21)); // in one process: bit for bit
    }

    [Fact]
    public void NewCatalogsComeFromDataViewsAndOutliveTheirSource()
    {
        var items = TinyData.Items().Where(i => i.ItemId != "i0").Append(new ItemRow { ItemId = "extra", Title = "hair gel strong number 9" }).ToList();
        var transformer = fixture.Transformer.WithOptions(new SrtTransformer.Options { TopK = 20 });
        var changed = transformer.WithCatalog(_ml.Data.LoadFromEnumerable(items));
        transformer.Dispose(); // disposing a sharing transformer leaves the others working
        var recommended = changed.Model.Recommend([0, 1], 20).Select(p => changed.Model.Catalog.GetId(p.Item)).ToList();
        Assert.Contains("extra", recommended);
        Assert.DoesNotContain("i0", recommended);
        changed.Dispose();
        Assert.NotEmpty(fixture.Model.Recommend([0, 1], 5)); // the fixture's network is still alive

        var noTitle = _ml.Data.LoadFromEnumerable(new[] { new { ItemId = "a", Name = "b" } });
        var e = Assert.Throws<SrtDataException>(() => fixture.Transformer.WithCatalog(noTitle));
        Assert.Contains("'Title' is missing", e.Message);
        Assert.Throws<ArgumentException>(() => fixture.Model.WithCatalog(ItemCatalog.FromIds(["a", "b"])));
    }

    [Fact]
    public void IdModelsCannotChangeCatalog()
    {
        var options = TinyData.TinyOptions(_ml);
        options.ItemRepresentation = ItemRepresentation.TextAndId;
        options.Epochs = 1;
        using var transformer = _ml.Recommendation().Srt(options).Fit(_ml.Data.LoadFromEnumerable(TinyData.Interactions()));
        var e = Assert.Throws<NotSupportedException>(() => transformer.WithCatalog(transformer.Model.Catalog));
        Assert.Contains("TextAndId", e.Message);
    }
}
