using System.Globalization;
using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>
/// Fits the scaling study (docs/scaling.md, "Fitting"): the paper's eq. 4 over (N, T) by bounded non-linear least squares
/// from several starting points, and the envelope of metric against FLOPs with a sigmoid and a line in ln FLOPs. Every
/// coefficient gets a 95% interval from a seeded bootstrap over runs.
/// </summary>
public static class SrtScalingFitter
{
    private static readonly string[] Eq4Names = { "E", "a", "alpha", "b", "beta" };
    private static readonly string[] SigmoidNames = { "lower", "upper", "slope", "midpoint" };

    /// <summary>Fits a table with the chosen columns (a runs table, or any CSV with a header: see <see cref="SrtScalingFitOptions"/>).</summary>
    public static SrtScalingFit FitCsv(string path, SrtScalingFitOptions? options = null)
    {
        options ??= new SrtScalingFitOptions();
        return Fit(ReadPoints(path, options), options);
    }

    /// <summary>
    /// Reads every row of a CSV as a point: N, T, metric and FLOPs from the columns named in <paramref name="options"/>. Rows
    /// whose metric is empty are skipped (a runs table's validation rows have no test metric); an empty FLOPs value is NaN.
    /// A missing column or a bad number throws <see cref="SrtDataException"/> naming the file, line and column.
    /// </summary>
    public static IReadOnlyList<SrtScalingPoint> ReadPoints(string path, SrtScalingFitOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(options);
        var (header, records) = CsvTable.Read(path);
        int Column(string name, bool required)
        {
            int i = Array.IndexOf(header, name);
            if (i < 0 && required)
                throw new SrtDataException(path, 1, name, $"no such column (columns: {string.Join(", ", header)}); choose another with the column options.");
            return i;
        }
        int n = Column(options.NColumn, true), t = Column(options.TColumn, true), metric = Column(options.MetricColumn, true);
        int flops = Column(options.FlopsColumn, false), run = Column(options.RunColumn, false);
        var points = new List<SrtScalingPoint>();
        foreach (var (line, fields) in records)
        {
            var m = CsvTable.ParseNumber(fields[metric], path, line, options.MetricColumn);
            if (m is null) continue;
            double Positive(int i, string name)
            {
                var v = CsvTable.ParseNumber(fields[i], path, line, name) ?? throw new SrtDataException(path, line, name, "a value is required.");
                if (!(v > 0) || double.IsInfinity(v)) throw new SrtDataException(path, line, name, $"'{fields[i].Trim()}' must be a positive number.");
                return v;
            }
            if (double.IsInfinity(m.Value)) throw new SrtDataException(path, line, options.MetricColumn, $"'{fields[metric].Trim()}' is not finite.");
            double f = flops < 0 ? double.NaN : CsvTable.ParseNumber(fields[flops], path, line, options.FlopsColumn) ?? double.NaN;
            if (f < 0) throw new SrtDataException(path, line, options.FlopsColumn, $"'{fields[flops].Trim()}' is negative.");
            var id = run < 0 ? line.ToString(CultureInfo.InvariantCulture) : fields[run].Trim();
            points.Add(new SrtScalingPoint(id, Positive(n, options.NColumn), Positive(t, options.TColumn), m.Value, f));
        }
        return points;
    }

    /// <summary>Fits <paramref name="points"/>: each run contributes its best point unless <see cref="SrtScalingFitOptions.AllPoints"/>.</summary>
    public static SrtScalingFit Fit(IReadOnlyList<SrtScalingPoint> points, SrtScalingFitOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(points);
        options ??= new SrtScalingFitOptions();
        if (options.BootstrapSamples < 0) throw new ArgumentOutOfRangeException(nameof(options), "BootstrapSamples must be 0 or more.");
        if (options.BinsPerDecade < 1) throw new ArgumentOutOfRangeException(nameof(options), "BinsPerDecade must be at least 1.");
        var selected = options.AllPoints ? points.ToList()
            : points.GroupBy(p => p.Run, StringComparer.Ordinal).Select(g => g.OrderByDescending(p => p.Metric).First()).ToList();
        var warnings = new List<string>();
        var eq4 = FitEq4(selected.Where(p => p.N > 0 && p.T > 0 && double.IsFinite(p.Metric)).ToList(), options, warnings);
        var envelope = EnvelopeFitter.Envelope(selected, options.BinsPerDecade);
        var (sigmoid, linear) = FitEnvelope(selected, envelope, options, warnings);
        return new SrtScalingFit
        {
            Eq4 = eq4, Sigmoid = sigmoid, Linear = linear, Envelope = envelope, Warnings = warnings,
            Columns = new SrtScalingColumns
            {
                N = options.NColumn, T = options.TColumn, Metric = options.MetricColumn, Flops = options.FlopsColumn,
                Run = options.RunColumn, AllPoints = options.AllPoints,
            },
        };
    }

