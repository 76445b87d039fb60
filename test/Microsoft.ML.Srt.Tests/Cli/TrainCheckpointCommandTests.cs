using System.Text.Json;
using Microsoft.ML.Srt.Tests.Api;

namespace Microsoft.ML.Srt.Tests.Cli;

/// <summary><c>srt train --checkpoint FILE --resume</c>: the same command, run again, continues or (when finished) returns at once.</summary>
public class TrainCheckpointCommandTests
{
    [Fact]
    public void TheSameCommandRunTwiceResumesTheFinishedRunWithTheSameMetrics()
    {
        using var t = new TempFiles();
        var (sequences, items) = TrainCommandTests.TinyFiles();
        var seq = t.Write("s.txt", sequences);
        var itemFile = t.Write("items.tsv", items);
        var checkpoint = Path.Combine(t.Folder, "ck", "run.ckpt"); // its folder is created
        string[] command = ["train", "--interactions", seq, "--items", itemFile, "--negatives", "5", "--max-minutes", "0",
            "--checkpoint", checkpoint, "--resume", .. TrainCommandTests.Tiny];

        var first = CliRun.Run(command);
        Assert.True(first.Code == 0, first.Err);
        Assert.Contains("no checkpoint at", first.Err);
        Assert.True(File.Exists(checkpoint));

        var second = CliRun.Run(command);
        Assert.True(second.Code == 0, second.Err);
        Assert.Contains("holds a finished run (epochs after epoch 2)", second.Err);
        Assert.DoesNotContain("epoch   1/2", second.Err); // nothing trained again
        using var a = JsonDocument.Parse(first.Out);
        using var b = JsonDocument.Parse(second.Out);
        foreach (var key in new[] { "ndcg@5", "hit@5", "ndcg@10", "hit@10", "mrr", "epochs", "best_epoch", "stop_reason" })
            Assert.Equal(a.RootElement.GetProperty(key).ToString(), b.RootElement.GetProperty(key).ToString());
        Assert.Equal(a.RootElement.GetProperty("train_loss").ToString(), b.RootElement.GetProperty("train_loss").ToString());

        // Another size is refused, naming what differs and the file.
        var wider = CliRun.Run([.. command, "--dimension", "32"]);
        Assert.Equal(1, wider.Code);
        Assert.Contains("dimension: 16 in the checkpoint, 32 now", wider.Err);
        Assert.Contains(checkpoint, wider.Err);

        var noFile = CliRun.Run(["train", "--interactions", seq, "--items", itemFile, "--resume", .. TrainCommandTests.Tiny]);
        Assert.Equal(2, noFile.Code);
        Assert.Contains("'--resume' needs '--checkpoint'", noFile.Err);
    }
}
