using Microsoft.ML.Srt.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>
/// Encodes only the distinct items a sampled-softmax step needs (inputs, targets and negatives), each once, and maps
/// every item row to its slot in the encoded block; slot 0 is the zero padding vector.
/// </summary>
internal sealed class DistinctItems(ItemEncoder items, int itemCount, Device device)
{
    private readonly int[] _stamp = new int[itemCount + 1];
    private readonly int[] _slot = new int[itemCount + 1];
    private int _step;

    /// <summary>The vectors [1 + distinct items, d] and each row's slot among them (input, target and negative rows in turn).</summary>
    public EncodedItems Encode(TrainingBatch batch, long[] negativeRows, StepProfiler? profile)
    {
        var unique = new List<long> { 0 };
        _step++;
        var inputs = Slots(batch.InputRows, unique);
        var targets = Slots(batch.TargetRows, unique);
        var negatives = Slots(negativeRows, unique);
        profile?.Mark("prepare");
        var encoded = items.forward(tensor(unique.Skip(1).ToArray(), device: device));
        var vectors = cat(new[] { zeros(1, encoded.shape[1], device: device), encoded }, 0);
        profile?.Mark("items");
        return new EncodedItems(vectors, inputs, targets, negatives);
    }

    private long[] Slots(long[] rows, List<long> unique)
    {
        var slots = new long[rows.Length];
        for (int k = 0; k < rows.Length; k++)
        {
            long r = rows[k];
            if (r == 0) continue;
            if (_stamp[r] != _step) { _stamp[r] = _step; _slot[r] = unique.Count; unique.Add(r); }
            slots[k] = _slot[r];
        }
        return slots;
    }
}

/// <summary>Encoded item vectors (slot 0: padding) and the slots of a batch's input, target and negative rows.</summary>
internal sealed record EncodedItems(Tensor Vectors, long[] InputSlots, long[] TargetSlots, long[] NegativeSlots);