    private static SrtScalingLawFit? FitEq4(List<SrtScalingPoint> points, SrtScalingFitOptions o, List<string> warnings)
    {
        int distinctN = points.Select(p => p.N).Distinct().Count(), distinctT = points.Select(p => p.T).Distinct().Count();
        if (points.Count < 6)
        {
            warnings.Add($"eq4: {points.Count} points; at least 6 are needed to fit its 5 coefficients (more than 15 to trust them).");
            return null;
        }
        if (distinctN < 3) warnings.Add($"eq4: only {distinctN} distinct value(s) of N: A and alpha are not determined; train at least 3 model sizes.");
        if (distinctT < 3) warnings.Add($"eq4: only {distinctT} distinct value(s) of T: B and beta are not determined; train on at least 3 data sizes.");
        if (points.Count < 16) warnings.Add($"eq4: {points.Count} points for 5 coefficients: expect wide intervals.");
        var fitter = new Eq4Fitter(points);
        var fit = fitter.Fit(points);
        if (fit is null) { warnings.Add("eq4: the least-squares fit failed from every starting point."); return null; }
        if (!fit.Converged) warnings.Add("eq4: the fit stopped before converging (iteration limit).");
        AtBound(fit.Parameters, fitter.Lower, fitter.Upper, Eq4Names, "eq4", warnings);
        var samples = Bootstrap(points.Count, o, warnings, "eq4", rows =>
        {
            var r = fitter.Fit(rows.Select(i => points[i]).ToList(), fit.Parameters);
            return r is null ? null : fitter.ToCoefficients(r.Parameters);
        });
        var c = fitter.ToCoefficients(fit.Parameters);
        var coefficients = Enumerable.Range(0, 5).Select(j => Coefficient(c[j], samples, j)).ToArray();
        var result = new SrtScalingLawFit
        {
            E = coefficients[0], A = coefficients[1], Alpha = coefficients[2], B = coefficients[3], Beta = coefficients[4],
            Rmse = Math.Sqrt(fit.SumOfSquares / points.Count), Points = points.Count, Bootstrap = samples,
        };
        Wide(result.A, "A", "eq4", warnings);
        Wide(result.Alpha, "alpha", "eq4", warnings);
        Wide(result.B, "B", "eq4", warnings);
        Wide(result.Beta, "beta", "eq4", warnings);
        return result;
    }

