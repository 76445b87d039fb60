using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Srt.Cli;

namespace Microsoft.ML.Srt.Tests.Cli;

/// <summary>
/// <c>srt benchmark beauty</c> on a tiny data folder in Beauty's file formats: the rows really run as child <c>srt</c>
/// processes (with tiny models), so these tests also check that the CLI can start itself.
/// </summary>
public class BenchmarkBeautyCommandTests
{
    private const string TinyTrain = "--train-args=--dimension 16 --layers 1 --heads 1 --epochs 2 --batch-size 16 --device cpu";
    private const string TinyStep = "--step-args=--items 100 --steps 2 --length 8 --dimension 16 --layers 1 --heads 1 --negatives 20 --batch-size 8 --device cpu";
    private const string TinyBeautyStep = "--beauty-step-args=--dimension 16 --layers 1 --heads 1 --epochs 1 --batch-size 16 --device cpu";
    private const string TinyScoring = "--scoring-args=--latency-samples 10 --users 8 --batch-size 8 --device cpu";
    private static readonly byte[] PngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>sequences.txt (user item item ...), items.tsv (item_id, asin, title) and item_attributes.json, as Beauty's.</summary>
    private static string TinyBeauty(TempFiles t)
    {
        var dir = Path.Combine(t.Folder, "beauty");
        Directory.CreateDirectory(dir);
        string[] themes = ["red lipstick matte", "nail polish glossy", "hair gel strong", "face cream night"];
        File.WriteAllLines(Path.Combine(dir, "sequences.txt"), Enumerable.Range(1, 48).Select(u =>
            $"{u} " + string.Join(' ', Enumerable.Range(0, 4 + u % 4).Select(k => 1 + (u % 4) * 8 + (u + k) % 8))));
        File.WriteAllLines(Path.Combine(dir, "items.tsv"), new[] { "item_id\tasin\ttitle" }
            .Concat(Enumerable.Range(1, 32).Select(i => $"{i}\tB00{i:D7}\t{themes[(i - 1) / 8]} shade {i % 8}")));
        File.WriteAllText(Path.Combine(dir, "item_attributes.json"),
            "{" + string.Join(", ", Enumerable.Range(1, 32).Select(i => $"\"{i}\": [{1 + (i - 1) / 8}, {10 + i % 3}]")) + "}");
        return dir;
    }

