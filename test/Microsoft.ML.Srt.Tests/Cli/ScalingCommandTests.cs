using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Srt.Cli;
using Microsoft.ML.Srt.Scaling;
using Microsoft.ML.Srt.Tests.Api;

namespace Microsoft.ML.Srt.Tests.Cli;

/// <summary>srt train's FLOPs and runs table, srt benchmark matmul, and srt scaling run / fit / plan, on tiny data.</summary>
public class ScalingCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    /// <summary>48 users over 20 items in 4 themes, 4 to 9 interactions each (enough to sample 3 data sizes from).</summary>
    private static (string Sequences, string Items) Files(TempFiles t)
    {
        var lines = Enumerable.Range(0, 48).Select(u =>
        {
            int theme = u % 4;
            return $"u{u} " + string.Join(' ', Enumerable.Range(0, 4 + u % 6).Select(k => $"i{theme * 5 + (u + k) % 5}"));
        }).ToArray();
        var (_, items) = TrainCommandTests.TinyFiles();
        return (t.Write("s.txt", lines), t.Write("items.tsv", items));
    }

    [Fact]
    public void TrainReportsFlopsAndAppendsItsRunToARunsTable()
    {
        using var t = new TempFiles();
        var (seq, items) = Files(t);
        var runs = Path.Combine(t.Folder, "runs.csv");
        var (code, output, error) = Run(["train", "--interactions", seq, "--items", items, "--negatives", "5", "--runs", runs, "--run-name", "tiny-1",
            "--dataset-name", "tiny", "--max-minutes", "0", .. TrainCommandTests.Tiny]);
        Assert.True(code == 0, error);
        var json = Json(output);
        var flops = json.GetProperty("flops");
        double perEpoch = flops.GetProperty("per_epoch").GetDouble(), end = flops.GetProperty("end").GetDouble(), best = flops.GetProperty("best_epoch").GetDouble();
        Assert.True(perEpoch > 0);
        Assert.Equal(2 * perEpoch, end, 2 * perEpoch * 1e-3); // two whole epochs (4 significant digits in the JSON)
        Assert.Equal(json.GetProperty("best_epoch").GetInt32() * perEpoch, best, perEpoch * 1e-3);
        double seconds = flops.GetProperty("step_seconds").GetDouble();
        Assert.Equal(end / seconds / 1e9, json.GetProperty("achieved_gflops_per_second").GetDouble(), 1e-3 * end / seconds / 1e9 + 1e-6);

        var rows = SrtRunsTable.Read(runs);
        Assert.Equal(3, rows.Count); // two validations and the final row
        Assert.All(rows, r => Assert.Equal("tiny-1", r.RunId));
        Assert.All(rows, r => Assert.Equal("tiny", r.Dataset));
        Assert.Equal([1.0, 2.0], rows.Take(2).Select(r => r.Epoch));
        Assert.Equal(end, rows[1].Flops, end * 1e-3);
        Assert.Equal(json.GetProperty("ndcg@5").GetDouble(), rows[2].TestNdcg5!.Value, 1e-6);
        Assert.Equal(json.GetProperty("parameters").GetInt64(), rows[2].Parameters);
        Assert.Equal(json.GetProperty("data").GetProperty("train_interactions").GetInt64(), rows[2].Interactions);

        // A run name without a runs table is a usage error that names the option.
        var bad = Run(["train", "--interactions", seq, "--items", items, "--run-name", "x", .. TrainCommandTests.Tiny]);
        Assert.Equal(2, bad.Code);
        Assert.Contains("--runs", bad.Err);
    }

    [Fact]
    public void MatmulBenchmarkReportsEverySizeAndThePeak()
    {
        var (code, output, error) = Run("benchmark", "matmul", "--sizes", "32,64", "--repeats", "2", "--warmup", "1", "--threads", "1");
        Assert.True(code == 0, error);
        var json = Json(output);
        var sizes = json.GetProperty("sizes").EnumerateArray().ToList();
        Assert.Equal([32, 64], sizes.Select(s => s.GetProperty("n").GetInt32()));
        Assert.All(sizes, s => Assert.True(s.GetProperty("repeats").GetInt32() >= 2));
        Assert.All(sizes, s => Assert.True(s.GetProperty("best_gflops_per_second").GetDouble() >= s.GetProperty("median_gflops_per_second").GetDouble()));
        Assert.Equal(sizes.Max(s => s.GetProperty("best_gflops_per_second").GetDouble()), json.GetProperty("peak_gflops_per_second").GetDouble());
        Assert.Equal(1, json.GetProperty("threads").GetInt32());
        Assert.Equal(2, Run("benchmark", "matmul", "--sizes", "32,x").Code);
    }

    [Fact]
    public void ScalingRunTrainsTheGridAndResumesWhereItStopped()
    {
        using var t = new TempFiles();
        var (seq, items) = Files(t);
        var runs = Path.Combine(t.Folder, "runs.csv");
        string[] grid = ["scaling", "run", "--interactions", seq, "--items", items, "--runs", runs, "--dataset-name", "tiny",
            "--sizes", "1-1-8,1-1-16", "--data-sizes", "150,all", "--negatives", "5", "--epochs", "1", "--batch-size", "16", "--device", "cpu"];

        // The first invocation stops after one run; a cut-off attempt of the next one leaves a row behind.
        var first = Run([.. grid, "--max-runs", "1"]);
        Assert.True(first.Code == 0, first.Err);
        var firstJson = Json(first.Out);
        Assert.Equal(1, firstJson.GetProperty("done").GetInt32());
        Assert.Equal(3, firstJson.GetProperty("pending").GetInt32());
        var ids = firstJson.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("run_id").GetString()!).ToList();
        Assert.Equal(4, ids.Distinct().Count());
        var cutOff = SrtRunsTable.Read(runs)[0] with { RunId = ids[1], TestNdcg5 = null, TestHit5 = null, TestNdcg10 = null, ValidationNdcg5 = 0.999 };
        SrtRunsTable.Append(runs, cutOff);

        var second = Run(grid);
        Assert.True(second.Code == 0, second.Err);
        var statuses = Json(second.Out).GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("status").GetString()).ToList();
        Assert.Equal(["done", "trained", "trained", "trained"], statuses);

        var rows = SrtRunsTable.Read(runs);
        Assert.DoesNotContain(rows, r => r.ValidationNdcg5 == 0.999); // the cut-off attempt's row is gone
        foreach (var id in ids)
        {
            var run = rows.Where(r => r.RunId == id).ToList();
            Assert.Equal(2, run.Count); // one validation, one final row
            Assert.NotNull(run[1].TestNdcg5);
        }
        // The sampled data size trains on fewer interactions than all of them, and the same sample for both model sizes.
        var small = rows.Where(r => r.RunId.Contains("-t150-")).Select(r => r.Interactions).Distinct().ToList();
        var all = rows.Where(r => r.RunId.Contains("-tall-")).Select(r => r.Interactions).Distinct().ToList();
        Assert.Single(small);
        Assert.Single(all);
        Assert.True(small[0] < all[0]);
        Assert.Equal(2, rows.Select(r => r.Parameters).Distinct().Count());

        // Everything is done: a third invocation trains nothing and leaves the table as it was.
        var before = File.ReadAllText(runs);
        var third = Run(grid);
        Assert.True(third.Code == 0, third.Err);
        Assert.Equal(4, Json(third.Out).GetProperty("done").GetInt32());
        Assert.Equal(before, File.ReadAllText(runs));

        var badSize = Run([.. grid, "--sizes", "1-1-8,big"]);
        Assert.Equal(2, badSize.Code);
        Assert.Contains("--sizes", badSize.Err);
    }

    // The paper's eq. 5.
    private static readonly double[] Paper = [0.163, 18.56, 0.376, 2.9, 0.364];

    /// <summary>A CSV from another tool (its own column names): 6 × 6 runs from eq. 5 plus noise, 3 logged rows each.</summary>
    private static string Eq5Table(TempFiles t)
    {
        var random = new Random(5);
        var lines = new List<string> { "name,params,train_interactions,ndcg5,compute" };
        foreach (var n in new[] { 1e6, 3e6, 1e7, 3e7, 1e8, 3e8 })
            foreach (var tt in new[] { 1e5, 3e5, 1e6, 3e6, 1e7, 3e7 })
            {
                double law = Paper[0] - Paper[1] * Math.Pow(n, -Paper[2]) - Paper[3] * Math.Pow(tt, -Paper[4]);
                for (int epoch = 1; epoch <= 3; epoch++)
                {
                    // Earlier epochs are worse; the last is the run's best, at the law's value plus noise.
                    double metric = law - 0.01 * (3 - epoch) + 0.002 * (random.NextDouble() - 0.5) * 3.4;
                    lines.Add(string.Create(CultureInfo.InvariantCulture, $"r{n}-{tt},{n},{tt},{metric:R},{6 * n * tt * epoch:R}"));
                }
            }
        return t.Write("other-tool.csv", [.. lines]);
    }

    [Fact]
    public void ScalingFitReadsAnyColumnsRecoversEq5AndDrawsTheFigures()
    {
        using var t = new TempFiles();
        var table = Eq5Table(t);
        var fitPath = Path.Combine(t.Folder, "out", "fit.json");
        var plots = Path.Combine(t.Folder, "plots");
        var (code, output, error) = Run("scaling", "fit", "--runs", table, "--out", fitPath, "--plots", plots, "--n-column", "params",
            "--t-column", "train_interactions", "--metric-column", "ndcg5", "--flops-column", "compute", "--run-column", "name", "--bootstrap", "100");
        Assert.True(code == 0, error);
        Assert.Equal(output.Trim(), File.ReadAllText(fitPath).Trim());
        var fit = SrtScalingFit.FromJson(output);
        var law = fit.Eq4!;
        Assert.Equal(36, law.Points); // each run's best row
        var c = new[] { law.E, law.A, law.Alpha, law.B, law.Beta };
        for (int j = 0; j < 5; j++) Assert.True(c[j].Contains(Paper[j]), $"coefficient {j}: {Paper[j]} outside [{c[j].Low}, {c[j].High}]");
        Assert.Equal("params", fit.Columns.N);
        Assert.Equal("compute", fit.Columns.Flops);
        Assert.NotEmpty(fit.Envelope);
        foreach (var name in new[] { "metric-vs-flops.png", "metric-vs-n.png", "metric-vs-t.png", "law-surface.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(plots, name));
            Assert.True(bytes.Length > 1000, name);
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes.Take(4));
        }

        // Every row as a point.
        var all = Run("scaling", "fit", "--runs", table, "--n-column", "params", "--t-column", "train_interactions", "--metric-column", "ndcg5",
            "--flops-column", "compute", "--run-column", "name", "--bootstrap", "0", "--all-points");
        Assert.True(all.Code == 0, all.Err);
        Assert.Equal(108, SrtScalingFit.FromJson(all.Out).Eq4!.Points);

        // A column the table lacks: exit 1, naming the file and the column.
        var missing = Run("scaling", "fit", "--runs", table, "--bootstrap", "0");
        Assert.Equal(1, missing.Code);
        Assert.Contains("other-tool.csv", missing.Err);
        Assert.Contains("parameters", missing.Err);
    }

    [Fact]
    public void ScalingPlanSpendsTheBudgetInFlopsOrMinutes()
    {
        using var t = new TempFiles();
        var table = Eq5Table(t);
        var fitPath = Path.Combine(t.Folder, "fit.json");
        Assert.Equal(0, Run("scaling", "fit", "--runs", table, "--out", fitPath, "--n-column", "params", "--t-column", "train_interactions",
            "--metric-column", "ndcg5", "--flops-column", "compute", "--run-column", "name", "--bootstrap", "50").Code);

        var (code, output, error) = Run("scaling", "plan", "--fit", fitPath, "--flops", "1e16");
        Assert.True(code == 0, error);
        var plan = Json(output);
        double n = plan.GetProperty("n").GetDouble(), tt = plan.GetProperty("t").GetDouble();
        Assert.Equal(1e16, 6 * n * tt, 1e16 * 1e-9); // C = k·N·T·epochs with k = 6, one epoch
        var metric = plan.GetProperty("metric");
        Assert.InRange(metric.GetProperty("value").GetDouble(), metric.GetProperty("low").GetDouble(), metric.GetProperty("high").GetDouble());
        Assert.Contains(plan.GetProperty("preset").GetString()!, SrtPresets());
        Assert.DoesNotContain(plan.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("extrapolates"));
        // The fitted runs spent about 2e12 to 2e17 FLOPs: a budget of 1e20 is flagged as an extrapolation.
        var far = Run("scaling", "plan", "--fit", fitPath, "--flops", "1e20");
        Assert.Equal(0, far.Code);
        Assert.Contains(Json(far.Out).GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("extrapolates"));
        Assert.Contains("extrapolates", far.Err);

        // 10 minutes at 50 GFLOP/s is 3e13 FLOPs, from --gflops or from an srt train JSON.
        var train = t.Write("train.json", "{\"ndcg@5\": 0.01, \"achieved_gflops_per_second\": 50}");
        foreach (var source in new[] { new[] { "--gflops", "50" }, new[] { "--train-json", train } })
        {
            var minutes = Run(["scaling", "plan", "--fit", fitPath, "--minutes", "10", .. source]);
            Assert.True(minutes.Code == 0, minutes.Err);
            var budget = Json(minutes.Out).GetProperty("budget");
            Assert.Equal(3e13, budget.GetProperty("flops").GetDouble(), 1e13 * 1e-9);
            Assert.Equal(3e13, Json(minutes.Out).GetProperty("flops").GetDouble(), 1e13 * 1e-9);
        }

        Assert.Equal(2, Run("scaling", "plan", "--fit", fitPath, "--flops", "1e16", "--minutes", "3").Code);
        Assert.Equal(2, Run("scaling", "plan", "--fit", fitPath, "--minutes", "3").Code);
        var noGflops = Run("scaling", "plan", "--fit", fitPath, "--minutes", "3", "--train-json", t.Write("old.json", "{\"ndcg@5\": 0.01}"));
        Assert.Equal(1, noGflops.Code);
        Assert.Contains("achieved_gflops_per_second", noGflops.Err);
    }

    private static HashSet<string> SrtPresets() => Microsoft.ML.Srt.Training.SrtPresets.All.Keys.ToHashSet(StringComparer.OrdinalIgnoreCase);

    [Fact]
    public void HelpListsTheScalingCommands()
    {
        var (code, help, _) = Run("scaling", "--help");
        Assert.Equal(0, code);
        foreach (var command in new[] { "run", "fit", "plan" })
            Assert.Matches($@"\n\s+{command}\s+\S", help);
        Assert.Equal(2, Run("scaling").Code);
        Assert.Matches(@"\n\s+matmul\s+\S", Run("benchmark", "--help").Out);
    }
}
