using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>A curve y = f(p, i) over points i = 0..n−1, with its Jacobian, fitted by bounded Levenberg-Marquardt (MathNet).</summary>
internal abstract class BoundedCurve
{
    public abstract int Parameters { get; }

    /// <summary>Model values at every point.</summary>
    public abstract void Evaluate(double[] p, double[] values);

    /// <summary>Jacobian [points, parameters].</summary>
    public abstract void Jacobian(double[] p, double[,] jacobian);

    public abstract int Points { get; }
}

/// <summary>Bounded non-linear least squares from several starting points, keeping the lowest sum of squares.</summary>
internal static class BoundedLeastSquares
{
    public sealed record Result(double[] Parameters, double SumOfSquares, bool Converged);

    public static Result? Fit(BoundedCurve curve, double[] y, IEnumerable<double[]> starts, double[] lower, double[] upper, int maxIterations = 300)
    {
        int n = curve.Points, k = curve.Parameters;
        var x = Vector<double>.Build.Dense(n, i => i);
        var observed = Vector<double>.Build.Dense(y);
        var values = new double[n];
        var jacobian = new double[n, k];
        Vector<double> F(Vector<double> p, Vector<double> _)
        {
            curve.Evaluate(p.ToArray(), values);
            return Vector<double>.Build.Dense(values.ToArray());
        }
        Matrix<double> J(Vector<double> p, Vector<double> _)
        {
            curve.Jacobian(p.ToArray(), jacobian);
            return Matrix<double>.Build.DenseOfArray(jacobian);
        }
        var lo = Vector<double>.Build.Dense(lower);
        var hi = Vector<double>.Build.Dense(upper);
        Result? best = null;
        foreach (var start in starts)
        {
            // Starts strictly inside the bounds: the bounded solver maps parameters through a transform that is flat at a bound.
            var guess = Vector<double>.Build.Dense(k, j => Math.Clamp(start[j], lower[j] + 1e-6 * (upper[j] - lower[j]), upper[j] - 1e-6 * (upper[j] - lower[j])));
            try
            {
                var model = ObjectiveFunction.NonlinearModel(F, J, x, observed);
                var solver = new LevenbergMarquardtMinimizer(maximumIterations: maxIterations);
                var r = solver.FindMinimum(model, guess, lo, hi);
                var p = r.MinimizingPoint.ToArray();
                if (p.Any(v => !double.IsFinite(v))) continue;
                double sse = SumOfSquares(curve, p, y);
                if (!double.IsFinite(sse)) continue;
                bool converged = r.ReasonForExit is not (ExitCondition.ExceedIterations or ExitCondition.InvalidValues or ExitCondition.ManuallyStopped);
                if (best is null || sse < best.SumOfSquares) best = new Result(p, sse, converged);
            }
            catch (Exception e) when (e is MaximumIterationsException or ArithmeticException or ArgumentException or InvalidOperationException)
            {
                // A start that leads nowhere; the others decide.
            }
        }
        return best;
    }

    public static double SumOfSquares(BoundedCurve curve, double[] p, double[] y)
    {
        var values = new double[curve.Points];
        curve.Evaluate(p, values);
        double sse = 0;
        for (int i = 0; i < values.Length; i++) sse += (values[i] - y[i]) * (values[i] - y[i]);
        return sse;
    }

    /// <summary>The q-quantile (linear interpolation) of <paramref name="sorted"/>.</summary>
    public static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 0) return double.NaN;
        double h = (sorted.Length - 1) * q;
        int i = (int)Math.Floor(h);
        return i + 1 < sorted.Length ? sorted[i] + (h - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
    }
}