    /// <summary>Runs <c>srt benchmark beauty</c> in this process; its progress lines and errors both go to the error stream.</summary>
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(["benchmark", "beauty", .. args], output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static JsonElement Row(string outDir, string row) => JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, row + ".json"))).RootElement;

    [Fact]
    public void RunsRowsAsChildProcessesSavesThemResumesAndRewritesTheDocBlock()
    {
        using var t = new TempFiles();
        var data = TinyBeauty(t);
        var outDir = Path.Combine(t.Folder, "out");
        var doc = Path.Combine(t.Folder, "docs", "benchmarks.md");
        Directory.CreateDirectory(Path.GetDirectoryName(doc)!);
        File.WriteAllText(doc, "# Benchmarks\n\nHand-written introduction.\n\n## Older measurements\n\nHand-written table.\n");
        string[] common = ["--data-dir", data, "--out-dir", outDir, "--doc", doc, "--row-minutes", "5", TinyTrain, TinyStep, TinyScoring, TinyBeautyStep];

        var first = Run(["--rows", "popularity,srt-10,srt-1k,speed", .. common]);
        Assert.True(first.Code == 0, first.Error);
        using (var summary = JsonDocument.Parse(first.Output))
            foreach (var row in new[] { "popularity", "srt-10", "srt-1k", "speed" })
                Assert.Equal("ran", summary.RootElement.GetProperty("rows").GetProperty(row).GetString());
        Assert.Contains("[srt-10 train]   epoch   2/2", first.Error); // the child's progress lines, forwarded

        foreach (var row in new[] { "popularity", "srt-10", "srt-1k" })
        {
            var results = Row(outDir, row).GetProperty("results");
            var unmasked = results.TryGetProperty("train", out var train) ? train : results.GetProperty("evaluate");
            var masked = results.GetProperty("evaluate_masked");
            Assert.True(masked.GetProperty("history_masked").GetBoolean());
            foreach (var key in new[] { "ndcg@5", "hit@5", "ndcg@10", "hit@10", "mrr" })
            {
                Assert.InRange(unmasked.GetProperty(key).GetDouble(), 0, 1);
                Assert.InRange(masked.GetProperty(key).GetDouble(), 0, 1);
            }
            Assert.Equal(48, unmasked.GetProperty("users").GetInt32());
        }
        var srt10 = Row(outDir, "srt-10");
        var srt10Train = srt10.GetProperty("results").GetProperty("train");
        Assert.Equal(10, srt10Train.GetProperty("options").GetProperty("negatives").GetInt32());
        Assert.Equal(5, srt10Train.GetProperty("options").GetProperty("max_minutes").GetDouble());
        Assert.Equal(16, srt10Train.GetProperty("options").GetProperty("dimension").GetInt32());
        Assert.Equal(2, srt10Train.GetProperty("validation_ndcg@10").GetArrayLength());
        Assert.True(srt10Train.GetProperty("peak_rss_mb").GetDouble() > 0);
        Assert.Equal(1000, Row(outDir, "srt-1k").GetProperty("results").GetProperty("train").GetProperty("options").GetProperty("negatives").GetInt32());
        Assert.True(File.Exists(Path.Combine(outDir, "srt-1k", "model.zip")));
        var speed = Row(outDir, "speed").GetProperty("results");
        Assert.Equal(2, speed.GetProperty("step").GetProperty("steps").GetInt32());
        // The hypervisor's share of the CPU during the timed steps, from /proc/stat: a percentage, or null where it cannot be
        // measured (no /proc/stat, or steps shorter than one clock tick in all, as two tiny steps on a fast host are).
        var steal = speed.GetProperty("step").GetProperty("cpu_steal_percent");
        if (steal.ValueKind == JsonValueKind.Number) Assert.InRange(steal.GetDouble(), 0, 100);
        else Assert.Equal(JsonValueKind.Null, steal.ValueKind);
        double timedMs = speed.GetProperty("step").GetProperty("ms_per_step_mean").GetDouble() * 2;
        if (OperatingSystem.IsLinux() && timedMs >= 100) Assert.Equal(JsonValueKind.Number, steal.ValueKind); // ten ticks at least
        // The step on Beauty's own batches: srt train with the step target's preset, whose options the extra args replace.
        var beautyStep = speed.GetProperty("beauty_step");
        Assert.Equal("cpu-small", beautyStep.GetProperty("options").GetProperty("preset").GetString());
        Assert.Equal(16, beautyStep.GetProperty("options").GetProperty("dimension").GetInt32());
        Assert.Equal(1, beautyStep.GetProperty("epochs").GetInt32());
        Assert.True(beautyStep.GetProperty("ms_per_step").GetDouble() > 0);
        Assert.True(speed.GetProperty("scoring").GetProperty("single_user").GetProperty("prediction_engine").GetProperty("p50_ms").GetDouble() > 0);
        Assert.True(Row(outDir, "speed").GetProperty("machine").GetProperty("cores").GetInt32() >= 1);

        // The document: the block went in before the first section, the hand-written text stayed, and the numbers are the files'.
        var text = File.ReadAllText(doc);
        Assert.StartsWith("# Benchmarks\n\nHand-written introduction.\n\n<!-- beauty-benchmark:begin -->", text);
        Assert.EndsWith("<!-- beauty-benchmark:end -->\n\n## Older measurements\n\nHand-written table.\n", text);
        string Cell(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
        Assert.Contains($"| srt-10 | {Cell(srt10Train.GetProperty("ndcg@5").GetDouble())} | {Cell(srt10Train.GetProperty("hit@5").GetDouble())} |", text);
        Assert.Contains("| srt-300 (not run) |", text);
        Assert.Contains("Cannot be checked yet: srt-100, srt-300 not run.", text);
        Assert.Contains($"| optimizer step on Beauty's own length-bucketed batches, `srt train --preset cpu-small --epochs 1`: d = 16, 1 layer, 1,000 shared negatives, " +
            $"batch 16 | mean {beautyStep.GetProperty("ms_per_step").GetDouble().ToString("F1", CultureInfo.InvariantCulture)} ms;", text);
        Assert.Contains("](benchmarks/beauty-validation-ndcg10.png)", text);
        Assert.Contains("](benchmarks/beauty-ndcg5-vs-negatives.png)", text);
        foreach (var png in new[] { "beauty-validation-ndcg10.png", "beauty-ndcg5-vs-negatives.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(t.Folder, "docs", "benchmarks", png));
            Assert.True(bytes.Length > 1000 && bytes.AsSpan(0, 8).SequenceEqual(PngMagic), png);
        }

        // A rerun skips every finished row (files untouched) and rewrites only the block.
        var saved = new[] { "popularity", "srt-10", "srt-1k", "speed" }.ToDictionary(r => r, r => (File.ReadAllText(Path.Combine(outDir, r + ".json")), File.GetLastWriteTimeUtc(Path.Combine(outDir, r + ".json"))));
        File.WriteAllText(doc, text.Replace("Hand-written table.", "Edited by hand.").Replace("| srt-300 (not run) |", "| stale line |"));
        var second = Run(["--rows", "popularity,srt-10,srt-1k,speed", .. common]);
        Assert.True(second.Code == 0, second.Error);
        using (var summary = JsonDocument.Parse(second.Output))
            foreach (var row in saved.Keys)
                Assert.Equal("skipped", summary.RootElement.GetProperty("rows").GetProperty(row).GetString());
        Assert.Contains("srt-10: skipped", second.Error);
        Assert.DoesNotContain("[srt-10 train]", second.Error);
        foreach (var (row, (content, time)) in saved)
        {
            Assert.Equal(content, File.ReadAllText(Path.Combine(outDir, row + ".json")));
            Assert.Equal(time, File.GetLastWriteTimeUtc(Path.Combine(outDir, row + ".json")));
        }
        var rewritten = File.ReadAllText(doc);
        Assert.DoesNotContain("stale line", rewritten);
        Assert.Contains("| srt-300 (not run) |", rewritten);
        Assert.EndsWith("\n## Older measurements\n\nEdited by hand.\n", rewritten);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(rewritten, "beauty-benchmark:begin"));

        // A changed budget is a changed row configuration: that row trains again, the others keep their files.
        var third = Run(["--data-dir", data, "--out-dir", outDir, "--doc", doc, "--rows", "srt-10", "--row-minutes", "4", TinyTrain]);
        Assert.True(third.Code == 0, third.Error);
        Assert.Contains("srt-10: its commands or data changed", third.Error);
        Assert.Equal(4, Row(outDir, "srt-10").GetProperty("results").GetProperty("train").GetProperty("options").GetProperty("max_minutes").GetDouble());
        Assert.Equal(saved["srt-1k"].Item1, File.ReadAllText(Path.Combine(outDir, "srt-1k.json")));
    }

    [Fact]
    public void AFailedChildStopsTheBenchmarkNamingTheRowAndKeepsFinishedRows()
    {
        using var t = new TempFiles();
        var data = TinyBeauty(t);
        var outDir = Path.Combine(t.Folder, "out");
        var doc = Path.Combine(t.Folder, "benchmarks.md");
        var result = Run("--data-dir", data, "--out-dir", outDir, "--doc", doc, "--rows", "popularity,srt-10", "--train-args=--epochs -1 --device cpu");
        Assert.Equal(1, result.Code);
        Assert.Contains("benchmark row 'srt-10' failed: 'srt train' exited with code 2", result.Error);
        Assert.Contains("Epochs", result.Error); // the child's own message
        Assert.True(File.Exists(Path.Combine(outDir, "popularity.json")));
        Assert.False(File.Exists(Path.Combine(outDir, "srt-10.json")));
        Assert.False(File.Exists(doc)); // the document is only rewritten after a complete run
    }

    [Fact]
    public void BadDataFolderAndOptionsAreClearErrors()
    {
        using var t = new TempFiles();
        var missing = Run("--data-dir", Path.Combine(t.Folder, "nowhere"), "--out-dir", t.Folder);
        Assert.Equal(1, missing.Code);
        Assert.Contains("nowhere", missing.Error);
        Assert.Contains("does not exist", missing.Error);

        var partial = Path.Combine(t.Folder, "partial");
        Directory.CreateDirectory(partial);
        File.WriteAllText(Path.Combine(partial, "sequences.txt"), "1 1 2 3\n");
        var noItems = Run("--data-dir", partial, "--out-dir", t.Folder);
        Assert.Equal(1, noItems.Code);
        Assert.Contains("has no items.tsv", noItems.Error);

        var data = TinyBeauty(t);
        var unknownRow = Run("--data-dir", data, "--rows", "srt-10,srt-2k");
        Assert.Equal(2, unknownRow.Code);
        Assert.Contains("unknown row 'srt-2k'", unknownRow.Error);
        var setByBenchmark = Run("--data-dir", data, "--train-args=--negatives 5");
        Assert.Equal(2, setByBenchmark.Code);
        Assert.Contains("may not set --negatives", setByBenchmark.Error);
        var beautyStepData = Run("--data-dir", data, "--beauty-step-args=--interactions other.txt");
        Assert.Equal(2, beautyStepData.Code);
        Assert.Contains("option '--beauty-step-args' may not set --interactions", beautyStepData.Error);
        var badMinutes = Run("--data-dir", data, "--row-minutes", "0");
        Assert.Equal(2, badMinutes.Code);
        Assert.Contains("--row-minutes", badMinutes.Error);
    }

    [Fact]
    public void SplicesTheBlockAndRefusesUnmatchedMarkers()
    {
        var block = BeautyBenchmarkReport.BeginMarker + "\nnew\n" + BeautyBenchmarkReport.EndMarker;
        Assert.Equal("# B\n\nintro\n\n" + block + "\n\n## Next\ntext\n", BeautyBenchmarkReport.Splice("# B\n\nintro\n\n## Next\ntext\n", block, "doc.md"));
        Assert.Equal("# B\n\nonly intro\n\n" + block + "\n", BeautyBenchmarkReport.Splice("# B\n\nonly intro\n", block, "doc.md"));
        var old = "# B\n\n" + BeautyBenchmarkReport.BeginMarker + "\nold\n" + BeautyBenchmarkReport.EndMarker + "\nafter\n";
        Assert.Equal("# B\n\n" + block + "\nafter\n", BeautyBenchmarkReport.Splice(old, block, "doc.md"));
        // Text that quotes the markers inline (as docs/benchmarks.md does) is not a marker.
        var quoting = old + "between the `" + BeautyBenchmarkReport.BeginMarker + "` and `" + BeautyBenchmarkReport.EndMarker + "` markers\n";
        Assert.Equal("# B\n\n" + block + "\nafter\nbetween the `" + BeautyBenchmarkReport.BeginMarker + "` and `" + BeautyBenchmarkReport.EndMarker + "` markers\n",
            BeautyBenchmarkReport.Splice(quoting, block, "doc.md"));
        Assert.Throws<InvalidDataException>(() => BeautyBenchmarkReport.Splice(old + old, block, "doc.md"));
        var broken = Assert.Throws<InvalidDataException>(() => BeautyBenchmarkReport.Splice("# B\n\n" + BeautyBenchmarkReport.BeginMarker + "\nold\n", block, "doc.md"));
        Assert.Contains("line 3", broken.Message);
        Assert.Contains("doc.md", broken.Message);
    }
}
