using System.Text.Json;
using Microsoft.ML.Srt.Cli;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Api;

namespace Microsoft.ML.Srt.Tests.Cli;

public class EvaluateCommandTests
{
    private static readonly string[] MetricKeys = ["ndcg@5", "hit@5", "ndcg@10", "hit@10", "ndcg@20", "hit@20", "mrr", "users"];

    /// <summary>Runs <c>srt train</c> or <c>srt evaluate</c> with progress kept off the console.</summary>
    private static (int Code, JsonElement Json, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, code == 0 ? JsonDocument.Parse(output.ToString()).RootElement : default, error.ToString());
    }

    private static (string Sequences, string Items) Files(TempFiles t)
    {
        var (sequences, items) = TrainCommandTests.TinyFiles();
        return (t.Write("s.txt", sequences), t.Write("items.tsv", items));
    }

    [Theory]
    [InlineData("text")]
    [InlineData("id")]
    public void ReproducesTheMetricsThatTrainReportedForTheSavedModel(string representation)
    {
        using var t = new TempFiles();
        var (seq, items) = Files(t);
        var model = Path.Combine(t.Folder, "model.zip");
        var trained = Run(["train", "--interactions", seq, "--items", items, "--negatives", "5", "--representation", representation, "--model", model, .. TrainCommandTests.Tiny]);
        Assert.Equal(0, trained.Code);

        var metricsPath = Path.Combine(t.Folder, "eval.json");
        var evaluated = Run("evaluate", "--model", model, "--interactions", seq, "--items", items, "--device", "cpu", "--metrics-json", metricsPath);
        Assert.Equal(0, evaluated.Code);
        foreach (var key in MetricKeys)
            Assert.Equal(trained.Json.GetProperty(key).GetDouble(), evaluated.Json.GetProperty(key).GetDouble());
        Assert.Equal("full", evaluated.Json.GetProperty("protocol").GetString());
        Assert.False(evaluated.Json.GetProperty("history_masked").GetBoolean());
        Assert.Equal("pessimistic", evaluated.Json.GetProperty("ties").GetString());
        Assert.True(evaluated.Json.GetProperty("seconds").GetDouble() >= 0);
        Assert.Equal(20, evaluated.Json.GetProperty("items").GetInt32());
        Assert.Equal(evaluated.Json.ToString(), JsonDocument.Parse(File.ReadAllText(metricsPath)).RootElement.ToString());

        // Without the item file the ids are matched to the model's catalog all the same.
        var idsOnly = Run("evaluate", "--model", model, "--interactions", seq, "--device", "cpu");
        Assert.Equal(0, idsOnly.Code);
        Assert.Equal(trained.Json.GetProperty("mrr").GetDouble(), idsOnly.Json.GetProperty("mrr").GetDouble());

        // Sampled negatives with the history masked: reproducible by seed, and never worse than full ranking.
        string[] sampled = ["evaluate", "--model", model, "--interactions", seq, "--device", "cpu", "--protocol", "sampled:5", "--mask-history", "--seed", "3"];
        var first = Run(sampled);
        Assert.Equal(0, first.Code);
        Assert.Equal("sampled:5", first.Json.GetProperty("protocol").GetString());
        Assert.Equal(5, first.Json.GetProperty("negatives").GetInt32());
        Assert.True(first.Json.GetProperty("history_masked").GetBoolean());
        Assert.Equal(first.Json.GetProperty("mrr").GetDouble(), Run(sampled).Json.GetProperty("mrr").GetDouble());
        Assert.True(first.Json.GetProperty("mrr").GetDouble() >= trained.Json.GetProperty("mrr").GetDouble());
    }

    [Fact]
    public void PopularityBaselineNeedsNoModel()
    {
        using var t = new TempFiles();
        var (seq, items) = Files(t);
        var result = Run("evaluate", "--baseline", "popularity", "--interactions", seq, "--items", items, "--ks", "1,3", "--mask-history");
        Assert.Equal(0, result.Code);
        Assert.Equal("popularity", result.Json.GetProperty("baseline").GetString());

        // The same numbers from the library: popularity fitted on the training split, the test split masked.
        var data = InteractionFileLoader.Load(new InteractionFileLoader.Options { InteractionsPath = seq, ItemsPath = items });
        var split = UserSplits.LeaveOneOut(data);
        var expected = NextItemEvaluator.Evaluate(PopularityRecommender.Fit(split.Train), split.Test, new SrtEvaluationOptions { Ks = [1, 3], MaskHistory = true });
        Assert.Equal(Math.Round(expected.Ndcg[3], 6), result.Json.GetProperty("ndcg@3").GetDouble());
        Assert.Equal(Math.Round(expected.Hit[1], 6), result.Json.GetProperty("hit@1").GetDouble());
        Assert.Equal(Math.Round(expected.Mrr, 6), result.Json.GetProperty("mrr").GetDouble());
        Assert.False(result.Json.TryGetProperty("ndcg@10", out _));
    }

    [Fact]
    public void UnknownItemsAndBadOptionsAreClearErrors()
    {
        using var t = new TempFiles();
        var (seq, items) = Files(t);
        var model = Path.Combine(t.Folder, "model.zip");
        Assert.Equal(0, Run(["train", "--interactions", seq, "--items", items, "--negatives", "5", "--model", model, .. TrainCommandTests.Tiny]).Code);

        // An item the model's catalog lacks: an error naming the file and the item, or dropped on request.
        var extra = t.Write("extra.txt", [.. File.ReadAllLines(seq), "u99 i1 i2 new-item"]);
        var unknown = Run("evaluate", "--model", model, "--interactions", extra, "--device", "cpu");
        Assert.Equal(1, unknown.Code);
        Assert.Contains(extra, unknown.Error);
        Assert.Contains("'new-item'", unknown.Error);
        var dropped = Run("evaluate", "--model", model, "--interactions", extra, "--device", "cpu", "--unknown-items", "drop");
        Assert.Equal(0, dropped.Code);
        Assert.Equal(1, dropped.Json.GetProperty("dropped_unknown_item_interactions").GetInt32());

        Assert.Equal(2, Run("evaluate", "--interactions", seq).Code); // neither --model nor --baseline
        Assert.Equal(2, Run("evaluate", "--interactions", seq, "--model", model, "--baseline", "popularity").Code);
        var badProtocol = Run("evaluate", "--interactions", seq, "--model", model, "--protocol", "sampled:0");
        Assert.Equal(2, badProtocol.Code);
        Assert.Contains("--protocol", badProtocol.Error);
        Assert.Equal(2, Run("evaluate", "--interactions", seq, "--model", model, "--ks", "5,x").Code);
        var foreign = t.Write("foreign.zip", "not a zip");
        var notAModel = Run("evaluate", "--interactions", seq, "--model", foreign, "--device", "cpu");
        Assert.Equal(1, notAModel.Code);
        Assert.Contains("not a valid SRT model file", notAModel.Error);
    }
}
