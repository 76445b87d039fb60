using Microsoft.ML.Srt.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>
/// What training minimises: the mean loss of a batch of training windows, as RecBole's <c>calculate_loss</c>. The
/// session asks for it and runs the backward pass, clipping and the optimizer; it does not know which loss runs.
/// </summary>
internal interface ITrainingObjective
{
    /// <summary>The batch's loss, its graph reaching the network's parameters; tensors live in the caller's dispose scope.</summary>
    /// <param name="batch">Input and target rows of the batch.</param>
    /// <param name="profile">Times the phases of the step when not null (a shared-negatives step then stages its backward).</param>
    BatchLoss Loss(TrainingBatch batch, StepProfiler? profile);
}

/// <summary>A batch's loss and, when profiled, the cut points that let its backward run one encoder at a time.</summary>
internal sealed record BatchLoss(Tensor Value, StagedBackward? Stages = null)
{
    /// <summary>Backpropagates <see cref="Value"/> into the parameters' gradients.</summary>
    public void Backward(StepProfiler? profile)
    {
        Value.backward();
        if (Stages is null) { profile?.Mark("backward"); return; }
        profile!.Mark("backward loss");
        Stages.EncoderOutput.backward([Stages.Hidden.grad!]);
        profile.Mark("backward sequences");
        Stages.Vectors.backward([Stages.VectorsForLoss.grad! + Stages.VectorsForSequences.grad!]);
        profile.Mark("backward items");
    }
}

/// <summary>The cut points of a profiled step: the loss reads detached copies of the encoders' outputs, whose gradients
/// are then passed on by hand, one encoder at a time.</summary>
internal sealed record StagedBackward(Tensor Vectors, Tensor VectorsForSequences, Tensor EncoderOutput, Tensor Hidden, Tensor VectorsForLoss);

/// <summary>Picks the objective the options ask for.</summary>
internal static class TrainingObjectives
{
    /// <param name="network">The network being trained.</param>
    /// <param name="options">Negatives, sharing, temperature, similarity, logQ correction and the repeat bias.</param>
    /// <param name="sampler">Draws negatives by popularity.</param>
    /// <param name="random">The run's random source, shared with the batcher: draws must keep their order.</param>
    /// <param name="itemCount">Catalog items (item rows 1..itemCount; row 0 is padding).</param>
    /// <param name="device">Where the network lives.</param>
    public static ITrainingObjective Create(SrtNetwork network, SrtTrainer.Options options, PopularitySampler sampler, Random random,
        int itemCount, Device device)
    {
        Tensor? logQ = null;
        if (options.LogQCorrection && options.Negatives > 0)
            logQ = tensor(new float[] { 0f }.Concat(sampler.LogProbability()).ToArray(), device: device);
        var loss = new SampledSoftmaxLoss(options.Temperature, options.CosineSimilarity, logQ, itemCount + 1);
        if (options.Negatives <= 0) return new FullSoftmaxObjective(network, loss, itemCount, options.LearnRepeatBias, device);
        var items = new DistinctItems(network.Items, itemCount, device);
        return options.NegativeSharing == NegativeSharing.PerSequence
            ? new PerSequenceObjective(network, loss, items, sampler, random, options.Negatives, options.LearnRepeatBias, device)
            : new SharedNegativesObjective(network, loss, items, sampler, random, options.Negatives, options.LearnRepeatBias, device);
    }
}
