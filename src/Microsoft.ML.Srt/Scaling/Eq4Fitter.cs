using MathNet.Numerics.LinearAlgebra;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>
/// Eq. 4, y = E − A/N^α − B/T^β, fitted as y = E − a·(N/N₀)^−α − b·(T/T₀)^−β with N₀, T₀ the geometric means of the data
/// (A = a·N₀^α, B = b·T₀^β): the same curve, but a and b are the terms' sizes in the middle of the data, which keeps the
/// problem well scaled whatever the units of N and T.
/// </summary>
internal sealed class Eq4Fitter
{
    private static readonly double[] ExponentGrid = { 0.05, 0.15, 0.3, 0.5, 0.8, 1.2 };
    public const double MinExponent = 0.01, MaxExponent = 3;

    private readonly double _n0, _t0;
    private readonly double[] _lower, _upper;

    public Eq4Fitter(IReadOnlyList<SrtScalingPoint> all)
    {
        _n0 = Math.Exp(all.Average(p => Math.Log(p.N)));
        _t0 = Math.Exp(all.Average(p => Math.Log(p.T)));
        double min = all.Min(p => p.Metric), max = all.Max(p => p.Metric), range = Math.Max(max - min, 1e-6);
        double top = max + 10 * range;
        if (min >= 0 && max <= 1) top = Math.Max(Math.Min(top, 1.0), max + 1e-6);
        _lower = new[] { min, 0, MinExponent, 0, MinExponent };
        _upper = new[] { top, 20 * range + (top - min), MaxExponent, 20 * range + (top - min), MaxExponent };
    }

    public double[] Lower => _lower;
    public double[] Upper => _upper;

    /// <summary>The fit in the internal parameters [E, a, α, b, β], or null.</summary>
    public BoundedLeastSquares.Result? Fit(IReadOnlyList<SrtScalingPoint> points, double[]? start = null)
    {
        var curve = new Curve(points, _n0, _t0);
        var y = points.Select(p => p.Metric).ToArray();
        var starts = start is not null ? new[] { start } : GridStarts(curve, y).Take(4);
        return BoundedLeastSquares.Fit(curve, y, starts, _lower, _upper);
    }

    /// <summary>[E, A, α, B, β] from internal parameters.</summary>
    public double[] ToCoefficients(double[] p) => new[] { p[0], p[1] * Math.Pow(_n0, p[2]), p[2], p[3] * Math.Pow(_t0, p[4]), p[4] };

    /// <summary>Starts on a grid of exponents, each with E, a, b from linear least squares (the model is linear in them for
    /// fixed exponents), best first.</summary>
    private IEnumerable<double[]> GridStarts(Curve curve, double[] y)
    {
        var candidates = new List<(double Sse, double[] P)>();
        foreach (var alpha in ExponentGrid)
            foreach (var beta in ExponentGrid)
            {
                var design = Matrix<double>.Build.Dense(y.Length, 3, (i, j) => j switch
                {
                    0 => 1.0,
                    1 => -Math.Pow(curve.NScaled[i], -alpha),
                    _ => -Math.Pow(curve.TScaled[i], -beta),
                });
                double[] linear;
                try { linear = design.QR().Solve(Vector<double>.Build.Dense(y)).ToArray(); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException) { continue; }
                if (linear.Any(v => !double.IsFinite(v))) continue;
                var p = new[] { linear[0], linear[1], alpha, linear[2], beta };
                for (int j = 0; j < p.Length; j++) p[j] = Math.Clamp(p[j], _lower[j], _upper[j]);
                candidates.Add((BoundedLeastSquares.SumOfSquares(curve, p, y), p));
            }
        return candidates.OrderBy(c => c.Sse).Select(c => c.P);
    }

    private sealed class Curve : BoundedCurve
    {
        public readonly double[] NScaled, TScaled, LogN, LogT;

        public Curve(IReadOnlyList<SrtScalingPoint> points, double n0, double t0)
        {
            NScaled = points.Select(p => p.N / n0).ToArray();
            TScaled = points.Select(p => p.T / t0).ToArray();
            LogN = NScaled.Select(v => Math.Log(v)).ToArray();
            LogT = TScaled.Select(v => Math.Log(v)).ToArray();
        }

        public override int Parameters => 5;
        public override int Points => NScaled.Length;

        public override void Evaluate(double[] p, double[] values)
        {
            for (int i = 0; i < values.Length; i++)
                values[i] = p[0] - p[1] * Math.Exp(-p[2] * LogN[i]) - p[3] * Math.Exp(-p[4] * LogT[i]);
        }

        public override void Jacobian(double[] p, double[,] j)
        {
            for (int i = 0; i < Points; i++)
            {
                double u = Math.Exp(-p[2] * LogN[i]), v = Math.Exp(-p[4] * LogT[i]);
                j[i, 0] = 1;
                j[i, 1] = -u;
                j[i, 2] = p[1] * u * LogN[i];
                j[i, 3] = -v;
                j[i, 4] = p[3] * v * LogT[i];
            }
        }
    }
}
