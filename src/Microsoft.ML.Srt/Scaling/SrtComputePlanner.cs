using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>Options of <see cref="SrtComputePlanner"/>.</summary>
public sealed class SrtComputePlanOptions
{
    /// <summary>
    /// k in C ≈ k · N · T · epochs: training FLOPs per parameter per interaction per epoch. Default 6 (forward 2 FLOPs per
    /// parameter per position, backward twice that): the dense-layer part of the accounting (docs/scaling.md). It
    /// overstates the cost of embedding parameters, which a position only reads; with N counted in total parameters, take
    /// k from your own runs: flops / (parameters · interactions_seen) in the runs table.
    /// </summary>
    public double FlopsPerParameterInteraction = 6;

    /// <summary>Passes over the training data the plan assumes. Default 1.</summary>
    public double Epochs = 1;

    /// <summary>Candidate presets, name → parameter count (N as the law counts it). Default: <see cref="SrtPresets.All"/> with
    /// the default recipe's item encoder (GPT-2 token table, two text fields, one token-list field of 8,192 rows, histories of
    /// 50); pass counts from <see cref="SrtFlops.ForTraining"/> for another catalog.</summary>
    public IReadOnlyDictionary<string, double>? PresetParameters;
}

/// <summary>
/// The compute-optimal model and data size for a FLOPs budget C under a fitted eq. 4 (docs/scaling.md, "Planning"). With
/// C = k·N·T·epochs, maximizing E − A/N^α − B/T^β gives N* = (αA/(βB))^(1/(α+β)) · (C/(k·epochs))^(β/(α+β)) and
/// T* = C/(k·epochs·N*).
/// </summary>
public static class SrtComputePlanner
{
    /// <summary>Plans a budget of <paramref name="flops"/> training FLOPs with <paramref name="fit"/>'s eq. 4.</summary>
    public static SrtComputePlan Plan(SrtScalingFit fit, double flops, SrtComputePlanOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fit);
        if (fit.Eq4 is null) throw new ArgumentException("The fit has no eq. 4 (see its warnings); nothing to plan with.", nameof(fit));
        if (!(flops > 0) || double.IsInfinity(flops)) throw new ArgumentOutOfRangeException(nameof(flops), "The FLOPs budget must be a positive number.");
        options ??= new SrtComputePlanOptions();
        if (!(options.FlopsPerParameterInteraction > 0)) throw new ArgumentOutOfRangeException(nameof(options), "FlopsPerParameterInteraction must be positive.");
        if (!(options.Epochs > 0)) throw new ArgumentOutOfRangeException(nameof(options), "Epochs must be positive.");
        var law = fit.Eq4;
        double e = law.E.Value, a = law.A.Value, alpha = law.Alpha.Value, b = law.B.Value, beta = law.Beta.Value;
        double product = flops / (options.FlopsPerParameterInteraction * options.Epochs); // N · T
        var warnings = new List<string>();
        double n;
        if (a <= 0 || b <= 0)
        {
            // A vanishing term: the law does not trade one for the other; split the budget evenly on a log scale.
            n = Math.Sqrt(product);
            warnings.Add("eq4 has a zero A or B: the law sets no balance between N and T, so the plan splits the budget evenly (log scale).");
        }
        else n = Math.Pow(alpha * a / (beta * b), 1 / (alpha + beta)) * Math.Pow(product, beta / (alpha + beta));
        double t = product / n;
        var presets = options.PresetParameters ?? DefaultPresetParameters();
        if (presets.Count == 0) throw new ArgumentException("No candidate presets.", nameof(options));
        var nearest = presets.OrderBy(p => Math.Abs(Math.Log(p.Value) - Math.Log(n))).First();
        double presetT = product / nearest.Value;
        if (t < 1 || presetT < 1) warnings.Add("The budget buys less than one interaction at this model size: it is far below anything the law was fitted on.");
        return new SrtComputePlan
        {
            Flops = flops, N = n, T = t, Metric = Predict(law, n, t),
            Preset = nearest.Key, PresetN = nearest.Value, PresetT = presetT, PresetMetric = Predict(law, nearest.Value, presetT),
            Warnings = warnings,
        };
    }

    private static SrtFitCoefficient Predict(SrtScalingLawFit law, double n, double t)
    {
        var sorted = law.Bootstrap.Select(c => SrtScalingLawFit.Predict(c, n, t)).Where(double.IsFinite).Order().ToArray();
        return new SrtFitCoefficient
        {
            Value = law.Predict(n, t),
            Low = BoundedLeastSquares.Quantile(sorted, 0.025),
            High = BoundedLeastSquares.Quantile(sorted, 0.975),
        };
    }

    /// <summary>Parameter counts of every preset with the default recipe's item encoder (see <see cref="SrtComputePlanOptions.PresetParameters"/>).</summary>
    internal static IReadOnlyDictionary<string, double> DefaultPresetParameters() =>
        SrtPresets.All.ToDictionary(p => p.Key, p => (double)FlopsModel.Parameters(new SrtNetworkShape(
            p.Value.Dimension, p.Value.Layers, p.Value.Heads, 50, 0, 4, UsesText: true, UsesIds: false,
            TextVocabularySize: Featurization.ItemFeaturizer.Gpt2VocabularySize + 1, TextFieldCount: 2,
            TokenFieldTableSizes: new[] { 8192 }, IdTableSize: 0)).Total, StringComparer.OrdinalIgnoreCase);
}
