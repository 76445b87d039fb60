using System.Text.Json;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Api;
using Microsoft.ML.Srt.Tests.Data;

namespace Microsoft.ML.Srt.Tests.Cli;

/// <summary>Pre-training on several data sets with <c>srt train</c>, and ranking a catalog the model never saw with <c>srt evaluate</c>.</summary>
public class TransferCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    /// <summary>A second tiny data set with the same ids as <see cref="TrainCommandTests.TinyFiles"/> but other items.</summary>
    private static (string[] Sequences, string[] Items) OtherTinyFiles()
    {
        var (sequences, _) = TrainCommandTests.TinyFiles();
        string[] themes = ["board game family", "puzzle wooden kids", "toy car remote", "doll house pink"];
        var items = new[] { "item_id\ttitle" }.Concat(Enumerable.Range(0, 20).Select(i => $"i{i}\t{themes[i / 5]} number {i % 5}")).ToArray();
        return (sequences, items);
    }

    [Fact]
    public void TrainReadsSeveralDataSetsAndEvaluateRanksANewCatalogZeroShot()
    {
        using var t = new TempFiles();
        var (beautySeq, beautyItems) = TrainCommandTests.TinyFiles();
        var (toysSeq, toysItems) = OtherTinyFiles();
        Directory.CreateDirectory(Path.Combine(t.Folder, "beauty"));
        Directory.CreateDirectory(Path.Combine(t.Folder, "toys"));
        Directory.CreateDirectory(Path.Combine(t.Folder, "games"));
        var games = (t.Write("games/s.txt", beautySeq), t.Write("games/items.tsv", beautyItems.Select(l => l.Replace("lipstick", "joystick")).ToArray()));
        var toys = (t.Write("toys/s.txt", toysSeq), t.Write("toys/items.tsv", toysItems));
        var beauty = (t.Write("beauty/s.txt", beautySeq), t.Write("beauty/items.tsv", beautyItems));
        var pre = Path.Combine(t.Folder, "pre.zip");

        var trained = Run(["train", "--interactions", games.Item1, "--items", games.Item2, "--interactions", toys.Item1, "--items", toys.Item2,
            "--negatives", "5", "--model", pre, .. TrainCommandTests.Tiny]);
        Assert.True(trained.Code == 0, trained.Err);
        Assert.Contains("Training on 2 data sets at once: games, toys", trained.Err);
        var json = JsonDocument.Parse(trained.Out).RootElement;
        Assert.Equal(48, json.GetProperty("data").GetProperty("users").GetInt32());
        Assert.Equal(40, json.GetProperty("data").GetProperty("items").GetInt32());
        Assert.Equal(["games", "toys"], json.GetProperty("data").GetProperty("sources").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        using (var model = SrtModel.Load(pre, "cpu"))
        {
            Assert.True(model.Catalog.TryGetIndex("games:i3", out _));
            Assert.True(model.Catalog.TryGetIndex("toys:i3", out _));
            Assert.False(model.Catalog.TryGetIndex("i3", out _));
        }

        // Zero-shot: the pre-trained model ranks Beauty's own catalog, read through its featurizer, with no training.
        var zeroShot = Run("evaluate", "--model", pre, "--interactions", beauty.Item1, "--items", beauty.Item2, "--ks", "5,10");
        Assert.True(zeroShot.Code == 0, zeroShot.Err);
        var metrics = JsonDocument.Parse(zeroShot.Out).RootElement;
        Assert.Equal("data", metrics.GetProperty("catalog").GetString());
        Assert.Equal(20, metrics.GetProperty("items").GetInt32());
        Assert.Equal(24, metrics.GetProperty("users").GetInt32());
        Assert.InRange(metrics.GetProperty("hit@10").GetDouble(), 0, 1);
        Assert.Contains("Ranking over the data's own catalog of 20 items", zeroShot.Err);

        // The pre-trained item encoder alone: similarity to the history's last item.
        var lastItem = Run("evaluate", "--model", pre, "--interactions", beauty.Item1, "--items", beauty.Item2, "--ks", "5,10", "--scorer", "last-item");
        Assert.True(lastItem.Code == 0, lastItem.Err);
        var lastItemMetrics = JsonDocument.Parse(lastItem.Out).RootElement;
        Assert.Equal("last-item", lastItemMetrics.GetProperty("scorer").GetString());
        Assert.Equal(24, lastItemMetrics.GetProperty("users").GetInt32());
        Assert.NotEqual(metrics.GetProperty("mrr").GetDouble(), lastItemMetrics.GetProperty("mrr").GetDouble());

        // A model of one catalog numbered like Beauty (the same ids, other titles): auto sees the other text and ranks
        // Beauty's own catalog; on its own data it keeps its catalog.
        var gamesOnly = Path.Combine(t.Folder, "games.zip");
        Assert.Equal(0, Run(["train", "--interactions", games.Item1, "--items", games.Item2, "--negatives", "5", "--model", gamesOnly, .. TrainCommandTests.Tiny]).Code);
        var alike = Run("evaluate", "--model", gamesOnly, "--interactions", beauty.Item1, "--items", beauty.Item2);
        Assert.True(alike.Code == 0, alike.Err);
        Assert.Equal("data", JsonDocument.Parse(alike.Out).RootElement.GetProperty("catalog").GetString());
        var own = Run("evaluate", "--model", gamesOnly, "--interactions", games.Item1, "--items", games.Item2);
        Assert.True(own.Code == 0, own.Err);
        Assert.Equal("model", JsonDocument.Parse(own.Out).RootElement.GetProperty("catalog").GetString());

        // --catalog model keeps the model's catalog, where Beauty's ids are unknown: the error says so.
        var onModel = Run("evaluate", "--model", pre, "--interactions", beauty.Item1, "--items", beauty.Item2, "--catalog", "model");
        Assert.NotEqual(0, onModel.Code);
        Assert.Contains("is not in the model's catalog", onModel.Err);
    }

    [Fact]
    public void SeveralDataSetsAreRefusedWhereOneIsReadAndItemsMustPair()
    {
        using var t = new TempFiles();
        var (seq, items) = TrainCommandTests.TinyFiles();
        var s = t.Write("s.txt", seq);
        var i = t.Write("items.tsv", items);
        var evaluate = Run("evaluate", "--baseline", "popularity", "--interactions", s, "--interactions", s);
        Assert.Equal(2, evaluate.Code);
        Assert.Contains("option '--interactions' is given 2 times; this command reads one data set", evaluate.Err);
        var unpaired = Run(["train", "--interactions", s, "--interactions", s, "--items", i, .. TrainCommandTests.Tiny]);
        Assert.Equal(2, unpaired.Code);
        Assert.Contains("option '--items' needs one file per '--interactions', in the same order, or none; got 1 for 2.", unpaired.Err);
        var badScorer = Run("evaluate", "--baseline", "popularity", "--interactions", s, "--scorer", "last-item");
        Assert.Equal(2, badScorer.Code);
        Assert.Contains("'--scorer'", badScorer.Err);
        var badCatalog = Run("evaluate", "--baseline", "popularity", "--interactions", s, "--catalog", "data");
        Assert.Equal(2, badCatalog.Code);
        Assert.Contains("'--catalog'", badCatalog.Err);
    }
}
