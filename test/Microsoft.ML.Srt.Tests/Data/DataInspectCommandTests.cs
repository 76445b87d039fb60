using Microsoft.ML.Srt.Tests.Cli;
using System.Text.Json;
using Microsoft.ML.Srt.Cli;

namespace Microsoft.ML.Srt.Tests;

public class DataInspectCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void PrintsOneJsonObjectWithCountsAndSplit()
    {
        using var t = new TempFiles();
        var seq = t.Write("s.txt", "u1 1 2 3 4", "u2 1 2", "u3");
        var items = t.Write("items.tsv", "item_id\tasin\ttitle", "1\tA1\tRed lipstick", "2\tA2\tNail polish", "3\tA3\t", "4\tA4\tHair gel", "5\tA5\tUnused item");
        var attributes = t.Write("a.json", "{\"1\": [1, 2]}");
        var (code, output, error) = Run("data", "inspect", "--interactions", seq, "--items", items, "--attributes", attributes);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(2, root.GetProperty("users").GetInt32());
        Assert.Equal(5, root.GetProperty("items").GetInt32());
        Assert.Equal(4, root.GetProperty("items_in_interactions").GetInt32());
        Assert.Equal(6, root.GetProperty("interactions").GetInt32());
        Assert.Equal(1, root.GetProperty("dropped").GetProperty("user_without_items").GetInt32());
        Assert.Contains(root.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("no text"));
        var split = root.GetProperty("leave_one_out");
        Assert.Equal(4, split.GetProperty("train_interactions").GetInt32());
        Assert.Equal(1, split.GetProperty("validation_cases").GetInt32());
        Assert.Equal(1, split.GetProperty("test_cases").GetInt32());
        Assert.Equal(1, split.GetProperty("users_not_evaluated").GetInt32());
        Assert.True(root.GetProperty("seconds").GetDouble() >= 0);
    }

    [Fact]
    public void BadFileExitsNonZeroWithOneLine()
    {
        using var t = new TempFiles();
        var inter = t.Write("d.inter", "user_id:token\titem_id:token\ttimestamp:float", "u1\ta\tx");
        var (code, output, error) = Run("data", "inspect", "--interactions", inter);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal($"{inter}:2 (field 'timestamp'): 'x' is not a number.", error.TrimEnd());
    }

    [Fact]
    public void UsageErrorsAndHelp()
    {
        var (code, _, error) = Run("data", "inspect");
        Assert.Equal(2, code);
        Assert.Contains("missing required option 'interactions'", error); // Spectre.Console.Cli's message
        Assert.Single(error.TrimEnd().Split('\n'));

        (code, _, error) = Run("data", "inspect", "--interactions", "x", "--format", "parquet");
        Assert.Equal(2, code);
        Assert.Contains("auto, sequences, recbole, csv", error);

        (code, _, error) = Run("nope");
        Assert.Equal(2, code);

        var (helpCode, help, _) = Run("data", "inspect", "--help");
        Assert.Equal(0, helpCode);
        Assert.Contains("--attributes", help);
        (helpCode, help, _) = Run("--help");
        Assert.Equal(0, helpCode);
        Assert.Contains("data inspect", help);
    }
}