    private static (SrtSigmoidFit?, SrtLinearFit?) FitEnvelope(List<SrtScalingPoint> points, List<SrtEnvelopePoint> envelope,
        SrtScalingFitOptions o, List<string> warnings)
    {
        if (envelope.Count < 2)
        {
            warnings.Add($"envelope: {envelope.Count} FLOPs bin(s) with points (is the FLOPs column '{o.FlopsColumn}' filled?); nothing to fit.");
            return (null, null);
        }
        var withFlops = points.Where(p => double.IsFinite(p.Flops) && p.Flops > 0).ToList();
        var line = EnvelopeFitter.FitLine(envelope);
        SrtLinearFit? linear = null;
        if (line is { } l)
        {
            var lineSamples = Bootstrap(withFlops.Count, o, warnings, "linear", rows =>
                EnvelopeFitter.FitLine(EnvelopeFitter.Envelope(rows.Select(i => withFlops[i]), o.BinsPerDecade))?.Coefficients);
            linear = new SrtLinearFit
            {
                Intercept = Coefficient(l.Coefficients[0], lineSamples, 0), Slope = Coefficient(l.Coefficients[1], lineSamples, 1),
                Rmse = l.Rmse, Points = envelope.Count,
            };
        }
        if (envelope.Count < 5)
        {
            warnings.Add($"sigmoid: the envelope has {envelope.Count} points; at least 5 are needed for its 4 coefficients (use more runs, or more bins per decade).");
            return (null, linear);
        }
        var (lower, upper) = EnvelopeFitter.SigmoidBounds(envelope);
        var fit = EnvelopeFitter.FitSigmoid(envelope, lower, upper);
        if (fit is null) { warnings.Add("sigmoid: the least-squares fit failed from every starting point."); return (null, linear); }
        if (!fit.Converged) warnings.Add("sigmoid: the fit stopped before converging (iteration limit).");
        AtBound(fit.Parameters, lower, upper, SigmoidNames, "sigmoid", warnings);
        var samples = Bootstrap(withFlops.Count, o, warnings, "sigmoid", rows =>
        {
            var resampled = EnvelopeFitter.Envelope(rows.Select(i => withFlops[i]), o.BinsPerDecade);
            return resampled.Count < 5 ? null : EnvelopeFitter.FitSigmoid(resampled, lower, upper, fit.Parameters)?.Parameters;
        });
        var c = Enumerable.Range(0, 4).Select(j => Coefficient(fit.Parameters[j], samples, j)).ToArray();
        var sigmoid = new SrtSigmoidFit
        {
            Lower = c[0], Upper = c[1], Slope = c[2], Midpoint = c[3],
            Rmse = Math.Sqrt(fit.SumOfSquares / envelope.Count), Points = envelope.Count,
        };
        Wide(sigmoid.Slope, "slope", "sigmoid", warnings);
        return (sigmoid, linear);
    }

    /// <summary>Refits on <see cref="SrtScalingFitOptions.BootstrapSamples"/> resamples (with replacement) of the row indices.
    /// Resample b draws from its own generator seeded by (seed, b), so results do not depend on thread scheduling.</summary>
    private static double[][] Bootstrap(int rows, SrtScalingFitOptions o, List<string> warnings, string what, Func<int[], double[]?> refit)
    {
        var results = new double[]?[o.BootstrapSamples];
        Parallel.For(0, o.BootstrapSamples, b =>
        {
            var random = new Random(HashCode.Combine(o.Seed, b, what.Length));
            var pick = new int[rows];
            for (int i = 0; i < rows; i++) pick[i] = random.Next(rows);
            results[b] = refit(pick);
        });
        var ok = results.Where(r => r is not null).Select(r => r!).ToArray();
        int failed = results.Length - ok.Length;
        if (failed > results.Length / 10)
            warnings.Add($"{what}: {failed} of {results.Length} bootstrap refits failed; its intervals rest on the rest.");
        return ok;
    }

    private static SrtFitCoefficient Coefficient(double value, double[][] samples, int j)
    {
        if (samples.Length == 0) return new SrtFitCoefficient { Value = value, Low = double.NaN, High = double.NaN };
        var sorted = samples.Select(s => s[j]).Order().ToArray();
        return new SrtFitCoefficient { Value = value, Low = BoundedLeastSquares.Quantile(sorted, 0.025), High = BoundedLeastSquares.Quantile(sorted, 0.975) };
    }

    private static void AtBound(double[] p, double[] lower, double[] upper, string[] names, string what, List<string> warnings)
    {
        for (int j = 0; j < p.Length; j++)
        {
            double tolerance = 1e-3 * (upper[j] - lower[j]);
            if (p[j] - lower[j] <= tolerance || upper[j] - p[j] <= tolerance)
                warnings.Add($"{what}: {names[j]} = {p[j]:G4} is at its bound [{lower[j]:G4}, {upper[j]:G4}]: the data do not pin it down, and the other coefficients bend to compensate.");
        }
    }

    private static void Wide(SrtFitCoefficient c, string name, string what, List<string> warnings)
    {
        if (double.IsNaN(c.Low)) return;
        if (c.High > 100 * Math.Max(c.Low, 0))
            warnings.Add($"{what}: the 95% interval of {name} ({c.Low:G3} to {c.High:G3}) spans more than two orders of magnitude: it is barely determined.");
    }
}
