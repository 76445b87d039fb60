namespace Microsoft.ML.Srt.Training;

/// <summary>Progress of one training epoch, reported through ML.NET's log and <see cref="SrtTrainer.Options.Progress"/>.</summary>
public sealed record SrtEpochReport
{
    /// <summary>1-based epoch number.</summary>
    public int Epoch { get; init; }

    /// <summary>Epochs planned (training may stop earlier).</summary>
    public int PlannedEpochs { get; init; }

    /// <summary>Mean training loss over the epoch's steps.</summary>
    public double TrainLoss { get; init; }

    /// <summary>Validation NDCG@5 (full ranking), or NaN when there is no validation set.</summary>
    public double ValidationNdcg5 { get; init; } = double.NaN;

    /// <summary>Validation HIT@5 (full ranking), or NaN when there is no validation set.</summary>
    public double ValidationHit5 { get; init; } = double.NaN;

    /// <summary>Validation NDCG@10 (full ranking), or NaN when there is no validation set.</summary>
    public double ValidationNdcg10 { get; init; } = double.NaN;

    /// <summary>Validation HIT@10 (full ranking), or NaN when there is no validation set.</summary>
    public double ValidationHit10 { get; init; } = double.NaN;

    /// <summary>Wall-clock seconds of the epoch's training steps (validation excluded).</summary>
    public double TrainSeconds { get; init; }

    /// <summary>Wall-clock seconds of the epoch's validation.</summary>
    public double ValidationSeconds { get; init; }

    /// <summary>Training sequences processed per second during the epoch.</summary>
    public double SequencesPerSecond { get; init; }

    /// <summary>Learning rate at the end of the epoch.</summary>
    public double LearningRate { get; init; }

    /// <summary>True when this epoch is the best so far on validation NDCG@10.</summary>
    public bool IsBest { get; init; }

    /// <summary>Optimizer steps taken in this epoch.</summary>
    public int Steps { get; init; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"epoch {Epoch}/{PlannedEpochs} loss {TrainLoss:F4} val NDCG@10 {ValidationNdcg10:F4} HIT@10 {ValidationHit10:F4} " +
        $"{TrainSeconds:F1}s+{ValidationSeconds:F1}s {SequencesPerSecond:F0} seq/s lr {LearningRate:G3}{(IsBest ? " *" : "")}";
}
