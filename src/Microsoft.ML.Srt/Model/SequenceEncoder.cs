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
        Masks = masks;
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

    /// <summary>The dropout masks' random stream, shared by every dropout of the encoder.</summary>
    internal DropoutMaskSource Masks { get; }

    // Children are registered above under their own names. TorchSharp would otherwise also register every module field
    // under its C# name when this module is added to a parent, so each table appeared twice in state_dict (and in model files).
    protected override void RegisterComponents() { }

    /// <summary>Hidden states <c>[B, L, d]</c> for item vectors <c>[B, L, d]</c>.</summary>
    public override Tensor forward(Tensor items)
    {
        using var scope = NewDisposeScope();
        long length = items.shape[1];
        using var positionCount = length.ToScalar();
        var x = _dropout.forward(items + _positions.forward(arange(positionCount, ScalarType.Int64, items.device)));
        foreach (var block in _blocks) x = block.forward(x);
        return _finalNorm.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Inference only: the hidden state <c>[B, d]</c> of each row at its position <paramref name="last"/><c>[b]</c>, equal to
    /// <c>forward(items)[b, last[b]]</c> up to float rounding. The last block computes keys and values for every position
    /// but queries, attention and its feed-forward only there: about 40% less work for scoring, which needs one position
    /// per history.
    /// </summary>
    public Tensor ForwardLast(Tensor items, long[] last)
    {
        if (training) throw new InvalidOperationException("ForwardLast is for inference; call eval() first.");
        using var scope = NewDisposeScope();
        long b = items.shape[0], length = items.shape[1], d = items.shape[2];
        if (last.Length != b || last.Any(t => t < 0 || t >= length)) throw new ArgumentException("One last position per row, inside the sequence.", nameof(last));
        using var positionCount = length.ToScalar();
        var x = _dropout.forward(items + _positions.forward(arange(positionCount, ScalarType.Int64, items.device)));
        for (int i = 0; i < _blocks.Count - 1; i++) x = _blocks[i].forward(x);
        var at = new long[b];
        for (int r = 0; r < b; r++) at[r] = r * length + last[r];
        var atTensor = tensor(at, device: items.device);
        if (_blocks.Count == 0) return _finalNorm.forward(x.reshape(b * length, d).index_select(0, atTensor)).MoveToOuterDisposeScope();
        // Rows that end at the last column attend to everything: no mask needed (always so for one history).
        var lastTensor = last.All(t => t == length - 1) ? null : tensor(last, device: items.device);
        return _finalNorm.forward(_blocks[_blocks.Count - 1].ForwardAt(x, lastTensor, atTensor)).MoveToOuterDisposeScope();
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
        /// The block's output <c>[B, d]</c> at one position per row (<paramref name="last"/>, null when every row ends at the
        /// last column; <paramref name="at"/> = row * L + last), in evaluation mode: keys and values from every position, the
        /// query and everything after attention only there.
        /// </summary>
        public Tensor ForwardAt(Tensor x, Tensor? last, Tensor at)
        {
            using var scope = NewDisposeScope();
            long b = x.shape[0], l = x.shape[1], d = x.shape[2], dh = d / _heads;
            var normed = _norm1.forward(x);
            var weight = _qkv.weight!;
            var bias = _qkv.bias!;
            var kv = nn.functional.linear(normed, weight.narrow(0, d, 2 * d), bias.narrow(0, d, 2 * d))
                .view(b, l, 2, _heads, dh).permute(2, 0, 3, 1, 4);                                        // [2, B, H, L, dh]
            var q = nn.functional.linear(normed.reshape(b * l, d).index_select(0, at), weight.narrow(0, 0, d), bias.narrow(0, 0, d))
                .view(b, _heads, 1, dh);                                                                // [B, H, 1, dh]
            // Position t takes part when t <= last: what the causal mask gives the query at position last.
            Tensor? mask = null;
            if (last is not null)
            {
                using var positionCount = l.ToScalar();
                var after = arange(positionCount, ScalarType.Int64, x.device).unsqueeze(0).gt(last.unsqueeze(1)); // [B, L]
                mask = zeros(b, l, device: x.device).masked_fill_(after, Scalars.NegativeInfinity).view(b, 1, 1, l);
            }
            var attended = nn.functional.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask: mask!).reshape(b, d);
            var y = x.reshape(b * l, d).index_select(0, at) + _out.forward(attended);
            y = y + _down.forward(nn.functional.gelu(_up.forward(_norm2.forward(y))));
            return y.MoveToOuterDisposeScope();
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
                _causalBias = full(l, l, Scalars.NegativeInfinity, device: q.device).triu_(1).DetachFromDisposeScope();
            }
            using var scale = (1.0 / Math.Sqrt(q.shape[3])).ToScalar();
            var scores = q.matmul(k.transpose(-2, -1)).mul_(scale).add_(_causalBias);
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
