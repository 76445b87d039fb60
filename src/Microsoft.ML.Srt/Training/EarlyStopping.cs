using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>
/// Early stopping on validation NDCG@10, keeping the best epoch's weights. Without validation every epoch counts as the
/// best and no weights are copied (the last epoch's stay).
/// </summary>
/// <param name="network">The network whose weights are kept and restored.</param>
/// <param name="patience">Validations without improvement (once the learning rate decays) before stopping; 0 never stops.</param>
/// <param name="validating">Whether epochs are validated at all.</param>
internal sealed class EarlyStopping(nn.Module network, int patience, bool validating) : IDisposable
{
    private readonly BestCheckpoint _checkpoint = new(network);
    private double _best = double.NegativeInfinity;
    private int _sinceBest;
    private double _lastLearningRate;

    /// <summary>The epoch whose weights are kept (0 before any).</summary>
    public int BestEpoch { get; private set; }

    /// <summary>True once <c>patience</c> validations in a row have not improved on the best.</summary>
    public bool PatienceExhausted => patience > 0 && _sinceBest >= patience;

    /// <summary>Records an epoch that ended at <paramref name="learningRate"/>, with its validation NDCG@10 when it was
    /// validated; returns true (and keeps its weights) when it is the best so far.</summary>
    public bool Observe(int epoch, double? ndcg10, double learningRate)
    {
        bool isBest = !validating || (ndcg10 is { } n && n > _best);
        if (isBest)
        {
            if (ndcg10 is { } value) _best = value;
            BestEpoch = epoch;
            _sinceBest = 0;
            if (validating) _checkpoint.Save();
        }
        // Patience counts only once the learning rate decays: during warm-up validation plateaus are expected.
        else if (ndcg10 is not null && learningRate < _lastLearningRate) _sinceBest++;
        _lastLearningRate = learningRate;
        return isBest;
    }

    /// <summary>The counters a training checkpoint saves (<see cref="KeptWeights"/> aside).</summary>
    public EarlyStoppingState State => new(_best, _sinceBest, _lastLearningRate, BestEpoch);

    /// <summary>The best epoch's weights while they are kept apart (validating, after a best epoch), else null.</summary>
    public IReadOnlyDictionary<string, Tensor>? KeptWeights => _checkpoint.Weights;

    /// <summary>Continues from a saved <see cref="State"/>; <paramref name="kept"/> (owned from now on) are the best epoch's weights.</summary>
    public void Restore(EarlyStoppingState state, Dictionary<string, Tensor>? kept)
    {
        (_best, _sinceBest, _lastLearningRate, BestEpoch) = (state.Best, state.SinceBest, state.LastLearningRate, state.BestEpoch);
        _checkpoint.Adopt(kept);
    }

    /// <summary>Puts the best epoch's weights back into the network, if any were kept.</summary>
    public void RestoreBest() => _checkpoint.Restore();

    /// <inheritdoc/>
    public void Dispose() => _checkpoint.Dispose();
}

/// <summary>The counters of <see cref="EarlyStopping"/>: best validation NDCG@10, validations since it, the learning rate the
/// last epoch ended at, and the best epoch.</summary>
internal sealed record EarlyStoppingState(double Best, int SinceBest, double LastLearningRate, int BestEpoch);

/// <summary>A copy of a network's weights in memory, to restore later.</summary>
internal sealed class BestCheckpoint(nn.Module network) : IDisposable
{
    private Dictionary<string, Tensor>? _weights;

    /// <summary>Copies the network's current weights, replacing the previous copy.</summary>
    public void Save()
    {
        Dispose();
        using var _ = no_grad();
        _weights = network.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
    }

    /// <summary>The copy, or null when none is kept.</summary>
    public IReadOnlyDictionary<string, Tensor>? Weights => _weights;

    /// <summary>Takes <paramref name="weights"/> (owned from now on) as the copy, replacing the previous one.</summary>
    public void Adopt(Dictionary<string, Tensor>? weights)
    {
        Dispose();
        _weights = weights;
    }

    /// <summary>Loads the saved weights into the network and drops the copy; nothing when none was saved.</summary>
    public void Restore()
    {
        if (_weights is null) return;
        network.load_state_dict(_weights);
        Dispose();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_weights is null) return;
        foreach (var t in _weights.Values) t.Dispose();
        _weights = null;
    }
}
