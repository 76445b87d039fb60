namespace Microsoft.ML.Srt.Scaling;

/// <summary>
/// One row of a runs table (docs/scaling.md, "The runs table"): one validation of one training run, or the run's final row
/// with its test metrics. Optional numbers are null where a run did not measure them (written as empty fields).
/// </summary>
public sealed record SrtRunsTableRow
{
    /// <summary>Identifies the run: every row of one run has the same id. Column <c>run_id</c>.</summary>
    public required string RunId { get; init; }

    /// <summary>The dataset's name. Column <c>dataset</c>.</summary>
    public string Dataset { get; init; } = "";

    /// <summary>Users in the training data. Column <c>users</c>.</summary>
    public long Users { get; init; }

    /// <summary>Items in the catalog. Column <c>items</c>.</summary>
    public long Items { get; init; }

    /// <summary>Interactions in the training data (T in the paper's eq. 4). Column <c>interactions</c>.</summary>
    public long Interactions { get; init; }

    /// <summary>Interactions trained on so far (positions, over all epochs). Column <c>interactions_seen</c>.</summary>
    public double InteractionsSeen { get; init; }

    /// <summary>The model size's preset name, or empty. Column <c>preset</c>.</summary>
    public string Preset { get; init; } = "";

    /// <summary>Transformer layers. Column <c>layers</c>.</summary>
    public int Layers { get; init; }

    /// <summary>Attention heads. Column <c>heads</c>.</summary>
    public int Heads { get; init; }

    /// <summary>Model width. Column <c>d</c>.</summary>
    public int Dimension { get; init; }

    /// <summary>Sampled negatives per step; 0 for the full softmax. Column <c>negatives</c>.</summary>
    public int Negatives { get; init; }

    /// <summary>Trainable parameters (N in the paper's eq. 4). Column <c>parameters</c>.</summary>
    public long Parameters { get; init; }

    /// <summary>Parameters outside the embedding tables. Column <c>non_embedding_parameters</c>.</summary>
    public long NonEmbeddingParameters { get; init; }

    /// <summary>The epoch this row describes (1-based; may be fractional for a run whose last epoch was cut). Column <c>epoch</c>.</summary>
    public double Epoch { get; init; }

    /// <summary>Training FLOPs spent up to this row. Column <c>flops</c>.</summary>
    public double Flops { get; init; }

    /// <summary>Wall-clock seconds of training steps up to this row, or null. Column <c>train_seconds</c>.</summary>
    public double? TrainSeconds { get; init; }

    /// <summary>Validation NDCG@5. Column <c>val_ndcg5</c>.</summary>
    public double? ValidationNdcg5 { get; init; }

    /// <summary>Validation HIT@5. Column <c>val_hit5</c>.</summary>
    public double? ValidationHit5 { get; init; }

    /// <summary>Validation NDCG@10. Column <c>val_ndcg10</c>.</summary>
    public double? ValidationNdcg10 { get; init; }

    /// <summary>Test NDCG@5, on the run's final row only. Column <c>test_ndcg5</c>.</summary>
    public double? TestNdcg5 { get; init; }

    /// <summary>Test HIT@5, on the run's final row only. Column <c>test_hit5</c>.</summary>
    public double? TestHit5 { get; init; }

    /// <summary>Test NDCG@10, on the run's final row only. Column <c>test_ndcg10</c>.</summary>
    public double? TestNdcg10 { get; init; }
}
