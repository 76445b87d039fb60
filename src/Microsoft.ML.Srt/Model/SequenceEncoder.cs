using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Model;

/// <summary>
/// A causal transformer over item vectors (SASRec-style): learned positions, pre-norm blocks, and a final
/// layer norm. Output position t has seen items 0..t only, so it predicts item t + 1. Sequences are
/// right-padded: thanks to the causal mask no real position ever attends to padding.
/// Dropout masks come from <see cref="DropoutMaskSource"/> (see there for why).
/// </summary>
internal sealed class SequenceEncoder : nn.Module<Tensor, Tensor>
{
    private readonly Embedding _positions;
    private readonly FastDropout _dropout;
    private readonly ModuleList<TransformerBlock> _blocks;
    private readonly LayerNorm _finalNorm;

    public SequenceEncoder(SrtNetworkShape shape) : base(nameof(SequenceEncoder))
    {
        _positions = nn.Embedding(shape.MaxLength, shape.Dimension);
        // Seeded from torch's generator, so torch.manual_seed fixes the dropout masks too.
        var masks = new DropoutMaskSource((ulong)randint(0, long.MaxValue, new long[] { 1 }, ScalarType.Int64).item<long>());
        _dropout = new FastDropout(shape.Dropout, masks);
        _blocks = new ModuleList<TransformerBlock>();
        for (int i = 0; i < shape.Layers; i++) _blocks.Add(new TransformerBlock(shape, masks));
        _finalNorm = nn.LayerNorm(shape.Dimension);
        register_module("positions", _positions);
        register_module("dropout", _dropout);
        register_module("blocks", _blocks);
        register_module("final_norm", _finalNorm);
        using (no_grad()) nn.init.normal_(_positions.weight!, 0, 0.02);
    }

    // Children are registered above under their own names. TorchSharp would otherwise also register every module field
    // under its C# name when this module is added to a parent, so each table appeared twice in state_dict (and in model files).
    protected override void RegisterComponents() { }

    /// <summary>Hidden states <c>[B, L, d]</c> for item vectors <c>[B, L, d]</c>.</summary>
    public override Tensor forward(Tensor items)
    {
        using var scope = NewDisposeScope();
        long length = items.shape[1];
        var x = _dropout.forward(items + _positions.forward(arange(length, ScalarType.Int64, items.device)));
        foreach (var block in _blocks) x = block.forward(x);
        return _finalNorm.forward(x).MoveToOuterDisposeScope();
    }

    private sealed class TransformerBlock : nn.Module<Tensor, Tensor>
    {
        private readonly int _heads;
        private readonly double _attentionDropout;
        private readonly LayerNorm _norm1, _norm2;
        private readonly Linear _qkv, _out, _up, _down;
        private readonly FastDropout _dropout;
        private readonly DropoutMaskSource _masks;
        private Tensor? _causalBias; // [L, L]: 0 on and below the diagonal, −inf above

        public TransformerBlock(SrtNetworkShape shape, DropoutMaskSource masks) : base(nameof(TransformerBlock))
        {
            _masks = masks;
            int d = shape.Dimension;
            _heads = shape.Heads;
            _attentionDropout = shape.Dropout;
            _norm1 = nn.LayerNorm(d);
            _norm2 = nn.LayerNorm(d);
            _qkv = nn.Linear(d, 3 * d);
            _out = nn.Linear(d, d);
            _up = nn.Linear(d, shape.FeedForwardMultiplier * d);
            _down = nn.Linear(shape.FeedForwardMultiplier * d, d);
            _dropout = new FastDropout(shape.Dropout, masks);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            long b = x.shape[0], l = x.shape[1], d = x.shape[2];
            var qkv = _qkv.forward(_norm1.forward(x)).view(b, l, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4);
            var attended = training && _attentionDropout > 0 && x.device_type == DeviceType.CPU
                ? AttentionWithDropout(qkv[0], qkv[1], qkv[2])
                : nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2],
                    p: training ? _attentionDropout : 0.0, is_casual: true);
            x = x + _dropout.forward(_out.forward(attended.transpose(1, 2).reshape(b, l, d)));
            x = x + _dropout.forward(_down.forward(nn.functional.gelu(_up.forward(_norm2.forward(x)))));
            return x.MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Causal attention with dropout on the attention weights, written out: with dropout, libtorch's CPU
        /// sdpa falls back to this same computation but draws its mask with the slow generator.
        /// </summary>
        private Tensor AttentionWithDropout(Tensor q, Tensor k, Tensor v)
        {
            long l = q.shape[2];
            if (_causalBias is null || _causalBias.shape[0] != l)
            {
                _causalBias?.Dispose();
                _causalBias = full(l, l, double.NegativeInfinity, device: q.device).triu_(1).DetachFromDisposeScope();
            }
            var scores = q.matmul(k.transpose(-2, -1)).mul_(1.0 / Math.Sqrt(q.shape[3])).add_(_causalBias);
            var weights = FastDropout.Apply(scores.softmax(-1), _attentionDropout, true, _masks);
            return weights.matmul(v);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _causalBias?.Dispose();
            base.Dispose(disposing);
        }
    }
}
