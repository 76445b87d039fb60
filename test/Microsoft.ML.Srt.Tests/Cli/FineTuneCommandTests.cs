using Microsoft.ML.Srt.Cli;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Api;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Tests.Cli;

/// <summary><c>srt train --init-from ... --fine-tune progressive</c>.</summary>
public class FineTuneCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void TrainFineTunesFromASavedModelAndRefusesAMismatch()
    {
        using var t = new TempFiles();
        var (sequences, items) = TrainCommandTests.TinyFiles();
        var seq = t.Write("s.txt", sequences);
        var itemFile = t.Write("items.tsv", items);
        var pre = Path.Combine(t.Folder, "pre.zip");
        var tuned = Path.Combine(t.Folder, "tuned.zip");
        Assert.Equal(0, Run(["train", "--interactions", seq, "--items", itemFile, "--negatives", "5", "--model", pre, .. TrainCommandTests.Tiny]).Code);

        // Tiny is one layer: stage 1 trains it (1 epoch), stage 2 everything (1 epoch).
        var fine = Run(["train", "--interactions", seq, "--items", itemFile, "--negatives", "5", "--model", tuned,
            "--init-from", pre, "--fine-tune", "progressive", "--stage-epochs", "1", "--stage-learning-rate", "1e-3", .. TrainCommandTests.Tiny]);
        Assert.True(fine.Code == 0, fine.Err);
        var json = System.Text.Json.JsonDocument.Parse(fine.Out).RootElement;
        Assert.Equal(2, json.GetProperty("epochs").GetInt32());
        // The kept weights are the best epoch's: stage 1 (epoch 1) leaves the item encoder as pre-trained, stage 2 trains it.
        bool itemsTrained = json.GetProperty("best_epoch").GetInt32() == 2;
        using (var a = SrtModel.Load(pre, "cpu"))
        using (var b = SrtModel.Load(tuned, "cpu"))
        using (no_grad())
        {
            var before = a.Network.state_dict();
            var changed = b.Network.state_dict().Where(p => (p.Value - before[p.Key]).abs().max().item<float>() > 0).Select(p => p.Key).ToList();
            Assert.Contains(changed, name => name.StartsWith("sequences.blocks.0.", StringComparison.Ordinal));
            Assert.Equal(itemsTrained, changed.Any(name => name.StartsWith("items.", StringComparison.Ordinal)));
            Assert.Equal(itemsTrained, changed.Any(name => name.StartsWith("sequences.positions.", StringComparison.Ordinal)));
        }

        // The command line of issue 15: progressive unfreezing with EWC against the pre-training data.
        var ewc = Run(["train", "--interactions", seq, "--items", itemFile, "--negatives", "5", "--init-from", pre, "--fine-tune", "progressive",
            "--stage-epochs", "1", "--ewc", "100", "--ewc-interactions", seq, "--ewc-items", itemFile, "--ewc-batches", "2", .. TrainCommandTests.Tiny]);
        Assert.True(ewc.Code == 0, ewc.Err);
        Assert.Contains("EWC λ = 100, Fisher estimate over 2 batches", ewc.Err);
        var ewcWithoutData = Run(["train", "--interactions", seq, "--items", itemFile, "--init-from", pre, "--ewc", "100", .. TrainCommandTests.Tiny]);
        Assert.Equal(2, ewcWithoutData.Code);
        Assert.Contains("'--ewc-interactions'", ewcWithoutData.Err);

        // Without size options the fine-tune trains the pre-trained model's size, and its JSON and runs table say so.
        var runs = Path.Combine(t.Folder, "runs.csv");
        var unsized = Run(["train", "--interactions", seq, "--items", itemFile, "--negatives", "5", "--init-from", pre, "--runs", runs,
            "--epochs", "1", "--batch-size", "8", "--device", "cpu"]);
        Assert.True(unsized.Code == 0, unsized.Err);
        var unsizedJson = System.Text.Json.JsonDocument.Parse(unsized.Out).RootElement;
        var options = unsizedJson.GetProperty("options");
        Assert.Equal((1, 1, 16), (options.GetProperty("layers").GetInt32(), options.GetProperty("heads").GetInt32(), options.GetProperty("dimension").GetInt32()));
        Assert.Equal(json.GetProperty("flops").GetProperty("per_epoch").GetDouble(), unsizedJson.GetProperty("flops").GetProperty("per_epoch").GetDouble());
        var row = File.ReadAllLines(runs)[1];
        Assert.Contains("-1-1-16-x5-", row);

        var wider = Run(["train", "--interactions", seq, "--items", itemFile, "--negatives", "5", "--init-from", pre, .. TrainCommandTests.Tiny, "--dimension", "32"]);
        Assert.NotEqual(0, wider.Code);
        Assert.Contains("Dimension", wider.Err);
        Assert.Contains("InitialModel", wider.Err);

        var noModel = Run(["train", "--interactions", seq, "--items", itemFile, "--fine-tune", "progressive", .. TrainCommandTests.Tiny]);
        Assert.Equal(2, noModel.Code);
        Assert.Contains("'--fine-tune'", noModel.Err);
        var missing = Run(["train", "--interactions", seq, "--items", itemFile, "--init-from", Path.Combine(t.Folder, "none.zip"), .. TrainCommandTests.Tiny]);
        Assert.Equal(2, missing.Code);
        Assert.Contains("'--init-from'", missing.Err);
    }
}
