using System.Text.Json;
using Microsoft.ML.Srt.Cli;
using Microsoft.ML.Srt.Tests.Api;

namespace Microsoft.ML.Srt.Tests.Cli;

public class BenchmarkScoringCommandTests
{
    [Fact]
    public void PrintsLatencyThroughputAndModelFacts()
    {
        using var t = new TempFiles();
        var ml = new MLContext(1);
        var options = TinyData.TinyOptions(ml);
        options.Epochs = 1;
        var modelPath = Path.Combine(t.Folder, "tiny.zip");
        using (var transformer = ml.Recommendation().Srt(options).Fit(ml.Data.LoadFromEnumerable(TinyData.Interactions())))
            transformer.Model.Save(modelPath);
        // Sequences in the file format (user item item ...), one id the model has never seen.
        var lines = TinyData.Interactions().GroupBy(r => r.UserId)
            .Select(g => g.Key + " " + string.Join(' ', g.OrderBy(r => r.Timestamp).Select(r => r.ItemId)) + (g.Key == "u3" ? " i99 i1" : ""))
            .ToArray();
        var sequences = t.Write("sequences.txt", lines);

        var output = new StringWriter();
        int code = CliApp.Run(
            ["benchmark", "scoring", "--model", modelPath, "--interactions", sequences, "-k", "5", "--users", "20", "--latency-samples", "30", "--batch-size", "8", "--device", "cpu"],
            output, new StringWriter());
        Assert.Equal(0, code);

        using var json = JsonDocument.Parse(output.ToString());
        var root = json.RootElement;
        Assert.Equal(20, root.GetProperty("catalog_items").GetInt32());
        Assert.Equal(20, root.GetProperty("users").GetInt32());
        Assert.Equal(1, root.GetProperty("skipped_history_items").GetInt64()); // i99
        Assert.Equal(5, root.GetProperty("k").GetInt32());
        Assert.Equal(new FileInfo(modelPath).Length / 1e6, root.GetProperty("model_file_mb").GetDouble(), 2);
        Assert.True(root.GetProperty("load_seconds").GetDouble() > 0);
        foreach (var method in new[] { "recommend", "prediction_engine" })
        {
            var latency = root.GetProperty("single_user").GetProperty(method);
            Assert.Equal(30, latency.GetProperty("samples").GetInt32());
            Assert.True(latency.GetProperty("p50_ms").GetDouble() > 0);
            Assert.True(latency.GetProperty("p99_ms").GetDouble() >= latency.GetProperty("p50_ms").GetDouble());
        }
        Assert.True(root.GetProperty("batched").GetProperty("transform_users_per_second").GetDouble() > 0);
        Assert.True(root.GetProperty("batched").GetProperty("recommend_users_per_second").GetDouble() > 0);

        var usage = new StringWriter();
        Assert.Equal(2, CliApp.Run(["benchmark", "scoring", "--model", modelPath, "--interactions", sequences, "-k", "0"], new StringWriter(), usage));
        Assert.Contains("'-k' must be at least 1", usage.ToString());
        var missing = new StringWriter();
        Assert.Equal(1, CliApp.Run(["benchmark", "scoring", "--model", Path.Combine(t.Folder, "none.zip"), "--interactions", sequences], new StringWriter(), missing));
        Assert.Contains("none.zip", missing.ToString());
    }
}
