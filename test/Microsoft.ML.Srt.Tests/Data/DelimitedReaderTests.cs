using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Tests;

public class DelimitedReaderTests
{
    [Fact]
    public void CatalogDefaultsToColumnsOfWordsAndMergesAttributes()
    {
        using var t = new TempFiles();
        var items = t.Write("items.tsv", "item_id\tasin\ttitle", "1\tB00A\tRed lipstick", "2\tB00B\t", "3\tB00C\tNail polish");
        var attributes = t.Write("attrs.json", "{\"1\": [7, 8],", " \"3\": [\"x9\"]}");
        var report = new LoadReport();
        var catalog = DelimitedItemReader.Read(items, new DelimitedItemReader.Options { AttributesPath = attributes }, report);
        Assert.Equal(["1", "2", "3"], catalog.Ids);
        Assert.Equal(["title"], catalog.TextFields);
        Assert.Equal(["attributes"], catalog.TokenFields);
        Assert.Equal(["7", "8"], catalog.GetTokens(0, 0));
        Assert.Empty(catalog.GetTokens(1, 0));
        Assert.Contains(report.Notes, n => n.Contains("'asin'"));
        Assert.Contains(report.Notes, n => n.Contains("1 item(s) have no text"));
        Assert.Contains(report.Notes, n => n.Contains("1 item(s) have no 'attributes'"));
    }

    [Fact]
    public void CatalogOptionsChooseIdTextAndExcludedColumns()
    {
        using var t = new TempFiles();
        var items = t.Write("items.csv", "title,sku,brand,notes", "\"Red, bright\",s1,Acme Co,hand made", "Blue,s2,Acme Co,\"say \"\"hi\"\"\"");
        var catalog = DelimitedItemReader.Read(items, new DelimitedItemReader.Options { IdColumn = "sku", ExcludeColumns = ["notes"] });
        Assert.Equal(["s1", "s2"], catalog.Ids);
        Assert.Equal(["title", "brand"], catalog.TextFields);
        Assert.Equal("Red, bright", catalog.GetText(0, 0));

        var explicitText = DelimitedItemReader.Read(items, new DelimitedItemReader.Options { IdColumn = "sku", TextColumns = ["notes"] });
        Assert.Equal("say \"hi\"", explicitText.GetText(1, 0));
    }

    [Fact]
    public void CatalogErrorsNameFileLineAndField()
    {
        using var t = new TempFiles();
        var dup = t.Write("dup.tsv", "item_id\ttitle", "1\ta b", "1\tc d");
        var e = Assert.Throws<SrtDataException>(() => DelimitedItemReader.Read(dup));
        Assert.StartsWith($"{dup}:3 (field 'item_id'): duplicate item id '1' (first on line 2)", e.Message);

        var ragged = t.Write("ragged.tsv", "item_id\ttitle", "1\ta b\textra");
        e = Assert.Throws<SrtDataException>(() => DelimitedItemReader.Read(ragged));
        Assert.Equal(2, e.Line);

        var missing = t.Write("missing.tsv", "item_id\ttitle", "1\ta b");
        e = Assert.Throws<SrtDataException>(() => DelimitedItemReader.Read(missing, new DelimitedItemReader.Options { TextColumns = ["name"] }));
        Assert.StartsWith($"{missing}:1 (field 'name')", e.Message);

        var headerOnly = t.Write("header.tsv", "item_id\ttitle");
        Assert.Contains("no items", Assert.Throws<SrtDataException>(() => DelimitedItemReader.Read(headerOnly)).Message);
    }

    [Fact]
    public void AttributesWithUnknownItemOrWrongTypeAreErrors()
    {
        using var t = new TempFiles();
        var catalog = ItemCatalog.FromIds(["1", "2"]);
        var unknown = t.Write("a.json", "{", "  \"1\": [1],", "  \"5\": [2]", "}");
        var e = Assert.Throws<SrtDataException>(() => ItemAttributesReader.Merge(catalog, unknown));
        Assert.StartsWith($"{unknown}:3 (field '5'): item '5' is not in the item catalog", e.Message);

        var wrongType = t.Write("b.json", "{\"1\": 3}");
        e = Assert.Throws<SrtDataException>(() => ItemAttributesReader.Merge(catalog, wrongType));
        Assert.Equal("1", e.Field);

        var broken = t.Write("c.json", "{\"1\": [1,", "");
        Assert.Contains("invalid JSON", Assert.Throws<SrtDataException>(() => ItemAttributesReader.Merge(catalog, broken)).Message);
    }

