using Microsoft.ML.Srt.Model;

namespace Microsoft.ML.Srt.Training;

/// <summary>
/// A span of epochs with one learning-rate peak (a one-cycle schedule of its own) and one set of trainable parameters:
/// the top <see cref="TopLayers"/> transformer layers (with the final norm and the repeat bias above them), or the whole
/// network when <see cref="TopLayers"/> is null.
/// </summary>
internal sealed record TrainingStage(int FirstEpoch, int LastEpoch, double LearningRate, int? TopLayers)
{
    /// <summary>True when every parameter, the item encoder's included, trains.</summary>
    public bool All => TopLayers is null;

    /// <summary>How far into this stage a run is whose overall progress is <paramref name="fraction"/> of <paramref name="epochs"/>.</summary>
    public double Progress(double fraction, int epochs)
    {
        int length = LastEpoch - FirstEpoch + 1;
        return Math.Clamp((fraction * epochs - (FirstEpoch - 1)) / length, 0, 1);
    }
}

/// <summary>The stages of a fit: one for an ordinary fit, one per layer then one for everything with progressive unfreezing.</summary>
internal static class TrainingStages
{
    public static IReadOnlyList<TrainingStage> Plan(SrtTrainer.Options o, int layers)
    {
        if (o.FineTuning != FineTuningSchedule.Progressive) return [new TrainingStage(1, o.Epochs, o.LearningRate, null)];
        var stages = new List<TrainingStage>();
        int next = 1;
        for (int k = 1; k <= layers && next <= o.Epochs; k++)
        {
            int last = Math.Min(o.Epochs, next + o.StageEpochs - 1);
            stages.Add(new TrainingStage(next, last, o.StageLearningRate ?? o.LearningRate, k));
            next = last + 1;
        }
        if (next <= o.Epochs) stages.Add(new TrainingStage(next, o.Epochs, o.LearningRate, null));
        return stages;
    }

    /// <summary>
    /// Sets which dense parameters autograd trains for <paramref name="stage"/> (the embedding tables are trained by
    /// <see cref="LazyAdamW"/> and never require gradients; the session skips their update while they are frozen).
    /// </summary>
    public static void Apply(SrtNetwork network, TrainingStage stage, bool learnRepeatBias)
    {
        var tables = network.Items.Tables.Select(t => t.Weight.Handle).ToHashSet();
        int layers = network.Shape.Layers;
        foreach (var (name, p) in network.named_parameters())
        {
            if (tables.Contains(p.Handle)) continue;
            bool trainable = stage.All || name.StartsWith("sequences.final_norm.", StringComparison.Ordinal)
                || Enumerable.Range(layers - stage.TopLayers!.Value, stage.TopLayers.Value)
                    .Any(layer => name.StartsWith($"sequences.blocks.{layer}.", StringComparison.Ordinal));
            p.requires_grad_(trainable);
        }
        network.RepeatBias.requires_grad_(learnRepeatBias);
    }
}
