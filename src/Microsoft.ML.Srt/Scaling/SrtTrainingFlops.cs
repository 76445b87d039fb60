namespace Microsoft.ML.Srt.Scaling;

/// <summary>
/// The analytic compute of training and scoring one SRT configuration on one training set (docs/scaling.md, "Accounting").
/// FLOPs count a multiply-add as 2; backward is counted as twice the forward pass; padding is excluded.
/// </summary>
public sealed record SrtTrainingFlops
{
    /// <summary>Trainable parameters (N in the paper's eq. 4: embedding tables included).</summary>
    public long Parameters { get; init; }

    /// <summary>Parameters outside the embedding tables and learned positions.</summary>
    public long NonEmbeddingParameters { get; init; }

    /// <summary>Interactions in the training data (T in the paper's eq. 4).</summary>
    public long Interactions { get; init; }

    /// <summary>Training sequences: users with at least two interactions, each cut to its last MaxLength + 1 items.</summary>
    public int Sequences { get; init; }

    /// <summary>Positions trained per epoch: interactions predicted from a history (the sequences' lengths minus one).</summary>
    public long PositionsPerEpoch { get; init; }

    /// <summary>Optimizer steps per epoch.</summary>
    public int StepsPerEpoch { get; init; }

    /// <summary>Training FLOPs of one epoch (forward and backward).</summary>
    public double FlopsPerEpoch { get; init; }

    /// <summary>Mean training FLOPs of one step (<see cref="FlopsPerEpoch"/> / <see cref="StepsPerEpoch"/>).</summary>
    public double FlopsPerStep => StepsPerEpoch == 0 ? 0 : FlopsPerEpoch / StepsPerEpoch;

    /// <summary>Forward FLOPs of encoding the whole catalog once (scoring does it once per catalog).</summary>
    public double CatalogEncodingFlops { get; init; }

    /// <summary>Mean forward FLOPs of scoring one user (the training users' histories) against the whole catalog, the
    /// catalog's item vectors already computed.</summary>
    public double ScoringFlopsPerUser { get; init; }

    /// <summary>Training FLOPs of <paramref name="epochs"/> epochs (fractions allowed: a cut epoch counts its share of steps).</summary>
    public double RunFlops(double epochs) => epochs * FlopsPerEpoch;

    /// <summary>Training FLOPs after <paramref name="steps"/> optimizer steps, at the mean cost of a step.</summary>
    public double FlopsAfterSteps(long steps) => steps * FlopsPerStep;
}
