using System.Globalization;
using Microsoft.ML.Srt.Scaling;
using ScottPlot;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// The figures of <c>srt scaling fit --plots</c>, after the paper's figures 4-7: the metric against training FLOPs per
/// model size with the envelope and its fits; against N per data size and against T per model size, with eq. 4's curves;
/// and eq. 4's surface as lines per T over a wider range of N. Axes of counts are log10.
/// </summary>
internal static class ScalingPlots
{
    private const int Width = 900, Height = 560;
    private static readonly ScottPlot.Palettes.Category10 Palette = new();

    /// <summary>Every figure that the points and the fit allow, as (file name, PNG bytes).</summary>
    public static IEnumerable<(string Name, byte[] Png)> All(IReadOnlyList<SrtScalingPoint> points, SrtScalingFit fit)
    {
        if (MetricAgainstFlops(points, fit) is { } flops) yield return ("metric-vs-flops.png", flops);
        var best = points.GroupBy(p => p.Run, StringComparer.Ordinal).Select(g => g.MaxBy(p => p.Metric)!).ToList();
        if (best.Count > 0)
        {
            yield return ("metric-vs-n.png", Against(best, fit, byN: true));
            yield return ("metric-vs-t.png", Against(best, fit, byN: false));
        }
        if (fit.Eq4 is not null && best.Count > 0) yield return ("law-surface.png", Surface(best, fit.Eq4, fit.Columns.Metric));
    }

    private static string Count(double x) => x >= 1e6 ? string.Create(CultureInfo.InvariantCulture, $"{x / 1e6:0.##}M")
        : x >= 1e3 ? string.Create(CultureInfo.InvariantCulture, $"{x / 1e3:0.##}k") : x.ToString("0", CultureInfo.InvariantCulture);

