using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Tests.Data;

/// <summary><see cref="InteractionSequences.Combine"/>: several data sets as one, ids kept apart per source.</summary>
public class CombineSourcesTests
{
    private static InteractionSequences Source(string[] textFields, string[] tokenFields, params (string Id, string[] Text, string[][] Tokens)[] items)
    {
        var builder = new ItemCatalog.Builder(textFields, tokenFields);
        foreach (var (id, text, tokens) in items) builder.Add(id, text, tokens);
        var catalog = builder.Build();
        // Two users: "1" takes items 0, 1; "2" takes 1, 0, 1 when there are two items.
        var report = new LoadReport();
        report.Drop("duplicate_interaction", 2);
        report.Note("a note");
        return new InteractionSequences(catalog, ["1", "2"], [0, 2, 5], [0, 1, 1, 0, 1], report);
    }

    [Fact]
    public void IdsStayApartFieldsAreUnitedAndSequencesPointAtTheirOwnItems()
    {
        var games = Source(["title"], [], ("1", ["space shooter"], []), ("2", ["racing wheel"], []));
        var toys = Source(["title"], ["categories"], ("1", ["wooden train"], [["trains", "wood"]]), ("2", ["doll house"], [["dolls"]]));

        var all = InteractionSequences.Combine([KeyValuePair.Create("games", games), KeyValuePair.Create("toys", toys)]);

        Assert.Equal(4, all.Catalog.Count);
        Assert.Equal(["games:1", "games:2", "toys:1", "toys:2"], all.Catalog.Ids);
        Assert.Equal(["games:1", "games:2", "toys:1", "toys:2"], all.UserIds);
        Assert.Equal(["title"], all.Catalog.TextFields);
        Assert.Equal(["categories"], all.Catalog.TokenFields);
        // A games item has no categories field of its own: empty. A toys item keeps its tokens.
        Assert.Empty(all.Catalog.GetTokens(0, 0));
        Assert.Equal(["trains", "wood"], all.Catalog.GetTokens(2, 0));
        Assert.Equal("wooden train", all.Catalog.GetText(2, 0));
        // Same local ids, different items: toys user "1" took toys items 1 then 2.
        Assert.Equal(["toys:1", "toys:2"], all.GetSequence(2).ToArray().Select(all.Catalog.GetId));
        Assert.Equal(["games:2", "games:1", "games:2"], all.GetSequence(1).ToArray().Select(all.Catalog.GetId));
        Assert.Equal(10, all.InteractionCount);
        Assert.Equal(2, all.Report.Dropped["games:duplicate_interaction"]);
        Assert.Equal(2, all.Report.Dropped["toys:duplicate_interaction"]);
        Assert.Contains("toys: a note", all.Report.Notes);
    }

    [Fact]
    public void BadNamesAndAFieldReadTwoWaysAreRefusedWithTheirNames()
    {
        var a = Source(["title"], [], ("1", ["x"], []), ("2", ["y"], []));
        var b = Source([], ["title"], ("1", [], [["x"]]), ("2", [], [["y"]]));
        var clash = Assert.Throws<ArgumentException>(() => InteractionSequences.Combine([KeyValuePair.Create("a", a), KeyValuePair.Create("b", b)]));
        Assert.Contains("Field 'title' is text in source 'a' and a token list in source 'b'", clash.Message);
        var twice = Assert.Throws<ArgumentException>(() => InteractionSequences.Combine([KeyValuePair.Create("a", a), KeyValuePair.Create("a", a)]));
        Assert.Contains("'a' is given twice", twice.Message);
        var colon = Assert.Throws<ArgumentException>(() => InteractionSequences.Combine([KeyValuePair.Create("a:b", a)]));
        Assert.Contains("must not contain ':'", colon.Message);
        Assert.Throws<ArgumentException>(() => InteractionSequences.Combine([]));
    }
}
