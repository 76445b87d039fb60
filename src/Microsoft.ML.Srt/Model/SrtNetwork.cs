using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Model;

/// <summary>
/// The SRT network: an <see cref="ItemEncoder"/> that turns items into vectors and a
/// <see cref="SequenceEncoder"/> that turns a history of item vectors into next-item query vectors.
/// Scores are dot products between query vectors and item vectors from the same item encoder.
/// </summary>
internal sealed class SrtNetwork : nn.Module
{
    /// <param name="shape">The network shape.</param>
    /// <param name="initializeTables">False leaves the item encoder's embedding tables uninitialised: for a loader that
    /// overwrites every weight.</param>
    public SrtNetwork(SrtNetworkShape shape, bool initializeTables = true) : base(nameof(SrtNetwork))
    {
        Shape = shape;
        Items = new ItemEncoder(shape, initializeTables);
        Sequences = new SequenceEncoder(shape);
        register_module("items", Items);
        register_module("sequences", Sequences);
        RepeatBias = nn.Parameter(zeros(1));
        register_parameter(RepeatBiasName, RepeatBias);
    }

    // Children are registered above under their own names. TorchSharp would otherwise also register every module field
    // under its C# name when this module is added to a parent, so each table appeared twice in state_dict (and in model files).
    protected override void RegisterComponents() { }

    public SrtNetworkShape Shape { get; }

    public ItemEncoder Items { get; }

    public SequenceEncoder Sequences { get; }

    /// <summary>
    /// A learned offset, in similarity units, added to the score of every item the history already holds: how much
    /// more (or less) likely a user is to take an item again than its similarity says. A text encoder puts the history
    /// items next to the query by construction; where users never repeat (Amazon Beauty), training drives this below
    /// zero. Zero in a network trained without it (and in model files written before it existed).
    /// </summary>
    public Parameter RepeatBias { get; }

    /// <summary>The name of <see cref="RepeatBias"/> in the state dict.</summary>
    public const string RepeatBiasName = "repeat_bias";

    /// <summary><see cref="RepeatBias"/> as a number, for scoring.</summary>
    public float RepeatOffset() { using var _ = no_grad(); return RepeatBias.cpu().item<float>(); }

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
