using System.Diagnostics;
using Microsoft.ML.Srt.Scaling;
using Xunit.Abstractions;

namespace Microsoft.ML.Srt.Tests.Scaling;

public class ScalingFitTests(ITestOutputHelper output)
{
    // The paper's eq. 5.
    private static readonly double[] Paper = { 0.163, 18.56, 0.376, 2.9, 0.364 };

    private static double Law(double n, double t) => Paper[0] - Paper[1] * Math.Pow(n, -Paper[2]) - Paper[3] * Math.Pow(t, -Paper[4]);

    private static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    /// <summary>Runs on a grid of model sizes × data sizes (the paper's ranges), each with a noisy metric: one point per run.</summary>
    private static List<SrtScalingPoint> Eq5Runs(double[] ns, double[] ts, int repeats, double noise, int seed)
    {
        var random = new Random(seed);
        var points = new List<SrtScalingPoint>();
        foreach (var n in ns)
            foreach (var t in ts)
                for (int k = 0; k < repeats; k++)
                    points.Add(new SrtScalingPoint($"{n}-{t}-{k}", n, t, Law(n, t) + noise * Gaussian(random), 6 * n * t));
        return points;
    }

    private static readonly double[] Sizes = { 1e6, 3e6, 1e7, 3e7, 1e8, 3e8 };
    private static readonly double[] DataSizes = { 1e5, 3e5, 1e6, 3e6, 1e7, 3e7 };

    [Fact]
    public void Eq4RecoversEq5InsideItsIntervals()
    {
        var runs = Eq5Runs(Sizes, DataSizes, repeats: 2, noise: 0.002, seed: 12);
        var fit = SrtScalingFitter.Fit(runs, new SrtScalingFitOptions { BootstrapSamples = 200, Seed = 12 });
        var eq4 = fit.Eq4!;
        output.WriteLine(fit.ToJson().Split("\"bootstrap\"")[0]);
        var names = new[] { "E", "A", "alpha", "B", "beta" };
        var c = new[] { eq4.E, eq4.A, eq4.Alpha, eq4.B, eq4.Beta };
        for (int j = 0; j < 5; j++)
        {
            Assert.True(c[j].Contains(Paper[j]), $"{names[j]} = {Paper[j]} outside [{c[j].Low}, {c[j].High}] (estimate {c[j].Value})");
            Assert.True(c[j].Low <= c[j].Value && c[j].Value <= c[j].High, $"{names[j]}'s estimate lies outside its own interval");
        }
        Assert.InRange(eq4.Rmse, 0.001, 0.003); // the noise is 0.002
        Assert.Equal(runs.Count, eq4.Points);
        Assert.DoesNotContain(fit.Warnings, w => w.StartsWith("eq4", StringComparison.Ordinal));
    }

    /// <summary>
    /// The intervals are honest, not just lucky on one data set: over 20 noise draws each coefficient's 95% interval holds
    /// the truth at least 16 times (a percentile bootstrap covers a little under 95%: 90-95% per coefficient over 40 draws).
    /// </summary>
    [Fact]
    public void Eq4IntervalsCoverTheTruthMostOfTheTime()
    {
        var hits = new int[5];
        for (int seed = 100; seed < 120; seed++)
        {
            var f = SrtScalingFitter.Fit(Eq5Runs(Sizes, DataSizes, 2, 0.002, seed), new SrtScalingFitOptions { BootstrapSamples = 100, Seed = seed }).Eq4!;
            var c = new[] { f.E, f.A, f.Alpha, f.B, f.Beta };
            for (int j = 0; j < 5; j++) if (c[j].Contains(Paper[j])) hits[j]++;
        }
        output.WriteLine($"covered out of 20: {string.Join(", ", hits)}");
        Assert.All(hits, h => Assert.InRange(h, 16, 20));
    }

    /// <summary>A noiseless law is recovered to within rounding: the fitting itself (starts, bounds, scaling) loses nothing.</summary>
    [Fact]
    public void Eq4RecoversANoiselessLawExactly()
    {
        var fit = SrtScalingFitter.Fit(Eq5Runs(Sizes, DataSizes, 1, 0, 1), new SrtScalingFitOptions { BootstrapSamples = 0 }).Eq4!;
        Assert.Equal(Paper[0], fit.E.Value, 1e-4);
        Assert.Equal(Paper[2], fit.Alpha.Value, 1e-3);
        Assert.Equal(Paper[4], fit.Beta.Value, 1e-3);
        Assert.Equal(1, fit.A.Value / Paper[1], 1e-2);
        Assert.Equal(1, fit.B.Value / Paper[3], 1e-2);
        Assert.True(fit.Rmse < 1e-6, $"rmse {fit.Rmse}");
    }

