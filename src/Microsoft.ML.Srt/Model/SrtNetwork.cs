using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Model;

/// <summary>
/// The SRT network: an <see cref="ItemEncoder"/> that turns items into vectors and a
/// <see cref="SequenceEncoder"/> that turns a history of item vectors into next-item query vectors.
/// Scores are dot products between query vectors and item vectors from the same item encoder.
/// </summary>
internal sealed class SrtNetwork : nn.Module
{
    public SrtNetwork(SrtNetworkShape shape) : base(nameof(SrtNetwork))
    {
        Shape = shape;
        Items = new ItemEncoder(shape);
        Sequences = new SequenceEncoder(shape);
        register_module("items", Items);
        register_module("sequences", Sequences);
    }

    // Children are registered above under their own names. TorchSharp would otherwise also register every module field
    // under its C# name when this module is added to a parent, so each table appeared twice in state_dict (and in model files).
    protected override void RegisterComponents() { }

    public SrtNetworkShape Shape { get; }

    public ItemEncoder Items { get; }

    public SequenceEncoder Sequences { get; }

    /// <summary>Query vectors <c>[B, L, d]</c> for right-padded histories given as item vectors <c>[B, L, d]</c>.</summary>
    public Tensor Encode(Tensor historyVectors) => Sequences.forward(historyVectors);

    /// <summary>Parameters outside the embedding tables (the paper's "non-embedding parameters").</summary>
    public long NonEmbeddingParameterCount() =>
        named_parameters().Where(p => !IsEmbedding(p.name)).Sum(p => p.parameter.numel());

    /// <summary>All trainable parameters.</summary>
    public long ParameterCount() => parameters().Sum(p => p.numel());

    private static bool IsEmbedding(string name) =>
        name.StartsWith("items.text_tokens", StringComparison.Ordinal) ||
        name.StartsWith("items.token_field_", StringComparison.Ordinal) ||
        name.StartsWith("items.ids", StringComparison.Ordinal) ||
        name.StartsWith("sequences.positions", StringComparison.Ordinal);
}
