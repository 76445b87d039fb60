using Microsoft.Data.Analysis;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Tests;

public class DataViewTests
{
    private sealed class StringRow { public string UserId = ""; public string ItemId = ""; public float Timestamp; }
    private sealed class IntRow { public int user_id; public long item_id; public double ts; }
    private sealed class FloatRow { public float UserId; public string ItemId = ""; }

    private static readonly MLContext _ml = new(seed: 1);

    [Fact]
    public void ReadsStringColumnsOrderedByTimestamp()
    {
        var view = _ml.Data.LoadFromEnumerable(new[]
        {
            new StringRow { UserId = "u1", ItemId = "a", Timestamp = 2 },
            new StringRow { UserId = "u2", ItemId = "b", Timestamp = 0 },
            new StringRow { UserId = "u1", ItemId = "b", Timestamp = 1 },
            new StringRow { UserId = "u1", ItemId = "c", Timestamp = 1 },
        });
        var s = DataViewInteractionReader.Read(view);
        Assert.Equal(["u1", "u2"], s.UserIds);
        Assert.Equal(["b", "c", "a"], s.GetSequence(0).ToArray().Select(s.Catalog.GetId));
    }

    [Fact]
    public void ReadsIntegerColumnsWithConfiguredNames()
    {
        var view = _ml.Data.LoadFromEnumerable(new[] { new IntRow { user_id = 7, item_id = 100, ts = 1 }, new IntRow { user_id = 7, item_id = 101, ts = 0 } });
        var s = DataViewInteractionReader.Read(view, options: new DataViewInteractionReader.Options { TimestampColumn = "ts" });
        Assert.Equal(["7"], s.UserIds);
        Assert.Equal(["101", "100"], s.GetSequence(0).ToArray().Select(s.Catalog.GetId));
    }

    [Fact]
    public void ReadsKeyColumnsThroughTheirKeyValues()
    {
        var view = _ml.Data.LoadFromEnumerable(new[]
        {
            new StringRow { UserId = "u1", ItemId = "a", Timestamp = 0 },
            new StringRow { UserId = "u1", ItemId = "b", Timestamp = 1 },
            new StringRow { UserId = "u2", ItemId = "a", Timestamp = 0 },
        });
        var keyed = _ml.Transforms.Conversion.MapValueToKey("UserId").Append(_ml.Transforms.Conversion.MapValueToKey("ItemId")).Fit(view).Transform(view);
        Assert.IsType<KeyDataViewType>(keyed.Schema["ItemId"].Type);
        var s = DataViewInteractionReader.Read(keyed);
        Assert.Equal(["u1", "u2"], s.UserIds);
        Assert.Equal(["a", "b"], s.GetSequence(0).ToArray().Select(s.Catalog.GetId));
    }

    [Fact]
    public void ReadsADataFrame()
    {
        var frame = new DataFrame(
            new StringDataFrameColumn("user", ["u1", "u1", "u2"]),
            new Int64DataFrameColumn("item", [5L, 6L, 5L]),
            new DoubleDataFrameColumn("time", [2.0, 1.0, 0.0]));
        var s = DataViewInteractionReader.Read(frame, options: new DataViewInteractionReader.Options { UserColumn = "user", ItemColumn = "item", TimestampColumn = "time" });
        Assert.Equal(["6", "5"], s.GetSequence(0).ToArray().Select(s.Catalog.GetId));
    }

    [Fact]
    public void SchemaErrorsNameTheColumnAndTypes()
    {
        var view = _ml.Data.LoadFromEnumerable(new[] { new FloatRow { UserId = 1, ItemId = "a" } });
        var e = Assert.Throws<SrtDataException>(() => DataViewInteractionReader.Read(view));
        Assert.Equal("UserId", e.Field);
        Assert.Contains("expected text (ReadOnlyMemory<char>), an integer", e.Message);

        var missing = Assert.Throws<SrtDataException>(() => DataViewInteractionReader.Read(view, options: new DataViewInteractionReader.Options { ItemColumn = "Product" }));
        Assert.Contains("column 'Product' is missing (columns: UserId, ItemId)", missing.Message);
    }

    [Fact]
    public void UnknownItemInDataViewNamesRow()
    {
        var view = _ml.Data.LoadFromEnumerable(new[] { new StringRow { UserId = "u", ItemId = "a" }, new StringRow { UserId = "u", ItemId = "q" } });
        var e = Assert.Throws<SrtDataException>(() => DataViewInteractionReader.Read(view, ItemCatalog.FromIds(["a"])));
        Assert.StartsWith("IDataView:2 (field 'ItemId'): item 'q'", e.Message);
    }

    [Fact]
    public void SequencesRoundTripThroughIDataView()
    {
        using var t = new TempFiles();
        var original = SequenceFileReader.Read(t.Write("s.txt", "u1 3 1 2", "u2 1", "u3 2 2"));
        var view = DataViewInteractionReader.ToDataView(original);
        Assert.Equal(6, view.GetRowCount());
        Assert.Equal([0f, 1f, 2f, 0f, 0f, 1f], view.GetColumn<float>("Timestamp").ToArray());
        var back = DataViewInteractionReader.Read(view, original.Catalog);
        Assert.Equal(original.UserIds, back.UserIds);
        for (int u = 0; u < original.UserCount; u++) Assert.Equal(original.GetSequence(u).ToArray(), back.GetSequence(u).ToArray());
    }

    [Fact]
    public void CatalogRoundTripsThroughIDataViewAndPipelines()
    {
        var builder = new ItemCatalog.Builder(["title"], ["tags"]);
        builder.Add("a", ["Red lipstick"], [["x", "y"]]);
        builder.Add("b", [""], [[]]);
        var catalog = builder.Build();
        var view = ItemCatalogDataView.ToDataView(catalog);
        Assert.IsType<VectorDataViewType>(view.Schema["tags"].Type);

        var back = ItemCatalogDataView.Read(view);
        Assert.Equal(catalog.Ids, back.Ids);
        Assert.Equal(["title"], back.TextFields);
        Assert.Equal(["x", "y"], back.GetTokens(0, 0));
        Assert.Empty(back.GetTokens(1, 0));

        // The view plugs into ML.NET transforms.
        var featurized = _ml.Transforms.Text.FeaturizeText("Features", "title").Fit(view).Transform(view);
        Assert.Equal(2, featurized.GetColumn<float[]>("Features").Count());
    }

    [Fact]
    public void CatalogFromDataViewRejectsDuplicateIds()
    {
        var view = _ml.Data.LoadFromEnumerable(new[] { new StringRow { ItemId = "a" }, new StringRow { ItemId = "a" } });
        var e = Assert.Throws<SrtDataException>(() => ItemCatalogDataView.Read(view, new ItemCatalogDataView.Options { TextColumns = ["UserId"] }));
        Assert.StartsWith("IDataView:2 (field 'ItemId'): duplicate item id 'a'", e.Message);
    }
}