    /// <summary>Runs whose best metrics follow a logistic in ln FLOPs: per FLOPs bin one run near the curve (noisy), others well below.</summary>
    private static List<SrtScalingPoint> SigmoidRuns(double[] p, int seed, double noise)
    {
        var random = new Random(seed);
        var points = new List<SrtScalingPoint>();
        int bins = 24; // 6 decades, 4 bins per decade
        for (int b = 0; b < bins; b++)
        {
            double flops = Math.Pow(10, 12 + (b + 0.5) / 4.0);
            double top = p[0] + (p[1] - p[0]) / (1 + Math.Exp(-p[2] * (Math.Log(flops) - p[3])));
            points.Add(new SrtScalingPoint($"best-{b}", 1e6, 1e6, top + noise * Gaussian(random), flops));
            for (int k = 0; k < 3; k++)
                points.Add(new SrtScalingPoint($"other-{b}-{k}", 1e6, 1e6, top - 0.01 - 0.03 * random.NextDouble(), flops * (1 + 0.25 * random.NextDouble())));
        }
        return points;
    }

    [Fact]
    public void SigmoidRecoversItsCurveInsideItsIntervals()
    {
        var truth = new[] { 0.01, 0.06, 0.35, Math.Log(1e15) };
        var fit = SrtScalingFitter.Fit(SigmoidRuns(truth, 5, 0.0015), new SrtScalingFitOptions { BootstrapSamples = 200, Seed = 2 });
        var s = fit.Sigmoid!;
        var c = new[] { s.Lower, s.Upper, s.Slope, s.Midpoint };
        var names = new[] { "lower", "upper", "slope", "midpoint" };
        output.WriteLine(fit.ToJson());
        for (int j = 0; j < 4; j++)
            Assert.True(c[j].Contains(truth[j]), $"{names[j]} = {truth[j]} outside [{c[j].Low}, {c[j].High}] (estimate {c[j].Value})");
        Assert.Equal(24, s.Points);
        Assert.True(s.Rmse < fit.Linear!.Rmse, $"sigmoid rmse {s.Rmse} vs linear {fit.Linear.Rmse}: a logistic should beat a line on a logistic");
        Assert.Equal(24, fit.Envelope.Count);
        Assert.All(fit.Envelope, e => Assert.True(e.Metric >= 0.0 && e.Metric < 0.07));
    }

    [Fact]
    public void FittingAThousandRunsTakesUnderTenSeconds()
    {
        var random = new Random(4);
        var runs = new List<SrtScalingPoint>();
        for (int i = 0; i < 1000; i++)
        {
            double n = Sizes[random.Next(Sizes.Length)], t = DataSizes[random.Next(DataSizes.Length)];
            runs.Add(new SrtScalingPoint($"run-{i}", n, t, Law(n, t) + 0.002 * Gaussian(random), 6 * n * t * (1 + random.NextDouble())));
        }
        var watch = Stopwatch.StartNew();
        var fit = SrtScalingFitter.Fit(runs);
        watch.Stop();
        output.WriteLine($"1,000 runs fitted in {watch.Elapsed.TotalSeconds:F2} s with {fit.Eq4!.Bootstrap.Count} bootstrap refits");
        Assert.True(watch.Elapsed.TotalSeconds < 10, $"{watch.Elapsed.TotalSeconds:F1} s");
        Assert.NotNull(fit.Sigmoid);
        Assert.True(fit.Eq4.Alpha.Contains(Paper[2]), $"alpha interval [{fit.Eq4.Alpha.Low}, {fit.Eq4.Alpha.High}]");
    }

    [Fact]
    public void ADegenerateGridWarns()
    {
        // One model size: A and alpha cannot be told apart from E.
        var fit = SrtScalingFitter.Fit(Eq5Runs(new[] { 1e7 }, DataSizes, 3, 0.002, 6), new SrtScalingFitOptions { BootstrapSamples = 50 });
        Assert.Contains(fit.Warnings, w => w.Contains("distinct value(s) of N", StringComparison.Ordinal));
        Assert.Contains(fit.Warnings, w => w.Contains("at its bound", StringComparison.Ordinal) || w.Contains("orders of magnitude", StringComparison.Ordinal));
        // And the healthy grid gives neither.
        var healthy = SrtScalingFitter.Fit(Eq5Runs(Sizes, DataSizes, 2, 0.002, 6), new SrtScalingFitOptions { BootstrapSamples = 50 });
        Assert.DoesNotContain(healthy.Warnings, w => w.Contains("distinct", StringComparison.Ordinal));
    }