    [Fact]
    public void InteractionsCsvThroughTextLoader()
    {
        using var t = new TempFiles();
        var path = t.Write("inter.csv", "UserId,ItemId,Timestamp,rating", "u1,a,20,5", "u2,b,1,4", "u1,b,10,3", "u1,c,20,1");
        var s = DelimitedInteractionReader.Read(path);
        Assert.Equal(["u1", "u2"], s.UserIds);
        Assert.Equal(["b", "a", "c"], s.GetSequence(0).ToArray().Select(s.Catalog.GetId));
    }

    [Fact]
    public void InteractionsTsvWithoutTimestampKeepsFileOrder()
    {
        using var t = new TempFiles();
        var path = t.Write("inter.tsv", "user_id\titem_id", "u1\tc", "u1\ta");
        var s = DelimitedInteractionReader.Read(path);
        Assert.Equal(["c", "a"], s.GetSequence(0).ToArray().Select(s.Catalog.GetId));
        Assert.Contains(s.Report.Notes, n => n.Contains("no timestamp"));
    }

    [Fact]
    public void InteractionsCsvErrorsNameFileLineAndColumn()
    {
        using var t = new TempFiles();
        var badTime = t.Write("bad.csv", "user_id,item_id,timestamp", "u1,a,1", "u1,b,later");
        var e = Assert.Throws<SrtDataException>(() => DelimitedInteractionReader.Read(badTime));
        Assert.StartsWith($"{badTime}:3 (field 'timestamp'): 'later' is not a number", e.Message);

        var noItem = t.Write("noitem.csv", "user_id,product,timestamp", "u1,a,1");
        e = Assert.Throws<SrtDataException>(() => DelimitedInteractionReader.Read(noItem));
        Assert.StartsWith($"{noItem}:1 (field 'item_id'): column 'item_id' is missing", e.Message);

        var unknown = t.Write("unknown.csv", "user_id,item_id", "u1,a", "u1,z");
        e = Assert.Throws<SrtDataException>(() => DelimitedInteractionReader.Read(unknown, ItemCatalog.FromIds(["a"])));
        Assert.StartsWith($"{unknown}:3 (field 'item_id'): item 'z'", e.Message);
    }

    [Fact]
    public void DetectsFormats()
    {
        using var t = new TempFiles();
        Assert.Equal(DataFormat.RecBole, DataFormatDetector.Detect(t.Write("x.inter", "u\ti")));
        Assert.Equal(DataFormat.RecBole, DataFormatDetector.Detect(t.Write("x.txt", "user_id:token\titem_id:token")));
        Assert.Equal(DataFormat.Csv, DataFormatDetector.Detect(t.Write("x.csv", "user,item", "1,2")));
        Assert.Equal(DataFormat.Csv, DataFormatDetector.Detect(t.Write("x.tsv", "user\titem", "1\t2")));
        Assert.Equal(DataFormat.Sequences, DataFormatDetector.Detect(t.Write("y.tsv", "1\t2\t3")));
        Assert.Equal(DataFormat.Sequences, DataFormatDetector.Detect(t.Write("seq.txt", "u1 1 2 3")));
    }
}

public class TextLoaderLineTests
{
    [Fact]
    public void BlankLinesDoNotShiftErrorLines()
    {
        using var t = new TempFiles();
        var path = t.Write("blank.csv", "user_id,item_id,timestamp", "u1,a,1", "", "u1,b,x");
        var e = Assert.Throws<SrtDataException>(() => DelimitedInteractionReader.Read(path));
        Assert.StartsWith($"{path}:4 (field 'timestamp')", e.Message);
    }

    [Fact]
    public void BlankLinesAreCountedAsDrops()
    {
        using var t = new TempFiles();
        var path = t.Write("blank.csv", "user_id,item_id,timestamp", "u1,a,1", "", "u1,b,2", "", "u2,c,1");
        var s = DelimitedInteractionReader.Read(path);
        Assert.Equal(3, s.InteractionCount);
        Assert.Equal(2, s.Report.Dropped["blank_line"]);
    }

    [Fact]
    public void AWhitespaceOnlyLineIsABadRowAtItsOwnLine()
    {
        using var t = new TempFiles();
        var path = t.Write("spaces.csv", "user_id,item_id,timestamp", "u1,a,1", "", "u1,b,2", "  ", "u2,c,1");
        var e = Assert.Throws<SrtDataException>(() => DelimitedInteractionReader.Read(path));
        Assert.StartsWith($"{path}:5 (field 'user_id')", e.Message);
    }
}