    /// <summary>Figure 4: every row of every run (metric after each validation) against log10 FLOPs, coloured by N; the envelope, its sigmoid and line.</summary>
    private static byte[]? MetricAgainstFlops(IReadOnlyList<SrtScalingPoint> points, SrtScalingFit fit)
    {
        var withFlops = points.Where(p => double.IsFinite(p.Flops) && p.Flops > 0).ToList();
        if (withFlops.Count == 0) return null;
        var plot = new Plot();
        var sizes = withFlops.Select(p => p.N).Distinct().Order().ToList();
        foreach (var run in withFlops.GroupBy(p => p.Run, StringComparer.Ordinal))
        {
            var rows = run.OrderBy(p => p.Flops).ToList();
            int colour = sizes.IndexOf(rows[0].N);
            var line = plot.Add.ScatterLine(rows.Select(p => Math.Log10(p.Flops)).ToArray(), rows.Select(p => p.Metric).ToArray());
            line.Color = Palette.GetColor(colour).WithAlpha(0.75);
            line.LineWidth = 1.5f;
            line.MarkerSize = 4;
            line.MarkerShape = MarkerShape.FilledCircle;
        }
        foreach (var n in sizes) // one legend entry per model size
        {
            var entry = plot.Add.Marker(double.NaN, double.NaN);
            entry.Color = Palette.GetColor(sizes.IndexOf(n));
            entry.LegendText = $"N = {Count(n)}";
        }
        if (fit.Envelope.Count > 0)
        {
            var envelope = plot.Add.ScatterPoints(fit.Envelope.Select(e => Math.Log10(e.Flops)).ToArray(), fit.Envelope.Select(e => e.Metric).ToArray());
            envelope.Color = Colors.Black;
            envelope.MarkerShape = MarkerShape.OpenSquare;
            envelope.MarkerSize = 11;
            envelope.LegendText = "envelope (best per bin)";
        }
        double lo = Math.Log(withFlops.Min(p => p.Flops)), hi = Math.Log(withFlops.Max(p => p.Flops));
        var xs = Enumerable.Range(0, 101).Select(i => lo + (hi - lo) * i / 100).ToArray();
        if (fit.Sigmoid is { } s)
        {
            var curve = plot.Add.ScatterLine(xs.Select(x => x / Math.Log(10)).ToArray(), xs.Select(x => s.Predict(Math.Exp(x))).ToArray());
            curve.Color = Colors.Black;
            curve.LineWidth = 2.5f;
            curve.LegendText = string.Create(CultureInfo.InvariantCulture, $"sigmoid in ln FLOPs (RMSE {s.Rmse:G2})");
        }
        if (fit.Linear is { } l)
        {
            var line = plot.Add.ScatterLine(xs.Select(x => x / Math.Log(10)).ToArray(), xs.Select(x => l.Intercept.Value + l.Slope.Value * x).ToArray());
            line.Color = Colors.Gray;
            line.LineWidth = 2;
            line.LinePattern = LinePattern.Dashed;
            line.LegendText = string.Create(CultureInfo.InvariantCulture, $"line in ln FLOPs (RMSE {l.Rmse:G2})");
        }
        plot.Title($"{fit.Columns.Metric} against training compute, per model size");
        plot.XLabel($"training FLOPs, log10 ({fit.Columns.Flops})");
        plot.YLabel(fit.Columns.Metric);
        plot.ShowLegend(Edge.Right);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>
    /// Figures 5 and 6: each run's best metric against log10 N, one series per T (<paramref name="byN"/>), or against log10 T,
    /// one series per N; eq. 4's prediction for each series dashed in the same colour.
    /// </summary>
    private static byte[] Against(List<SrtScalingPoint> best, SrtScalingFit fit, bool byN)
    {
        var plot = new Plot();
        var groups = best.GroupBy(p => byN ? p.T : p.N).OrderBy(g => g.Key).ToList();
        for (int k = 0; k < groups.Count; k++)
        {
            var rows = groups[k].OrderBy(p => byN ? p.N : p.T).ToList();
            var xs = rows.Select(p => Math.Log10(byN ? p.N : p.T)).ToArray();
            var scatter = plot.Add.Scatter(xs, rows.Select(p => p.Metric).ToArray());
            scatter.Color = Palette.GetColor(k);
            scatter.MarkerSize = 8;
            scatter.LineWidth = 1.5f;
            scatter.LegendText = byN ? $"T = {Count(groups[k].Key)}" : $"N = {Count(groups[k].Key)}";
            if (fit.Eq4 is { } law && xs.Length > 0)
            {
                double lo = xs.Min() - 0.15, hi = xs.Max() + 0.15;
                var curveX = Enumerable.Range(0, 41).Select(i => lo + (hi - lo) * i / 40).ToArray();
                var curve = plot.Add.ScatterLine(curveX, curveX.Select(x => byN ? law.Predict(Math.Pow(10, x), groups[k].Key) : law.Predict(groups[k].Key, Math.Pow(10, x))).ToArray());
                curve.Color = Palette.GetColor(k);
                curve.LinePattern = LinePattern.Dashed;
                curve.LineWidth = 1.5f;
            }
        }
        var what = byN ? "model size N" : "data size T";
        plot.Title($"{fit.Columns.Metric} against {what} (best of each run; dashed: eq. 4)");
        plot.XLabel(byN ? $"N, log10 ({fit.Columns.N})" : $"T, log10 ({fit.Columns.T})");
        plot.YLabel(fit.Columns.Metric);
        plot.ShowLegend(Edge.Right);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>Figure 7: eq. 4 as lines per T (the data's T and two decades beyond) over N from a tenth of the smallest to ten times the largest.</summary>
    private static byte[] Surface(List<SrtScalingPoint> best, SrtScalingLawFit law, string metric)
    {
        var plot = new Plot();
        double nLo = Math.Log10(best.Min(p => p.N)) - 1, nHi = Math.Log10(best.Max(p => p.N)) + 1;
        var ts = best.Select(p => p.T).Distinct().Order().ToList();
        ts.Add(ts[^1] * 10);
        ts.Add(ts[^2] * 100);
        var xs = Enumerable.Range(0, 81).Select(i => nLo + (nHi - nLo) * i / 80).ToArray();
        for (int k = 0; k < ts.Count; k++)
        {
            var line = plot.Add.ScatterLine(xs, xs.Select(x => law.Predict(Math.Pow(10, x), ts[k])).ToArray());
            line.Color = Palette.GetColor(k);
            line.LineWidth = 2;
            if (k >= ts.Count - 2) line.LinePattern = LinePattern.Dashed; // beyond the data
            line.LegendText = $"T = {Count(ts[k])}{(k >= ts.Count - 2 ? " (extrapolated)" : "")}";
        }
        var asymptote = plot.Add.HorizontalLine(law.E.Value);
        asymptote.Color = Colors.Gray;
        asymptote.LinePattern = LinePattern.Dotted;
        asymptote.LegendText = string.Create(CultureInfo.InvariantCulture, $"E = {law.E.Value:G3}");
        plot.Title(string.Create(CultureInfo.InvariantCulture,
            $"eq. 4: {law.E.Value:G3} − {law.A.Value:G3}/N^{law.Alpha.Value:G3} − {law.B.Value:G3}/T^{law.Beta.Value:G3}"));
        // Far below the data the law runs off to large negative values, and E may lie far above every line: keep the view
        // on the data and the lines' upper ends.
        double low = best.Min(p => p.Metric);
        double high = Math.Max(best.Max(p => p.Metric), ts.Max(t => law.Predict(Math.Pow(10, nHi), t)));
        double range = Math.Max(high - low, 1e-6);
        plot.Axes.SetLimitsY(Math.Max(0, low - range), Math.Min(high + 0.15 * range, Math.Max(law.E.Value, high) + 0.05 * range));
        plot.XLabel("N, log10");
        plot.YLabel($"predicted {metric}");
        plot.ShowLegend(Edge.Right);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }
}
