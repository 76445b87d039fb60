using Microsoft.ML.Srt.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>Sampled softmax with one set of negatives shared by every position of the batch (the default).</summary>
internal sealed class SharedNegativesObjective(SrtNetwork network, SampledSoftmaxLoss loss, DistinctItems items, PopularitySampler sampler,
    Random random, int negatives, bool repeatBias, Device device) : ITrainingObjective
{
    /// <inheritdoc/>
    /// <remarks>With a profiler the graph is cut between the encoders and the loss so that each backward stage is timed
    /// on its own (<see cref="StagedBackward"/>); the gradients are the same.</remarks>
    public BatchLoss Loss(TrainingBatch batch, StepProfiler? profile)
    {
        int b = batch.Size, width = batch.Width;
        var drawn = new int[negatives];
        sampler.Sample(random, drawn);
        var negativeRows = drawn.Select(n => (long)n + 1).ToArray();
        var encoded = items.Encode(batch, negativeRows, profile);
        var inputSlots = tensor(encoded.InputSlots, device: device);
        bool staged = profile is not null;
        var vectorsForSequences = staged ? encoded.Vectors.detach().requires_grad_(true) : encoded.Vectors;
        var sequenceInput = vectorsForSequences.index_select(0, inputSlots).view(b, width, -1);
        var encoderOutput = network.Encode(sequenceInput);
        profile?.Mark("sequences");
        var hidden = staged ? encoderOutput.detach().requires_grad_(true) : encoderOutput;
        // From here on the loss reads item vectors through its own cut point (the same tensor when not staged).
        var vectors = staged ? encoded.Vectors.detach().requires_grad_(true) : encoded.Vectors;
        var inputVectors = staged ? vectors.index_select(0, inputSlots).view(b, width, -1) : sequenceInput;

        // Tensors are made in the order the loop made them before it was split: libtorch's rounding can follow allocation.
        var targetRows = tensor(batch.TargetRows, device: device);
        var all = repeatBias ? RepeatHistory.Term(loss, batch, hidden, inputVectors, network.RepeatBias, device) : null;
        var positions = tensor(batch.Positions().Select(k => (long)k).ToArray(), device: device);
        var queries = hidden.view(b * width, -1).index_select(0, positions);
        var targets = vectors.index_select(0, tensor(encoded.TargetSlots, device: device).index_select(0, positions));
        var history = all is null ? null : new HistoryTerm(all.Logits.index_select(0, positions), all.TargetOffset.index_select(0, positions));
        var value = loss.SharedNegatives(queries, targets, targetRows.index_select(0, positions),
            vectors.index_select(0, tensor(encoded.NegativeSlots, device: device)), tensor(negativeRows, device: device), history);
        return new BatchLoss(value, staged ? new StagedBackward(encoded.Vectors, vectorsForSequences, encoderOutput, hidden, vectors) : null);
    }
}
