using Microsoft.ML.Srt.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>Full softmax: every catalog item is a candidate at every position (<c>Negatives = 0</c>).</summary>
internal sealed class FullSoftmaxObjective(SrtNetwork network, SampledSoftmaxLoss loss, int itemCount, bool repeatBias, Device device)
    : ITrainingObjective
{
    /// <inheritdoc/>
    public BatchLoss Loss(TrainingBatch batch, StepProfiler? profile)
    {
        int b = batch.Size, width = batch.Width;
        // Encode the whole catalog once per step.
        using Scalar firstRow = 1L.ToScalar(), endRow = (itemCount + 1L).ToScalar();
        var vectors = cat(new[] { zeros(1, network.Shape.Dimension, device: device),
            network.Items.forward(arange(firstRow, endRow, ScalarType.Int64, device)) }, 0);
        var hidden = network.Encode(vectors.index_select(0, tensor(batch.InputRows, device: device)).view(b, width, -1));
        var valid = batch.Positions();
        var positions = tensor(valid.Select(k => (long)k).ToArray(), device: device);
        var queries = hidden.view(b * width, -1).index_select(0, positions);
        // The bias goes on every (position, history item) cell of the [P, N] logits, each item once.
        var cells = repeatBias ? tensor(RepeatHistory.Cells(batch, valid, itemCount), device: device) : null;
        var targetRows = tensor(batch.TargetRows, device: device).index_select(0, positions);
        return new BatchLoss(loss.AllItems(queries, vectors.narrow(0, 1, itemCount), targetRows, cells, repeatBias ? network.RepeatBias : null));
    }
}