    [Fact]
    public void TooFewPointsGiveNoFitButAWarning()
    {
        var fit = SrtScalingFitter.Fit(Eq5Runs(new[] { 1e6, 1e7 }, new[] { 1e5, 1e6 }, 1, 0, 1));
        Assert.Null(fit.Eq4);
        Assert.Null(fit.Sigmoid);
        Assert.Contains(fit.Warnings, w => w.StartsWith("eq4: 4 points", StringComparison.Ordinal));
    }

    [Fact]
    public void EachRunContributesItsBestRowUnlessAllPoints()
    {
        var dir = Directory.CreateTempSubdirectory("srt-fit-");
        try
        {
            var path = Path.Combine(dir.FullName, "mlflow.csv");
            File.WriteAllLines(path, new[]
            {
                "name,params,data,ndcg,compute",
                "a,1000000,100000,0.01,1e12",
                "a,1000000,100000,0.03,2e12",
                "b,2000000,100000,0.02,5e12",
                "c,2000000,100000,,4e12", // no metric: skipped
            });
            var options = new SrtScalingFitOptions { NColumn = "params", TColumn = "data", MetricColumn = "ndcg", FlopsColumn = "compute", RunColumn = "name" };
            var points = SrtScalingFitter.ReadPoints(path, options);
            Assert.Equal(3, points.Count);
            var fit = SrtScalingFitter.Fit(points, options);
            Assert.Equal(new[] { 0.03, 0.02 }, fit.Envelope.OrderBy(e => e.Flops).Select(e => e.Metric));
            options.AllPoints = true;
            Assert.Equal(3, SrtScalingFitter.Fit(points, options).Envelope.Count);
            Assert.Equal("params", fit.Columns.N);

            File.AppendAllText(path, "d,2000000,oops,0.02,1e12\n");
            var e = Assert.Throws<Microsoft.ML.Srt.Data.SrtDataException>(() => SrtScalingFitter.ReadPoints(path, options));
            Assert.Equal(6, e.Line);
            Assert.Equal("data", e.Field);
            options.NColumn = "parameters";
            var missing = Assert.Throws<Microsoft.ML.Srt.Data.SrtDataException>(() => SrtScalingFitter.ReadPoints(path, options));
            Assert.Equal("parameters", missing.Field);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void TheFitRoundTripsThroughJsonAndThePlanIsComputeOptimal()
    {
        var fit = SrtScalingFitter.Fit(Eq5Runs(Sizes, DataSizes, 2, 0.002, 8), new SrtScalingFitOptions { BootstrapSamples = 100 });
        var json = fit.ToJson();
        foreach (var key in new[] { "\"eq4\"", "\"E\"", "\"A\"", "\"alpha\"", "\"B\"", "\"beta\"", "\"rmse\"", "\"points\"", "\"sigmoid\"", "\"linear\"", "\"columns\"", "\"warnings\"", "\"value\"", "\"low\"", "\"high\"" })
            Assert.Contains(key, json);
        var back = SrtScalingFit.FromJson(json);
        Assert.Equal(fit.Eq4!.Alpha, back.Eq4!.Alpha);
        Assert.Equal(fit.Eq4.Bootstrap.Count, back.Eq4.Bootstrap.Count);

        const double budget = 1e17;
        var plan = SrtComputePlanner.Plan(back, budget);
        Assert.Equal(budget, 6 * plan.N * plan.T, budget * 1e-9);
        // Moving along the budget in either direction loses metric.
        foreach (var factor in new[] { 0.7, 1.4 })
            Assert.True(back.Eq4.Predict(plan.N * factor, plan.T / factor) < plan.Metric.Value, $"x{factor} did better than the plan");
        Assert.True(plan.Metric.Low <= plan.Metric.Value && plan.Metric.Value <= plan.Metric.High);
        Assert.Contains(plan.Preset, Microsoft.ML.Srt.Training.SrtPresets.All.Keys);
        Assert.True(plan.PresetMetric.Value <= plan.Metric.Value + 1e-12, "a preset cannot beat the optimum on the same budget");
    }
}
