using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Tests;

public class RecBoleReaderTests
{
    private static string Inter(TempFiles t, params string[] rows) =>
        t.Write("d.inter", ["user_id:token\titem_id:token\ttimestamp:float", .. rows]);

    private static string Item(TempFiles t, params string[] rows) =>
        t.Write("d.item", ["item_id:token\ttitle:token_seq\tattributes:token_seq\tbrand:token\tprice:float", .. rows]);

    [Fact]
    public void OrdersByTimestampWithStableTies()
    {
        using var t = new TempFiles();
        var path = Inter(t, "u1\ta\t5", "u2\tb\t1", "u1\tb\t3", "u1\tc\t5", "u1\td\t3.0", "u1\te\t1e0");
        var s = RecBoleReader.ReadInteractions(path);
        Assert.Equal(["u1", "u2"], s.UserIds);
        var ids = s.GetSequence(0).ToArray().Select(s.Catalog.GetId).ToArray();
        Assert.Equal(["e", "b", "d", "a", "c"], ids); // 1, 3, 3 (file order), 5, 5 (file order)
    }

    [Fact]
    public void ItemFieldsByTypeWithOverrides()
    {
        using var t = new TempFiles();
        var item = Item(t, "a\tRed lipstick\ta1 a2\tacme\t3.5", "b\t\ta3\t\t1");
        var report = new LoadReport();
        var catalog = RecBoleReader.ReadItems(item, report: report);
        Assert.Equal(["title", "attributes"], catalog.TextFields);
        Assert.Equal(["brand"], catalog.TokenFields);
        Assert.Equal("a1 a2", catalog.GetText(0, 1));
        Assert.Equal(["acme"], catalog.GetTokens(0, 0));
        Assert.Empty(catalog.GetTokens(1, 0));
        Assert.Contains(report.Notes, n => n.Contains("'price'") && n.Contains("ignored"));
        Assert.Contains(report.Notes, n => n.Contains("'attributes'") && n.Contains("id-like"));

        var split = RecBoleReader.ReadItems(item, new RecBoleReader.Options { TokenFields = ["attributes"] });
        Assert.Equal(["title"], split.TextFields);
        Assert.Equal(["attributes", "brand"], split.TokenFields);
        Assert.Equal(["a1", "a2"], split.GetTokens(0, 0));
    }

    [Fact]
    public void ReadsSiblingItemFileThroughTheLoader()
    {
        using var t = new TempFiles();
        var inter = Inter(t, "u1\ta\t0", "u1\tb\t1", "u1\ta\t2");
        Item(t, "a\tRed lipstick\ta1\tacme\t1", "b\tBlue nail polish\ta2\tacme\t2", "c\tUnused\ta3\tx\t3");
        var s = InteractionFileLoader.Load(new InteractionFileLoader.Options { InteractionsPath = inter });
        Assert.Equal(3, s.Catalog.Count);
        Assert.Equal(2, s.DistinctItemCount());
        Assert.Equal("Red lipstick", s.Catalog.GetTitle(s.GetSequence(0)[0]));
    }

    [Fact]
    public void NonNumericTimestampNamesFileLineAndField()
    {
        using var t = new TempFiles();
        var path = Inter(t, "u1\ta\t5", "u1\tb\tnoon");
        var e = Assert.Throws<SrtDataException>(() => RecBoleReader.ReadInteractions(path));
        Assert.StartsWith($"{path}:3 (field 'timestamp'): 'noon' is not a number", e.Message);
    }

    [Fact]
    public void MalformedLineNamesFileAndLine()
    {
        using var t = new TempFiles();
        var path = Inter(t, "u1\ta\t5", "u1\tb");
        var e = Assert.Throws<SrtDataException>(() => RecBoleReader.ReadInteractions(path));
        Assert.Equal(3, e.Line);
        Assert.Contains("expected 3 tab-separated fields", e.Message);
    }

    [Fact]
    public void InvalidAndIncompleteHeadersAreErrors()
    {
        using var t = new TempFiles();
        var untyped = t.Write("a.inter", "user_id\titem_id", "u1\ta");
        var e = Assert.Throws<SrtDataException>(() => RecBoleReader.ReadInteractions(untyped));
        Assert.Equal(1, e.Line);
        Assert.Equal("user_id", e.Field);

        var noItem = t.Write("b.inter", "user_id:token\ttimestamp:float", "u1\t1");
        e = Assert.Throws<SrtDataException>(() => RecBoleReader.ReadInteractions(noItem));
        Assert.StartsWith($"{noItem}:1 (field 'item_id'): field 'item_id' is missing", e.Message);

        var badTime = t.Write("c.inter", "user_id:token\titem_id:token\ttimestamp:token", "u1\ta\t1");
        e = Assert.Throws<SrtDataException>(() => RecBoleReader.ReadInteractions(badTime));
        Assert.Equal("timestamp", e.Field);
    }

    [Fact]
    public void DuplicateItemIdNamesBothLines()
    {
        using var t = new TempFiles();
        var item = Item(t, "a\tx y\ta1\tb\t1", "b\tx y\ta1\tb\t1", "a\tz w\ta1\tb\t1");
        var e = Assert.Throws<SrtDataException>(() => RecBoleReader.ReadItems(item));
        Assert.StartsWith($"{item}:4 (field 'item_id'): duplicate item id 'a' (first on line 2)", e.Message);
    }

    [Fact]
    public void UnknownItemInInterNamesLine()
    {
        using var t = new TempFiles();
        var inter = Inter(t, "u1\ta\t0", "u1\tzz\t1");
        Item(t, "a\tRed lipstick\ta1\tacme\t1");
        var e = Assert.Throws<SrtDataException>(() => InteractionFileLoader.Load(new InteractionFileLoader.Options { InteractionsPath = inter }));
        Assert.StartsWith($"{inter}:3 (field 'item_id'): item 'zz'", e.Message);
    }
}
