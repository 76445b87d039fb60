using System.Text.Json;
using Microsoft.ML.Srt.Cli;

namespace Microsoft.ML.Srt.Tests.Cli;

/// <summary>
/// <c>srt benchmark transfer</c> on a tiny data folder laid out as ../shared/data (one folder per catalog, each with
/// sequences.txt and items.tsv): every step really runs as a child <c>srt</c> process, with tiny models.
/// </summary>
public class BenchmarkTransferCommandTests
{
    private const string TinyTrain = "--train-args=--dimension 16 --layers 1 --heads 1 --batch-size 16 --negatives 5 --device cpu";
    private static readonly byte[] PngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static void Catalog(string dataDir, string name, string[] themes)
    {
        var dir = Path.Combine(dataDir, name);
        Directory.CreateDirectory(dir);
        File.WriteAllLines(Path.Combine(dir, "sequences.txt"), Enumerable.Range(1, 40).Select(u =>
            $"{u} " + string.Join(' ', Enumerable.Range(0, 4 + u % 4).Select(k => 1 + (u % 4) * 8 + (u + k) % 8))));
        File.WriteAllLines(Path.Combine(dir, "items.tsv"), new[] { "item_id\ttitle" }
            .Concat(Enumerable.Range(1, 32).Select(i => $"{i}\t{themes[(i - 1) / 8]} model {i % 8}")));
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(["benchmark", "transfer", .. args], output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void PretrainsComparesTheVariantsResumesAndWritesTheTable()
    {
        using var t = new TempFiles();
        var data = Path.Combine(t.Folder, "data");
        Catalog(data, "amazon-games", ["racing game wheel", "space shooter game", "puzzle game cartridge", "fighting game arcade"]);
        Catalog(data, "amazon-toys", ["wooden train set", "puzzle wooden kids", "toy car remote", "doll house pink"]);
        Catalog(data, "amazon-beauty", ["red lipstick matte", "nail polish glossy", "hair gel strong", "face cream night"]);
        var outDir = Path.Combine(t.Folder, "out");
        var doc = Path.Combine(t.Folder, "docs", "transfer.md");
        Directory.CreateDirectory(Path.GetDirectoryName(doc)!);
        File.WriteAllText(doc, "# Transfer\n\nHand-written introduction.\n\n## What helped\n\nHand-written notes.\n");
        string[] common = ["--data-dir", data, "--out-dir", outDir, "--doc", doc, "--pretrain-epochs", "2", "--epochs", "3", "--minutes", "5", TinyTrain];

        var first = Run(["--variants", "pretrain,popularity,zero-shot,zero-shot-last-item,scratch,fine-tuned", .. common]);
        Assert.True(first.Code == 0, first.Error);
        using (var summary = JsonDocument.Parse(first.Output))
            foreach (var step in new[] { "pretrain", "popularity", "zero-shot", "zero-shot-last-item", "scratch", "fine-tuned" })
                Assert.Equal("ran", summary.RootElement.GetProperty("variants").GetProperty(step).GetString());

        // The fine-tuned variant started from the pre-trained model, with progressive unfreezing and EWC on the sources.
        using (var fine = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "fine-tuned.json"))))
        {
            var command = fine.RootElement.GetProperty("config").GetProperty("commands").GetProperty("run").EnumerateArray().Select(a => a.GetString()).ToList();
            Assert.Equal(Path.Combine(outDir, "pretrain", "model.zip"), command[command.IndexOf("--init-from") + 1]);
            Assert.Equal("progressive", command[command.IndexOf("--fine-tune") + 1]);
            Assert.Equal("0.001", command[command.IndexOf("--stage-learning-rate") + 1]); // srt train's learning rate
            Assert.Equal(2, command.Count(a => a == "--ewc-interactions"));
            Assert.True(fine.RootElement.GetProperty("config").GetProperty("data").TryGetProperty("pretrained_model", out _));
            Assert.Equal(3, fine.RootElement.GetProperty("results").GetProperty("run").GetProperty("epochs").GetInt32());
        }
        using (var zero = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "zero-shot.json"))))
            Assert.Equal("data", zero.RootElement.GetProperty("results").GetProperty("run").GetProperty("catalog").GetString());
        using (var zero = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "zero-shot-last-item.json"))))
            Assert.Equal("last-item", zero.RootElement.GetProperty("results").GetProperty("run").GetProperty("scorer").GetString());

        var text = File.ReadAllText(doc);
        Assert.StartsWith("# Transfer\n\nHand-written introduction.\n\n<!-- transfer-benchmark:begin -->", text);
        Assert.Contains("## What helped\n\nHand-written notes.", text);
        Assert.Contains("| variant | NDCG@5 | HIT@5 | NDCG@10 | HIT@10 | MRR | minutes |", text);
        Assert.Contains("| `fine-tuned` | 0.", text);
        Assert.Contains("| `fine-tuned-no-ewc` |", text); // not run yet: an empty row
        Assert.Contains("`fine-tuned` against `scratch`: NDCG@5", text);
        Assert.Contains("`zero-shot-last-item` against `popularity`: NDCG@5", text);
        Assert.Equal(PngMagic, File.ReadAllBytes(Path.Combine(t.Folder, "docs", "transfer", "beauty-validation-ndcg10.png")).Take(8));

        // A rerun with the same commands and data skips every saved step.
        var second = Run(["--variants", "pretrain,popularity,zero-shot", .. common]);
        Assert.True(second.Code == 0, second.Error);
        using (var summary = JsonDocument.Parse(second.Output))
            foreach (var step in new[] { "pretrain", "popularity", "zero-shot" })
                Assert.Equal("skipped", summary.RootElement.GetProperty("variants").GetProperty(step).GetString());
    }

    [Fact]
    public void TargetArgsReachOnlyTheTargetRunsAndAddAFieldThePretrainedModelLacks()
    {
        using var t = new TempFiles();
        var data = Path.Combine(t.Folder, "data");
        Catalog(data, "amazon-games", ["racing game wheel", "space shooter game", "puzzle game cartridge", "fighting game arcade"]);
        Catalog(data, "amazon-beauty", ["red lipstick matte", "nail polish glossy", "hair gel strong", "face cream night"]);
        var attributes = Path.Combine(data, "amazon-beauty", "item_attributes.json");
        File.WriteAllText(attributes, "{" + string.Join(",", Enumerable.Range(1, 32).Select(i => $"\"{i}\": [{1 + (i - 1) / 8}, {10 + i % 3}]")) + "}");
        var outDir = Path.Combine(t.Folder, "out");
        var doc = Path.Combine(t.Folder, "transfer.md");
        var run = Run("--data-dir", data, "--sources", "amazon-games", "--out-dir", outDir, "--doc", doc, "--pretrain-epochs", "2", "--epochs", "2",
            "--variants", "pretrain,fine-tuned-no-progressive", TinyTrain, $"--target-args=--attributes {attributes}");
        Assert.True(run.Code == 0, run.Error);

        List<string> Command(string step, string file) =>
            JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, file))).RootElement.GetProperty("config").GetProperty("commands")
                .GetProperty(step).EnumerateArray().Select(a => a.GetString()!).ToList();
        Assert.DoesNotContain("--attributes", Command("train", "pretrain.json"));
        var fine = Command("run", "fine-tuned-no-progressive.json");
        Assert.Equal(attributes, fine[fine.IndexOf("--attributes") + 1]);
        Assert.Contains("--dimension", fine); // --train-args reach the target runs too
        Assert.Contains("added the item field(s) 'attributes'", File.ReadAllText(Path.Combine(outDir, "fine-tuned-no-progressive", "run.log")));
        Assert.Contains("--target-args=", File.ReadAllText(Path.Combine(outDir, "fine-tuned-no-progressive.json")));
    }

    [Fact]
    public void RefusesBadOptionsWithTheirNames()
    {
        using var t = new TempFiles();
        var bad = Run("--data-dir", t.Folder, "--variants", "finetuned");
        Assert.Equal(2, bad.Code);
        Assert.Contains("unknown variant 'finetuned'", bad.Error);
        var budget = Run("--data-dir", t.Folder, "--minutes", "60");
        Assert.Equal(2, budget.Code);
        Assert.Contains("'--minutes' must be in (0, 45]", budget.Error);
        var setByBenchmark = Run("--data-dir", t.Folder, "--train-args=--epochs 3");
        Assert.Equal(2, setByBenchmark.Code);
        Assert.Contains("may not set --epochs", setByBenchmark.Error);
        var targetSets = Run("--data-dir", t.Folder, "--target-args=--init-from x.zip");
        Assert.Equal(2, targetSets.Code);
        Assert.Contains("--target-args", targetSets.Error);
        var missing = Run("--data-dir", t.Folder, "--variants", "popularity");
        Assert.NotEqual(0, missing.Code);
        Assert.Contains("has no folder 'amazon-beauty'", missing.Error);
    }
}
