using System.Text.Json;
using Microsoft.ML.Srt.Cli;

namespace Microsoft.ML.Srt.Tests.Api;

public class TrainCommandTests
{
    internal static readonly string[] Tiny = ["--dimension", "16", "--layers", "1", "--heads", "1", "--epochs", "2", "--batch-size", "8", "--device", "cpu"];

    internal static (string[] Sequences, string[] Items) TinyFiles()
    {
        var lines = Enumerable.Range(0, 24).Select(u =>
        {
            int theme = u % 4;
            return $"u{u} " + string.Join(' ', Enumerable.Range(0, 4 + u % 3).Select(k => $"i{theme * 5 + (u + k) % 5}"));
        }).ToArray();
        string[] themes = ["red lipstick matte", "nail polish glossy", "hair gel strong", "face cream night"];
        var items = new[] { "item_id\ttitle" }.Concat(Enumerable.Range(0, 20).Select(i => $"i{i}\t{themes[i / 5]} number {i % 5}")).ToArray();
        return (lines, items);
    }

    [Fact]
    public void TrainsEvaluatesAndWritesFiniteMetrics()
    {
        using var t = new TempFiles();
        var (sequences, items) = TinyFiles();
        var seq = t.Write("s.txt", sequences);
        var itemFile = t.Write("items.tsv", items);
        var metricsPath = Path.Combine(t.Folder, "m.json");
        var modelPath = Path.Combine(t.Folder, "model.zip");
        var progress = new StringWriter();
        var output = new StringWriter();
        int code = CliApp.Run(
            ["train", "--interactions", seq, "--items", itemFile, "--negatives", "5", "--metrics-json", metricsPath, "--model", modelPath, .. Tiny], output, progress);
        Assert.Equal(0, code);
        Assert.Contains("epoch   2/2", progress.ToString());

        using var json = JsonDocument.Parse(output.ToString());
        var root = json.RootElement;
        Assert.Equal(output.ToString().Trim(), File.ReadAllText(metricsPath).Trim());
        foreach (var key in new[] { "ndcg@5", "hit@5", "ndcg@10", "hit@10", "ndcg@20", "hit@20", "mrr", "train_seconds", "seconds_per_epoch",
                     "sequences_per_second", "ms_per_step", "peak_rss_mb" })
            Assert.True(double.IsFinite(root.GetProperty(key).GetDouble()), key);
        foreach (var key in new[] { "ndcg@5", "hit@5", "ndcg@10", "hit@10", "mrr" })
            Assert.InRange(root.GetProperty(key).GetDouble(), 0, 1);
        Assert.Equal(24, root.GetProperty("users").GetInt32());
        Assert.Equal(2, root.GetProperty("epochs").GetInt32());
        Assert.InRange(root.GetProperty("best_epoch").GetInt32(), 1, 2);
        Assert.Equal("epochs", root.GetProperty("stop_reason").GetString());
        Assert.True(root.GetProperty("parameters").GetInt64() > root.GetProperty("non_embedding_parameters").GetInt64());
        Assert.Equal(2, root.GetProperty("validation_ndcg@10").GetArrayLength());
        Assert.All(root.GetProperty("validation_ndcg@10").EnumerateArray(), v => Assert.True(double.IsFinite(v.GetDouble())));
        var options = root.GetProperty("options");
        Assert.Equal(16, options.GetProperty("dimension").GetInt32());
        Assert.Equal(5, options.GetProperty("negatives").GetInt32());

        Assert.Equal(modelPath, root.GetProperty("model_path").GetString());
        using var saved = Microsoft.ML.Srt.Scoring.SrtModel.Load(modelPath, "cpu");
        Assert.Equal(20, saved.Catalog.Count);
        Assert.Equal(root.GetProperty("parameters").GetInt64(), saved.ParameterCount);
    }

    [Fact]
    public void RecBoleAttributesAsTokensAndAllNegatives()
    {
        using var t = new TempFiles();
        var (sequences, _) = TinyFiles();
        var inter = new List<string> { "user_id:token\titem_id:token\ttimestamp:float" };
        foreach (var line in sequences)
        {
            var parts = line.Split(' ');
            inter.AddRange(parts.Skip(1).Select((item, k) => $"{parts[0]}\t{item}\t{k}"));
        }
        var interPath = t.Write("tiny.inter", [.. inter]);
        t.Write("tiny.item", [.. new[] { "item_id:token\ttitle:token_seq\tattributes:token_seq" }
            .Concat(Enumerable.Range(0, 20).Select(i => $"i{i}\tthing number {i % 5}\ta{i / 5} b{i % 2}"))]);
        var output = new StringWriter();
        int code = CliApp.Run(
            ["train", "--interactions", interPath, "--token-fields", "attributes", "--negatives", "all", .. Tiny], output, new StringWriter());
        Assert.Equal(0, code);
        var root = JsonDocument.Parse(output.ToString()).RootElement;
        Assert.Equal("attributes", root.GetProperty("data").GetProperty("token_fields")[0].GetString());
        Assert.Equal(0, root.GetProperty("options").GetProperty("negatives").GetInt32());
        Assert.True(double.IsFinite(root.GetProperty("ndcg@10").GetDouble()));
    }

    [Fact]
    public void BadNumbersAreUsageErrors()
    {
        var error = new StringWriter();
        int code = CliApp.Run(["train", "--interactions", "x.txt", "--epochs", "many"], new StringWriter(), error);
        Assert.Equal(2, code);
        Assert.Contains("--epochs", error.ToString());

        error = new StringWriter();
        code = CliApp.Run(["train", "--interactions", "x.txt", "--epochs", "0"], new StringWriter(), error);
        Assert.Equal(2, code);
        Assert.Contains("Epochs", error.ToString());
    }
}
