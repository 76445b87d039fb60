using Microsoft.ML.Srt.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>Sampled softmax with a set of negatives drawn per sequence (the paper's way).</summary>
internal sealed class PerSequenceObjective(SrtNetwork network, SampledSoftmaxLoss loss, DistinctItems items, PopularitySampler sampler,
    Random random, int negatives, bool repeatBias, Device device) : ITrainingObjective
{
    /// <inheritdoc/>
    public BatchLoss Loss(TrainingBatch batch, StepProfiler? profile)
    {
        int b = batch.Size, width = batch.Width;
        var drawn = new int[negatives * b];
        sampler.Sample(random, drawn);
        var negativeRows = drawn.Select(n => (long)n + 1).ToArray();
        var encoded = items.Encode(batch, negativeRows, profile);
        var vectors = encoded.Vectors;
        var inputVectors = vectors.index_select(0, tensor(encoded.InputSlots, device: device)).view(b, width, -1);
        var hidden = network.Encode(inputVectors);
        profile?.Mark("sequences");
        var history = repeatBias ? RepeatHistory.Term(loss, batch, hidden, inputVectors, network.RepeatBias, device) : null;
        var targets = vectors.index_select(0, tensor(encoded.TargetSlots, device: device)).view(b, width, -1);
        var negativeVectors = vectors.index_select(0, tensor(encoded.NegativeSlots, device: device)).view(b, negatives, -1);
        return new BatchLoss(loss.PerSequenceNegatives(hidden, targets, tensor(batch.TargetRows, device: device).view(b, width),
            negativeVectors, tensor(negativeRows, device: device).view(b, negatives), history));
    }
}
