using System.Globalization;
using System.Text.Json.Nodes;
using ScottPlot;

namespace Microsoft.ML.Srt.Cli;

/// <summary>The two PNG plots of the Beauty benchmark, drawn with ScottPlot from the saved row results.</summary>
internal static class BeautyBenchmarkPlots
{
    private const int Width = 900, Height = 520;

    /// <summary>Validation NDCG@10 after each epoch, one line per trained row; null when no row has a curve.</summary>
    public static byte[]? ValidationCurves(BeautyBenchmarkResults results) =>
        ValidationCurves(BeautyBenchmarkRows.All.Where(r => r.IsTrained).Select(r => (r.Name, results.Train(r.Name)?["validation_ndcg@10"])),
            "Amazon Beauty: validation NDCG@10 after each epoch");

    /// <summary>
    /// Validation NDCG@10 after each epoch (an srt train JSON's <c>validation_ndcg@10</c> array), one line per named
    /// curve; null when none has a point. Shared by the benchmarks' plots.
    /// </summary>
    public static byte[]? ValidationCurves(IEnumerable<(string Name, JsonNode? Curve)> curves, string title)
    {
        var plot = new Plot();
        int lines = 0;
        foreach (var (name, node) in curves)
        {
            if (node is not JsonArray curve) continue;
            var xs = new List<double>();
            var ys = new List<double>();
            for (int e = 0; e < curve.Count; e++)
            {
                if (curve[e] is JsonValue v && v.TryGetValue(out double y)) { xs.Add(e + 1); ys.Add(y); }
            }
            if (xs.Count == 0) continue;
            var line = plot.Add.ScatterLine(xs.ToArray(), ys.ToArray());
            line.LegendText = name;
            line.LineWidth = 2;
            if (xs.Count == 1) line.MarkerSize = 7; // a one-epoch row is a point, not a line
            lines++;
        }
        if (lines == 0) return null;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel("validation NDCG@10");
        plot.ShowLegend(Edge.Right); // outside the data area: it never hides a point
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>
    /// Test NDCG@5 against the number of negatives (log x axis): srt-10 to srt-1k, srt-all at the catalog size, history
    /// not masked and masked, and the paper's SRT-1K. Null when no such row has run.
    /// </summary>
    public static byte[]? Ndcg5AgainstNegatives(BeautyBenchmarkResults results)
    {
        var points = new List<(string Row, double Negatives, double Unmasked, double? Masked)>();
        foreach (var row in BeautyBenchmarkRows.All.Where(r => r.Name.StartsWith("srt-", StringComparison.Ordinal)))
        {
            if (BeautyBenchmarkResults.Number(results.Unmasked(row.Name), "ndcg@5") is not double ndcg5) continue;
            double negatives = row.Negatives > 0 ? row.Negatives.Value
                : BeautyBenchmarkResults.Number(results.Train(row.Name), "data", "items") ?? double.NaN; // "all": the catalog
            if (!double.IsFinite(negatives)) continue;
            points.Add((row.Name, negatives, ndcg5, BeautyBenchmarkResults.Number(results.Masked(row.Name), "ndcg@5")));
        }
        points.Sort((a, b) => a.Negatives.CompareTo(b.Negatives)); // "all" is the catalog size, wherever that falls
        if (points.Count == 0) return null;

        var plot = new Plot();
        var xs = points.Select(p => Math.Log10(p.Negatives)).ToArray();
        var ours = plot.Add.Scatter(xs, points.Select(p => p.Unmasked).ToArray());
        ours.LegendText = "history not masked";
        ours.LineWidth = 2;
        ours.MarkerSize = 8;
        var maskedPoints = points.Where(p => p.Masked is not null).ToList();
        if (maskedPoints.Count > 0)
        {
            var masked = plot.Add.Scatter(maskedPoints.Select(p => Math.Log10(p.Negatives)).ToArray(), maskedPoints.Select(p => p.Masked!.Value).ToArray());
            masked.LegendText = "history masked";
            masked.LineWidth = 2;
            masked.LinePattern = LinePattern.Dashed;
            masked.MarkerSize = 8;
        }
        var srt1k = BeautyBenchmarkRows.All.Single(r => r.Name == BeautyBenchmarkRows.DefaultRecipe);
        var paper = plot.Add.Marker(Math.Log10(srt1k.Negatives!.Value), srt1k.PaperNdcg5!.Value, MarkerShape.FilledDiamond, 14);
        paper.LegendText = "paper: SRT-1K";

        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var p in points)
            ticks.AddMajor(Math.Log10(p.Negatives), p.Row == "srt-all"
                ? string.Create(CultureInfo.InvariantCulture, $"{p.Negatives:N0} (all)")
                : p.Negatives.ToString("N0", CultureInfo.InvariantCulture));
        if (!points.Any(p => p.Negatives == srt1k.Negatives)) ticks.AddMajor(Math.Log10(srt1k.Negatives!.Value), "1,000");
        plot.Axes.Bottom.TickGenerator = ticks;
        double left = Math.Min(xs.Min(), 3), right = Math.Max(xs.Max(), 3);
        plot.Axes.SetLimitsX(left - 0.25, right + 0.25);
        plot.Title("Amazon Beauty: test NDCG@5 against the number of negatives");
        plot.XLabel("negatives per training step (log scale; 'all' = the whole catalog)");
        plot.YLabel("test NDCG@5 (full ranking)");
        plot.ShowLegend(Edge.Right); // outside the data area: it never hides a point
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }
}
