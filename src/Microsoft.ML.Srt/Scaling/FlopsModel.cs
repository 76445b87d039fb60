using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>
/// The analytic FLOP count of SRT (docs/scaling.md, "Accounting"). A multiply-add counts as 2 FLOPs; mean pooling counts one
/// FLOP per added element. Only matrix products and pooling are counted: element-wise work (layer norms, GELU, softmax,
/// dropout, residual adds, biases) is O(d) per position against the O(d²) of the products, and is left out. Padding is
/// excluded: a sequence of l real positions costs what l positions cost, and attention is counted over its l × l scores
/// (what a dense kernel computes, the masked half included). Backward is counted as twice the forward pass.
/// </summary>
internal sealed record FlopsModel(
    int Dimension,
    int Layers,
    int Heads,
    int FeedForwardMultiplier,
    int MaxLength,
    double[] TokensPerField, // mean real tokens per item, per concatenated field; empty without text
    bool UsesText,
    bool UsesIds,
    int Negatives,           // 0: every catalog item (full softmax)
    NegativeSharing Sharing,
    bool RepeatBias,
    int CatalogSize,
    int BatchSize)
{
    /// <summary>Training costs forward + backward ≈ 3 × forward.</summary>
    public const double TrainingMultiplier = 3;

    private double D => Dimension;

    /// <summary>Forward FLOPs of encoding one item: pooling each field's tokens, then the adapter [F·d → d].</summary>
    public double ItemForward()
    {
        if (!UsesText) return 0;
        double pooling = TokensPerField.Sum() * D;
        double adapter = 2.0 * TokensPerField.Length * D * D;
        return pooling + adapter;
    }

    /// <summary>Forward FLOPs per real position of the transformer's dense layers: QKV (3d²), output (d²), feed-forward (2md²).</summary>
    public double DensePerPosition() => Layers * 2.0 * (4 + 2 * FeedForwardMultiplier) * D * D;

    /// <summary>Forward FLOPs of attention over a sequence of <paramref name="l"/> real positions: scores QKᵀ (l²d) and the
    /// weighted sum of values (l²d), per layer, all heads together.</summary>
    public double Attention(double l) => Layers * 2.0 * 2 * l * l * D;

    /// <summary>Forward FLOPs of the loss's products per real position: the target's score and the negatives' (or every item's).</summary>
    public double LossPerPosition() => Negatives > 0 ? 2.0 * D * (1 + Negatives) : 2.0 * D * CatalogSize;

    /// <summary>Forward FLOPs of the repeat term over one sequence: its l × l history logits (sampled softmax only; the full
    /// softmax adds the bias to logits it has already computed).</summary>
    public double Repeat(double l) => RepeatBias && Negatives > 0 ? 2.0 * l * l * D : 0;

    /// <summary>Items one step encodes: the windows' items and the negatives (sampled), or the whole catalog (full softmax).
    /// Training encodes each distinct item of a step once, so for sampled softmax this is an upper bound.</summary>
    public double ItemsEncoded(IReadOnlyCollection<int> lengths) => Negatives > 0
        ? lengths.Sum(l => l + 1.0) + (double)Negatives * (Sharing == NegativeSharing.PerSequence ? lengths.Count : 1)
        : CatalogSize;

    /// <summary>Forward FLOPs of one training step on sequences with these real position counts.</summary>
    public double StepForward(IReadOnlyCollection<int> lengths) =>
        ItemsEncoded(lengths) * ItemForward() + lengths.Sum(l => SequenceForward(l));

    /// <summary>Forward FLOPs of the sequence encoder and the loss for one training sequence of <paramref name="l"/> positions.</summary>
    public double SequenceForward(int l) => l * (DensePerPosition() + LossPerPosition()) + Attention(l) + Repeat(l);

    /// <summary>
    /// Forward FLOPs of one epoch over training sequences with these real position counts, batched
    /// <see cref="BatchSize"/> at a time. Every term but the negatives' item encoding is a sum over sequences, so how
    /// sequences are grouped into batches does not matter.
    /// </summary>
    public double EpochForward(IReadOnlyCollection<int> lengths)
    {
        long batches = (lengths.Count + BatchSize - 1) / BatchSize;
        double items = Negatives > 0
            ? lengths.Sum(l => l + 1.0) + (double)Negatives * (Sharing == NegativeSharing.PerSequence ? lengths.Count : batches)
            : (double)CatalogSize * batches;
        return items * ItemForward() + lengths.Sum(l => SequenceForward(l));
    }

    /// <summary>Forward FLOPs of scoring one history of <paramref name="h"/> items against the catalog (item vectors already
    /// computed), as <c>SequenceEncoder.ForwardLast</c> does it: every layer but the last over all positions; the last one
    /// computes keys and values everywhere and the rest at the last position only.</summary>
    public double ScoringForward(int h)
    {
        h = Math.Clamp(h, 1, MaxLength);
        double m = FeedForwardMultiplier;
        double body = Layers == 0 ? 0 : (Layers - 1) * (h * 2.0 * (4 + 2 * m) * D * D + 4.0 * h * h * D)
            + h * 2.0 * 2 * D * D           // keys and values
            + 2.0 * (2 + 2 * m) * D * D     // query, output projection, feed-forward at one position
            + 4.0 * h * D;                  // one query's attention
        return body + 2.0 * D * CatalogSize;
    }

    /// <summary>Forward FLOPs of encoding the whole catalog once (scoring does it once per catalog).</summary>
    public double CatalogEncoding() => (double)CatalogSize * ItemForward();

    /// <summary>The model's shape as a <see cref="FlopsModel"/>, with the catalog's token counts (mean real tokens per item, per field).</summary>
    public static FlopsModel From(SrtNetworkShape shape, IReadOnlyList<ItemTokenMatrix> fields, SrtTrainer.Options o, int catalogSize) => new(
        shape.Dimension, shape.Layers, shape.Heads, shape.FeedForwardMultiplier, shape.MaxLength,
        shape.UsesText ? fields.Select(MeanTokens).ToArray() : Array.Empty<double>(), shape.UsesText, shape.UsesIds,
        o.Negatives, o.NegativeSharing, o.LearnRepeatBias, catalogSize, o.BatchSize);

    /// <summary>Mean non-padding tokens per item (row 0, the padding item, excluded).</summary>
    internal static double MeanTokens(ItemTokenMatrix m)
    {
        if (m.Rows <= 1) return 0;
        long real = 0;
        for (long k = m.Width; k < m.Tokens.Length; k++) if (m.Tokens[k] != 0) real++;
        return (double)real / (m.Rows - 1);
    }

    /// <summary>Trainable parameters of a network of this shape (as <see cref="SrtNetwork.ParameterCount"/> counts them), total
    /// and outside the embedding tables and positions.</summary>
    public static (long Total, long NonEmbedding) Parameters(SrtNetworkShape s)
    {
        long d = s.Dimension, m = s.FeedForwardMultiplier;
        long embedding = (long)s.MaxLength * d;
        long dense = 1; // the repeat bias
        if (s.UsesText)
        {
            embedding += s.TextVocabularySize * d + s.TokenFieldTableSizes.Sum(t => (long)t) * d;
            long fields = s.TextFieldCount + s.TokenFieldTableSizes.Length;
            dense += fields * d * d + d;
        }
        if (s.UsesIds) embedding += s.IdTableSize * d;
        long perLayer = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (m * d * d + m * d) + (m * d * d + d);
        dense += s.Layers * perLayer + 2 * d;
        return (embedding + dense, dense);
    }
}
