using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Tests;

public class SequenceFileReaderTests
{
    [Fact]
    public void ReadsUsersInOrderAndBuildsCatalogFromIds()
    {
        using var t = new TempFiles();
        var path = t.Write("seq.txt", "u1 10 11 12", "u2\t11 13", "u3 10 10 10");
        var s = SequenceFileReader.Read(path);
        Assert.Equal(["u1", "u2", "u3"], s.UserIds);
        Assert.Equal(8, s.InteractionCount);
        Assert.Equal(["10", "11", "12", "13"], s.Catalog.Ids);
        Assert.Equal([1, 3], s.GetSequence(1).ToArray());
        Assert.Equal([0, 0, 0], s.GetSequence(2).ToArray()); // repeats are kept
        Assert.Empty(s.Report.Dropped);
    }

    [Fact]
    public void CountsUsersWithoutItemsAndBlankLines()
    {
        using var t = new TempFiles();
        var path = t.Write("seq.txt", "u1 1 2", "", "u2", "u3 3");
        var s = SequenceFileReader.Read(path);
        Assert.Equal(2, s.UserCount);
        Assert.Equal(1, s.Report.Dropped["user_without_items"]);
        Assert.Equal(1, s.Report.Dropped["blank_line"]);
    }

    [Fact]
    public void EmptyFileIsAnError()
    {
        using var t = new TempFiles();
        var path = t.Write("empty.txt");
        var e = Assert.Throws<SrtDataException>(() => SequenceFileReader.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void MissingFileIsAnError()
    {
        var e = Assert.Throws<SrtDataException>(() => SequenceFileReader.Read("/nonexistent/seq.txt"));
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void UserOnTwoLinesIsAnErrorNamingBothLines()
    {
        using var t = new TempFiles();
        var path = t.Write("seq.txt", "u1 1 2", "u2 3", "u1 4");
        var e = Assert.Throws<SrtDataException>(() => SequenceFileReader.Read(path));
        Assert.Equal(3, e.Line);
        Assert.Equal("user", e.Field);
        Assert.Contains($"{path}:3 (field 'user')", e.Message);
        Assert.Contains("line 1", e.Message);
    }

    [Fact]
    public void UnknownItemErrorNamesFileLineAndField()
    {
        using var t = new TempFiles();
        var path = t.Write("seq.txt", "u1 1 2", "u2 2 9");
        var catalog = ItemCatalog.FromIds(["1", "2"]);
        var e = Assert.Throws<SrtDataException>(() => SequenceFileReader.Read(path, catalog));
        Assert.StartsWith($"{path}:2 (field 'item'): item '9'", e.Message);
    }

    [Fact]
    public void UnknownItemPlaceholderAndDrop()
    {
        using var t = new TempFiles();
        var path = t.Write("seq.txt", "u1 1 9", "u2 8", "u3 2 9");
        var catalog = ItemCatalog.FromIds(["1", "2"]);

        var withPlaceholders = SequenceFileReader.Read(path, catalog, UnknownItemPolicy.AddPlaceholder);
        Assert.Equal(4, withPlaceholders.Catalog.Count);
        Assert.Equal(2, withPlaceholders.Catalog.PlaceholderCount);
        Assert.True(withPlaceholders.Catalog.IsPlaceholder(withPlaceholders.GetSequence(0)[1]));
        Assert.Equal(5, withPlaceholders.InteractionCount);
        Assert.Contains(withPlaceholders.Report.Notes, n => n.Contains("placeholder"));

        var dropped = SequenceFileReader.Read(path, catalog, UnknownItemPolicy.Drop);
        Assert.Equal(2, dropped.Catalog.Count);
        Assert.Equal(["u1", "u3"], dropped.UserIds);
        Assert.Equal(3, dropped.Report.Dropped["unknown_item"]);
        Assert.Equal(1, dropped.Report.Dropped["user_without_known_items"]);
    }
}
