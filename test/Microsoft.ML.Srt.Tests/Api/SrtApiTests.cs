using System.Reflection;
using Microsoft.ML.Data;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Scoring;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Tests.Api;

public class SrtApiTests
{
    public static TheoryData<string, Action<SrtTrainer.Options>> BadOptions => new()
    {
        { "Epochs", o => o.Epochs = 0 },
        { "TopK", o => o.TopK = 0 },
        { "Preset", o => o.Preset = "huge" },
        { "Negatives", o => o.Negatives = -1 },
        { "Dropout", o => o.Dropout = 1 },
        { "Dimension", o => { o.Dimension = 10; o.Heads = 4; } },
        { "HistoryColumnName", o => o.HistoryColumnName = " " },
        { "ScoresColumnName", o => o.ScoresColumnName = o.RecommendedItemsColumnName },
        { "UserColumnName", o => o.UserColumnName = "" },
        { "ScoringBatchSize", o => o.ScoringBatchSize = 0 },
        { "CandidateScoreColumnName", o => { o.CandidateColumnName = "Candidate"; o.CandidateScoreColumnName = o.ScoresColumnName; } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadOptionsAreRejectedNamingTheOption(string option, Action<SrtTrainer.Options> spoil)
    {
        var ml = new MLContext(1);
        var options = new SrtTrainer.Options();
        spoil(options);
        var e = Assert.ThrowsAny<ArgumentException>(() => ml.Recommendation().Srt(options));
        Assert.Contains(option, e.Message);
    }

    [Fact]
    public void BadSchemasAreRejectedNamingTheColumn()
    {
        var ml = new MLContext(1);
        var interactions = ml.Data.LoadFromEnumerable(TinyData.Interactions());

        var missing = Assert.Throws<SrtDataException>(() => ml.Recommendation().Srt(new SrtTrainer.Options
        {
            UserColumnName = "CustomerId", Items = ml.Data.LoadFromEnumerable(TinyData.Items()),
        }).Fit(interactions));
        Assert.Contains("'CustomerId' is missing", missing.Message);

        var wrongType = Assert.Throws<SrtDataException>(() => ml.Recommendation().Srt(new SrtTrainer.Options
        {
            ItemColumnName = "Timestamp", Items = ml.Data.LoadFromEnumerable(TinyData.Items()),
        }).Fit(interactions));
        Assert.Contains("'Timestamp' has type Single; expected text", wrongType.Message);

        var noTime = Assert.Throws<SrtDataException>(() => ml.Recommendation().Srt(timestampColumnName: "When",
            items: ml.Data.LoadFromEnumerable(TinyData.Items())).Fit(interactions));
        Assert.Contains("'When' is missing", noTime.Message);

        var itemsId = Assert.Throws<SrtDataException>(() => ml.Recommendation().Srt(new SrtTrainer.Options
        {
            Items = ml.Data.LoadFromEnumerable(TinyData.Items()), ItemsIdColumnName = "Asin",
        }).Fit(interactions));
        Assert.Contains("'Asin' is missing", itemsId.Message);

        var noCatalog = Assert.Throws<ArgumentException>(() => ml.Recommendation().Srt().Fit(interactions));
        Assert.Contains("Items", noCatalog.Message);
        Assert.Contains("ItemRepresentation", noCatalog.Message);

        // The estimator's schema check is on the training interactions (what EstimatorChain.Fit gives it).
        var estimator = ml.Recommendation().Srt(new SrtTrainer.Options { TimestampColumnName = "Timestamp" });
        var shape = Microsoft.ML.Srt.Persistence.MlNetInternals.SchemaShapeOf(interactions.Schema);
        Assert.Contains(estimator.GetOutputSchema(shape), c => c.Name == "RecommendedItems");
        SchemaShape Shape<T>(T row) where T : class => Microsoft.ML.Srt.Persistence.MlNetInternals.SchemaShapeOf(ml.Data.LoadFromEnumerable(new[] { row }).Schema);
        Assert.Contains("'UserId' (UserColumnName) is missing",
            Assert.Throws<SrtDataException>(() => estimator.GetOutputSchema(Shape(new { History = new[] { "i1" } }))).Message);
        Assert.Contains("'ItemId' (ItemColumnName) has type Single",
            Assert.Throws<SrtDataException>(() => estimator.GetOutputSchema(Shape(new { UserId = "u", ItemId = 1f, Timestamp = 1f }))).Message);
        Assert.Contains("'Timestamp' (TimestampColumnName) is missing",
            Assert.Throws<SrtDataException>(() => estimator.GetOutputSchema(Shape(new { UserId = "u", ItemId = "i1" }))).Message);
    }

    [Fact]
    public void FitThenTransformRecommendsTopKCatalogItemsAndLogsEpochs()
    {
        var ml = new MLContext(1);
        var messages = new List<string>();
        var sources = new HashSet<string>();
        ml.Log += (_, e) => { lock (messages) { messages.Add(e.Message); if (e.Message.Contains("epoch 2/2")) sources.Add(e.Source); } };
        var interactions = ml.Data.LoadFromEnumerable(TinyData.Interactions());
        var estimator = ml.Recommendation().Srt(TinyData.TinyOptions(ml));
        using var transformer = estimator.Fit(interactions);
        Assert.Contains(messages, m => m.Contains("epoch 2/2"));
        Assert.Equal(["SrtTrainer; Training"], sources);
        Assert.Equal(2, transformer.Model.TrainingSummary!.Epochs.Count);
        Assert.All(transformer.Model.TrainingSummary.Epochs, e => Assert.True(double.IsFinite(e.ValidationNdcg10)));

        var histories = SrtTransformer.HistoriesFromInteractions(interactions, timestampColumnName: "Timestamp");
        var output = transformer.Transform(histories);
        // The estimator describes the fitted transformer's output for the training data; histories get the same columns added.
        static IEnumerable<(string, string, SchemaShape.Column.VectorKind)> Columns(SchemaShape shape) => shape.Select(c => (c.Name, c.ItemType.ToString()!, c.Kind));
        static SchemaShape ShapeOf(DataViewSchema schema) => Microsoft.ML.Srt.Persistence.MlNetInternals.SchemaShapeOf(schema);
        Assert.Equal(Columns(estimator.GetOutputSchema(ShapeOf(interactions.Schema))), Columns(ShapeOf(transformer.GetOutputSchema(interactions.Schema))));
        Assert.Equal(Columns(ShapeOf(histories.Schema)).Concat(Columns(ShapeOf(output.Schema)).Skip(histories.Schema.Count)), Columns(ShapeOf(output.Schema)));
        Assert.Equal(["RecommendedItems", "RecommendationScores"], output.Schema.Skip(histories.Schema.Count).Select(c => c.Name));

        var ids = TinyData.Items().Select(i => i.ItemId).ToHashSet();
        var rows = ReadRows(output);
        Assert.Equal(24, rows.Count);
        foreach (var (user, history, items, scores) in rows)
        {
            Assert.Equal(5, items.Length);
            Assert.Equal(5, scores.Length);
            Assert.All(items, i => Assert.Contains(i, ids));
            Assert.Equal(items.Length, items.Distinct().Count());
            Assert.True(scores.Zip(scores.Skip(1)).All(p => p.First >= p.Second), "scores are best first");
            Assert.All(scores, s => Assert.True(float.IsFinite(s)));
        }
        // Timestamps order the history: rows were written newest first.
        Assert.Equal(new[] { "i0", "i1", "i2", "i3" }, rows[0].History);
        // Same history → the same recommendations as SrtModel.Recommend (batched against one at a time: within the tolerance).
        var direct = transformer.Model.Recommend(new[] { 0, 1, 2, 3 }, 5);
        ScoreAgreement.AssertSameTopK(direct.Select(p => transformer.Model.Catalog.GetId(p.Item)).ToList(),
            direct.Select(p => p.Score).ToList(), rows[0].Items, rows[0].Scores);
        // The docs/api.md way of reading the output.
        var typed = ml.Data.CreateEnumerable<RecommendationRow>(output, reuseRowObject: false).ToList();
        Assert.Equal(rows.Select(r => r.Items), typed.Select(r => r.RecommendedItems));
        Assert.Equal("u0", typed[0].UserId);
    }

    [Fact]
    public void TransformSkipsUnknownIdsReadsTextHistoriesAndCanExcludeHistory()
    {
        var ml = new MLContext(1);
        var interactions = ml.Data.LoadFromEnumerable(TinyData.Interactions());
        var options = TinyData.TinyOptions(ml);
        options.Epochs = 1;
        options.TopK = 20;
        options.ExcludeHistory = true;
        using var transformer = ml.Recommendation().Srt(options).Fit(interactions);

        var vectors = ml.Data.LoadFromEnumerable(new[]
        {
            new HistoryRow { UserId = "a", History = ["nope", "i1", "i2"] },
            new HistoryRow { UserId = "b", History = ["x", "y"] },
        });
        var rows = ReadRows(transformer.Transform(vectors));
        Assert.Equal(18, rows[0].Items.Length);
        Assert.DoesNotContain("i1", rows[0].Items);
        Assert.DoesNotContain("i2", rows[0].Items);
        Assert.Empty(rows[1].Items);
        Assert.Equal(3, transformer.SkippedHistoryItems);
        Assert.Equal(1, transformer.EmptyHistories);

        var text = ml.Data.LoadFromEnumerable(new[] { new { UserId = "a", History = "i1, i2 nope" } });
        var textRows = ReadRows(transformer.Transform(text));
        Assert.Equal(rows[0].Items, textRows[0].Items);

        // Saved through ML.NET and loaded back, the transformer keeps ExcludeHistory and TopK (details: MlNetModelTests).
        using var saved = new MemoryStream();
        ml.Model.Save(transformer, vectors.Schema, saved);
        saved.Position = 0;
        using var loaded = Assert.IsType<SrtTransformer>(ml.Model.Load(saved, out _));
        Assert.Equal(rows[0].Items, ReadRows(loaded.Transform(text))[0].Items);
    }

    [Fact]
    public void ValidationDataTrainsOnAllAndValidatesOnTheNextItems()
    {
        var ml = new MLContext(1);
        var all = TinyData.Interactions();
        var next = Enumerable.Range(0, 24).Select(u => new InteractionRow { UserId = $"u{u}", ItemId = $"i{(u % 4) * 5 + (u + 1) % 5}", Timestamp = 200 })
            .Append(new InteractionRow { UserId = "stranger", ItemId = "i3", Timestamp = 1 }).ToList();
        var options = TinyData.TinyOptions(ml);
        options.ValidationData = ml.Data.LoadFromEnumerable(next);
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        using var transformer = ml.Recommendation().Srt(options).Fit(ml.Data.LoadFromEnumerable(all));
        Assert.Contains(messages, m => m.Contains($"{all.Count} training interactions") && m.Contains("24 validation cases"));
        Assert.Contains(messages, m => m.Contains("validation_user_without_history"));
        Assert.All(transformer.Model.TrainingSummary!.Epochs, e => Assert.True(double.IsFinite(e.ValidationNdcg10)));
    }

    [Fact]
    public void IdRepresentationTrainsWithoutACatalog()
    {
        var ml = new MLContext(1);
        var options = TinyData.TinyOptions(ml);
        options.Items = null;
        options.ItemRepresentation = ItemRepresentation.Id;
        options.Epochs = 1;
        using var transformer = ml.SrtRecommendation().Srt(options).Fit(ml.Data.LoadFromEnumerable(TinyData.Interactions()));
        Assert.Equal(20, transformer.Model.Catalog.Count);
    }

    [Fact]
    public void FlatAndOptionsOverloadsConfigureTheSameTrainer()
    {
        var ml = new MLContext(1);
        var items = ml.Data.LoadFromEnumerable(TinyData.Items());
        var flat = ml.Recommendation().Srt("U", "I", "T", items, "4-2-64", 50, 3).TrainerOptions;
        var full = ml.SrtRecommendation().Srt(new SrtTrainer.Options
        {
            UserColumnName = "U", ItemColumnName = "I", TimestampColumnName = "T", Items = items, Preset = "4-2-64", Negatives = 50, Epochs = 3,
        }).TrainerOptions;
        foreach (var field in typeof(SrtTrainer.Options).GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            object? a = field.GetValue(flat), b = field.GetValue(full);
            if (a is Dictionary<string, int> da && b is Dictionary<string, int> db) Assert.Equal(da.OrderBy(p => p.Key), db.OrderBy(p => p.Key));
            else Assert.True(Equals(a, b), $"{field.Name}: {a} vs {b}");
        }
        var defaults = ml.Recommendation().Srt().TrainerOptions;
        Assert.Equal(("UserId", "ItemId", null, SrtTrainer.Options.DefaultNegatives, SrtTrainer.Options.DefaultEpochs, SrtPresets.Default),
            (defaults.UserColumnName, defaults.ItemColumnName, defaults.TimestampColumnName, defaults.Negatives, defaults.Epochs, defaults.Preset));
    }

    private static List<(string User, string[] History, string[] Items, float[] Scores)> ReadRows(IDataView view)
    {
        var result = new List<(string, string[], string[], float[])>();
        using var cursor = view.GetRowCursor(view.Schema);
        var user = cursor.GetGetter<ReadOnlyMemory<char>>(view.Schema["UserId"]);
        var historyColumn = view.Schema["History"];
        var items = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(view.Schema["RecommendedItems"]);
        var scores = cursor.GetGetter<VBuffer<float>>(view.Schema["RecommendationScores"]);
        ReadOnlyMemory<char> u = default, text = default;
        VBuffer<ReadOnlyMemory<char>> h = default, i = default;
        VBuffer<float> s = default;
        while (cursor.MoveNext())
        {
            user(ref u);
            string[] history;
            if (historyColumn.Type is TextDataViewType) { cursor.GetGetter<ReadOnlyMemory<char>>(historyColumn)(ref text); history = [text.ToString()]; }
            else { cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(historyColumn)(ref h); history = h.DenseValues().Select(x => x.ToString()).ToArray(); }
            items(ref i);
            scores(ref s);
            result.Add((u.ToString(), history, i.DenseValues().Select(x => x.ToString()).ToArray(), s.DenseValues().ToArray()));
        }
        return result;
    }
}
