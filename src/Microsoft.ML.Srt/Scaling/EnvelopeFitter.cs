namespace Microsoft.ML.Srt.Scaling;

/// <summary>
/// The envelope of metric against training FLOPs (per log-spaced FLOPs bin, its best point) and the curves fitted to it:
/// a 4-parameter logistic in ln FLOPs, y = L + (U − L)/(1 + e^(−k(ln C − x₀))), and a straight line in ln FLOPs.
/// </summary>
internal static class EnvelopeFitter
{
    public static List<SrtEnvelopePoint> Envelope(IEnumerable<SrtScalingPoint> points, int binsPerDecade)
    {
        var usable = points.Where(p => double.IsFinite(p.Flops) && p.Flops > 0).ToList();
        if (usable.Count == 0) return new List<SrtEnvelopePoint>();
        double origin = Math.Floor(usable.Min(p => Math.Log10(p.Flops)) * binsPerDecade);
        return usable
            .GroupBy(p => (long)(Math.Floor(Math.Log10(p.Flops) * binsPerDecade) - origin))
            .OrderBy(g => g.Key)
            .Select(g => g.OrderByDescending(p => p.Metric).ThenBy(p => p.Flops).First())
            .Select(p => new SrtEnvelopePoint { Flops = p.Flops, Metric = p.Metric })
            .ToList();
    }

    /// <summary>Sigmoid parameters [L, U, k, x₀] fitted to envelope points, with their bounds; null when it fails.</summary>
    public static BoundedLeastSquares.Result? FitSigmoid(IReadOnlyList<SrtEnvelopePoint> envelope, double[] lower, double[] upper, double[]? start = null)
    {
        var x = envelope.Select(p => Math.Log(p.Flops)).ToArray();
        var y = envelope.Select(p => p.Metric).ToArray();
        var curve = new Sigmoid(x);
        IEnumerable<double[]> starts;
        if (start is not null) starts = new[] { start };
        else
        {
            double span = Math.Max(x.Max() - x.Min(), 1e-6), xmin = x.Min();
            double ymin = y.Min(), ymax = y.Max();
            starts = new[] { 0.25, 0.5, 0.75 }.SelectMany(f => new[] { 4.0, 10.0 }.Select(s => new[] { ymin, ymax, s / span, xmin + f * span }));
        }
        return BoundedLeastSquares.Fit(curve, y, starts, lower, upper);
    }

    /// <summary>Bounds of [L, U, k, x₀] from the full data's envelope (kept for every bootstrap refit).</summary>
    public static (double[] Lower, double[] Upper) SigmoidBounds(IReadOnlyList<SrtEnvelopePoint> envelope)
    {
        var x = envelope.Select(p => Math.Log(p.Flops)).ToArray();
        var y = envelope.Select(p => p.Metric).ToArray();
        double span = Math.Max(x.Max() - x.Min(), 1e-6), range = Math.Max(y.Max() - y.Min(), 1e-6);
        return (new[] { y.Min() - 2 * range, y.Min(), 0.01 / span, x.Min() - span },
                new[] { y.Max(), y.Max() + 2 * range, 100 / span, x.Max() + span });
    }

    /// <summary>Least-squares line y = a + b·ln C: [a, b] and the RMSE.</summary>
    public static (double[] Coefficients, double Rmse)? FitLine(IReadOnlyList<SrtEnvelopePoint> envelope)
    {
        if (envelope.Count < 2) return null;
        var x = envelope.Select(p => Math.Log(p.Flops)).ToArray();
        var y = envelope.Select(p => p.Metric).ToArray();
        double mx = x.Average(), my = y.Average(), sxx = 0, sxy = 0;
        for (int i = 0; i < x.Length; i++) { sxx += (x[i] - mx) * (x[i] - mx); sxy += (x[i] - mx) * (y[i] - my); }
        if (sxx <= 0) return null;
        double b = sxy / sxx, a = my - b * mx;
        double sse = 0;
        for (int i = 0; i < x.Length; i++) sse += Math.Pow(a + b * x[i] - y[i], 2);
        return (new[] { a, b }, Math.Sqrt(sse / x.Length));
    }

    private sealed class Sigmoid(double[] x) : BoundedCurve
    {
        public override int Parameters => 4;
        public override int Points => x.Length;

        public override void Evaluate(double[] p, double[] values)
        {
            for (int i = 0; i < x.Length; i++) values[i] = SrtSigmoidFit.Predict(p, x[i]);
        }

        public override void Jacobian(double[] p, double[,] j)
        {
            for (int i = 0; i < x.Length; i++)
            {
                double s = 1 / (1 + Math.Exp(-p[2] * (x[i] - p[3]))), ds = s * (1 - s), h = p[1] - p[0];
                j[i, 0] = 1 - s;
                j[i, 1] = s;
                j[i, 2] = h * ds * (x[i] - p[3]);
                j[i, 3] = -h * ds * p[2];
            }
        }
    }
}
