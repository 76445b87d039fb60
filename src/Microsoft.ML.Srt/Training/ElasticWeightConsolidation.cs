using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>
/// Elastic Weight Consolidation (Kirkpatrick et al., 2017): the penalty λ/2 Σ F (θ − θ*)² on the dense parameters, kept per
/// parameter (by name) and laid out as each stage's <see cref="FlatAdamW"/> buffer, whose parameter set changes with the stage.
/// </summary>
internal sealed class ElasticWeightConsolidation(double lambda, Dictionary<string, Tensor> anchor, Dictionary<string, Tensor> fisher, int batches) : IDisposable
{
    private Tensor? _anchor, _fisher;

    public double Lambda => lambda;

    /// <summary>Batches the Fisher estimate averaged.</summary>
    public int Batches => batches;

    /// <summary>Lays θ* and F out as <paramref name="optimizer"/>'s buffer (zeros for parameters without them).</summary>
    public void Bind(FlatAdamW optimizer, IReadOnlyDictionary<IntPtr, string> names)
    {
        _anchor?.Dispose();
        _fisher?.Dispose();
        _anchor = optimizer.Flat(p => names.TryGetValue(p.Handle, out var n) && anchor.TryGetValue(n, out var t) ? t : null);
        _fisher = optimizer.Flat(p => names.TryGetValue(p.Handle, out var n) && fisher.TryGetValue(n, out var t) ? t : null);
    }

    /// <summary>Adds the penalty's gradient λ F (θ − θ*) to <paramref name="gradient"/> and returns the penalty.</summary>
    public double AddGradient(Tensor weights, Tensor gradient)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var diff = weights - _anchor!;
        var weighted = _fisher! * diff;
        double penalty = lambda / 2 * (weighted * diff).sum().item<float>();
        gradient.add_(weighted, alpha: lambda);
        return penalty;
    }

    public void Dispose()
    {
        _anchor?.Dispose();
        _fisher?.Dispose();
        foreach (var t in anchor.Values.Concat(fisher.Values)) t.Dispose();
    }
}
