using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Srt.Cli;
using Microsoft.ML.Srt.Scoring;

namespace Microsoft.ML.Srt.Tests.Cli;

public class QuickstartCommandTests
{
    [Fact]
    public void RunsEndToEndOnATinySetAndSavesALoadableModel()
    {
        using var t = new TempFiles();
        var output = new StringWriter();
        int code = CliApp.Run(
            ["quickstart", "--users", "150", "--items", "200", "--epochs", "1", "--dimension", "16", "--layers", "1", "--seed", "3", "--out", t.Folder], output, new StringWriter());
        var text = output.ToString();
        Assert.Equal(0, code);

        Assert.Contains("epoch   1/1", text);
        Assert.Contains("Top-10 recommendations:", text);
        var recommendations = text[text.IndexOf("Top-10 recommendations:", StringComparison.Ordinal)..].Split('\n')
            .Where(l => Regex.IsMatch(l, @"^\s+\d+\. ")).ToList();
        Assert.Equal(10, recommendations.Count);
        Assert.All(recommendations, l => Assert.Matches(@"^\s+\d+\. \S.* \[.+\]  \(score -?\d", l)); // title [brand] (score)
        Assert.Contains("recently bought", text);

        // Metrics: SRT and popularity rows, finite, in [0, 1].
        foreach (var row in new[] { "SRT", "popularity" })
        {
            var line = text.Split('\n').Single(l => l.StartsWith("  " + row + " ", StringComparison.Ordinal));
            var numbers = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(3, numbers.Length);
            Assert.All(numbers, v => Assert.InRange(v, 0, 1));
        }
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(t.Folder, "quickstart-metrics.json")));
        foreach (var model in new[] { "srt", "popularity" })
            foreach (var key in new[] { "ndcg@10", "hit@10", "mrr" })
                Assert.True(double.IsFinite(json.RootElement.GetProperty(model).GetProperty(key).GetDouble()));

        var modelPath = Path.Combine(t.Folder, "quickstart-model.zip");
        Assert.Contains(modelPath, text);
        using var loaded = SrtModel.Load(modelPath, "cpu");
        Assert.Equal(200, loaded.Catalog.Count);
    }

    [Fact]
    public void IsRegisteredAndRejectsBadNumbers()
    {
        var error = new StringWriter();
        Assert.Equal(2, CliApp.Run(["quickstart", "--epochs", "0"], new StringWriter(), error));
        Assert.Contains("--epochs", error.ToString());
        var help = new StringWriter();
        Assert.Equal(0, CliApp.Run(["quickstart", "--help"], help, new StringWriter()));
        Assert.Contains("--model", help.ToString());
    }
}
