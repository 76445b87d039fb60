using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Model;

/// <summary>
/// A fixed-size embedding table whose training touches only the rows a step uses. In training, each lookup
/// gathers the distinct rows it needs into a small leaf tensor; after backward, <see cref="LazyAdamW"/>
/// updates just those rows. A dense optimizer would instead read and write the whole table every step
/// (GPT-2's 50,257 tokens x d), which on a CPU costs more than the rest of the step together.
/// Row 0 is padding: it is never trained and pools to nothing.
/// </summary>
internal sealed class LazyEmbedding : nn.Module
{
    private readonly List<(Tensor Rows, Tensor Leaf)> _touched = new();

    /// <param name="name">Module name.</param>
    /// <param name="rows">Table rows, padding row 0 included.</param>
    /// <param name="dimension">Embedding width.</param>
    /// <param name="initialize">False leaves the table uninitialised, for a loader that overwrites every row (a 50,257-row
    /// table's normal draw is a tenth of a second of a model load).</param>
    public LazyEmbedding(string name, long rows, long dimension, bool initialize = true) : base(name)
    {
        var w = empty(rows, dimension);
        if (initialize)
            using (no_grad())
            {
                nn.init.normal_(w, 0, 0.02);
                w[0].zero_();
            }
        // Not trained by autograd: LazyAdamW updates it from the gathered leaves.
        Weight = new Parameter(w, requires_grad: false);
        register_parameter("weight", Weight);
    }

    public Parameter Weight { get; }

    /// <summary>The (rows, leaf) pairs gathered since the last optimizer step.</summary>
    internal IReadOnlyList<(Tensor Rows, Tensor Leaf)> Touched => _touched;

    internal void ClearTouched()
    {
        foreach (var (rows, leaf) in _touched) { rows.Dispose(); leaf.Dispose(); }
        _touched.Clear();
    }

    /// <summary>Embeddings <c>[..., d]</c> of row ids of any shape.</summary>
    public Tensor Lookup(Tensor ids)
    {
        if (!training || !is_grad_enabled()) return Weight.index_select(0, ids.flatten()).view(Shape(ids));
        var (leaf, local) = Gather(ids.flatten());
        return leaf.index_select(0, local).view(Shape(ids));
    }

    /// <summary>Mean of the embeddings of each row of <paramref name="tokens"/> <c>[M, W]</c>, padding (0) excluded: <c>[M, d]</c>. All-padding rows give zeros.</summary>
    public Tensor MeanPool(Tensor tokens)
    {
        // embedding_bag pools without materialising the [M, W, d] lookups (5x less memory traffic on a CPU).
        if (!training || !is_grad_enabled()) return Pool(Weight, tokens);
        var (leaf, local) = Gather(tokens.flatten());
        return Pool(leaf, local.view_as(tokens));
    }

    private static Tensor Pool(Tensor table, Tensor tokens)
    {
        // Bags of the non-padding tokens given by offsets: libtorch's fast path, which padding_idx would turn off.
        var present = tokens.ne(Scalars.Zero);
        var counts = present.sum(1);
        // freeze mirrors the table's own flag: from_pretrained sets requires_grad on the tensor it is given.
        using var bag = nn.EmbeddingBag_from_pretrained(table, freeze: !table.requires_grad, mode: EmbeddingBagMode.Mean);
        return bag.forward(tokens.masked_select(present), counts.cumsum(0) - counts, null);
    }

    /// <summary>
    /// Gathers the distinct rows of <paramref name="ids"/> into a new leaf (remembered for <see cref="LazyAdamW"/>)
    /// and returns it with each id's position in it. Row 0 (padding) is always the leaf's row 0. Distinct rows
    /// are found with a table-sized flag vector, O(ids + table), not a sort.
    /// </summary>
    private (Tensor Leaf, Tensor Local) Gather(Tensor ids)
    {
        long rows = Weight.shape[0];
        var used = zeros(rows, ScalarType.Bool, ids.device).index_fill_(0, ids, Scalars.True);
        used[0].fill_(Scalars.True);
        var unique = used.nonzero().squeeze(1);                                                   // ascending, starts with 0
        using var uniqueCount = unique.shape[0].ToScalar();
        var position = zeros(rows, ScalarType.Int64, ids.device).index_copy_(0, unique, arange(uniqueCount, ScalarType.Int64, ids.device));
        var leaf = Weight.index_select(0, unique).detach().requires_grad_(true);
        _touched.Add((unique.DetachFromDisposeScope(), leaf.DetachFromDisposeScope()));
        return (leaf, position.index_select(0, ids));
    }

    private long[] Shape(Tensor ids) => ids.shape.Append(Weight.shape[1]).ToArray();
}

/// <summary>
/// AdamW for <see cref="LazyEmbedding"/> tables that updates only the rows a step touched (moments and
/// decoupled weight decay included), as TensorFlow's LazyAdam and PyTorch's SparseAdam do. Rows a step
/// does not use keep their values and moments.
/// </summary>
internal sealed class LazyAdamW : IDisposable
{
    private readonly LazyEmbedding[] _tables;
    private readonly Tensor[] _m, _v;
    private readonly double _beta1, _beta2, _eps, _weightDecay;
    private long _step;

    public LazyAdamW(IEnumerable<LazyEmbedding> tables, double weightDecay, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        _tables = tables.ToArray();
        _m = _tables.Select(t => zeros_like(t.Weight)).ToArray();
        _v = _tables.Select(t => zeros_like(t.Weight)).ToArray();
        _beta1 = beta1; _beta2 = beta2; _eps = eps; _weightDecay = weightDecay;
    }

    /// <summary>Per table, the touched rows and their summed gradients (a row gathered twice in one step counts once).</summary>
    public List<(int Table, Tensor Rows, Tensor Grad)> CollectGradients()
    {
        var result = new List<(int, Tensor, Tensor)>();
        for (int t = 0; t < _tables.Length; t++)
        {
            var touched = _tables[t].Touched.Where(p => p.Leaf.grad is not null).ToList();
            if (touched.Count == 0) continue;
            if (touched.Count == 1) { result.Add((t, touched[0].Rows.alias(), touched[0].Leaf.grad!.alias())); continue; }
            var rows = cat(touched.Select(p => p.Rows).ToArray(), 0);
            var grads = cat(touched.Select(p => p.Leaf.grad!).ToArray(), 0);
            var (unique, inverse, _) = rows.unique(sorted: true, return_inverse: true);
            result.Add((t, unique, zeros(unique.shape[0], grads.shape[1], device: grads.device).index_add_(0, inverse!, grads, Scalars.One)));
        }
        return result;
    }

    /// <summary>Applies one AdamW step at learning rate <paramref name="lr"/> to the gathered rows, then forgets them.</summary>
    public void Step(double lr, List<(int Table, Tensor Rows, Tensor Grad)> gradients)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        _step++;
        double c1 = 1 - Math.Pow(_beta1, _step), c2 = 1 - Math.Pow(_beta2, _step);
        // Explicit Scalars, alive until the calls return (see Scalars).
        using Scalar beta1 = _beta1.ToScalar(), keep1 = (1 - _beta1).ToScalar(), beta2 = _beta2.ToScalar(), keep2 = (1 - _beta2).ToScalar(),
            decay = (1 - lr * _weightDecay).ToScalar(), correction1 = c1.ToScalar(), correction2 = c2.ToScalar(), eps = _eps.ToScalar(),
            rate = lr.ToScalar();
        foreach (var (t, rows0, g) in gradients)
        {
            // Never train the padding row.
            var keep = rows0.ne(Scalars.Zero).nonzero().squeeze(1);
            var rows = rows0.index_select(0, keep);
            var grad = g.index_select(0, keep);
            var m = _m[t].index_select(0, rows).mul_(beta1).add_(grad, alpha: keep1);
            var v = _v[t].index_select(0, rows).mul_(beta2).addcmul_(grad, grad, value: keep2);
            _m[t].index_copy_(0, rows, m);
            _v[t].index_copy_(0, rows, v);
            var w = _tables[t].Weight.index_select(0, rows).mul_(decay);
            w.sub_(m.div(correction1).div_(v.div(correction2).sqrt_().add_(eps)).mul_(rate));
            _tables[t].Weight.index_copy_(0, rows, w);
        }
        foreach (var table in _tables) table.ClearTouched();
    }

    /// <summary>Each table's first and second moments (this optimizer's own tensors) and the steps taken: what a training
    /// checkpoint saves.</summary>
    public (IReadOnlyList<Tensor> M, IReadOnlyList<Tensor> V, long Steps) State => (_m, _v, _step);

    /// <summary>Puts back a <see cref="State"/> saved from an optimizer over tables of the same shapes.</summary>
    public void Restore(IReadOnlyList<Tensor> m, IReadOnlyList<Tensor> v, long steps)
    {
        if (m.Count != _m.Length || v.Count != _v.Length)
            throw new ArgumentException($"The saved optimizer state has moments of {m.Count} tables; this optimizer has {_m.Length}.", nameof(m));
        using var _ = no_grad();
        for (int t = 0; t < _m.Length; t++)
        {
            if (!m[t].shape.SequenceEqual(_m[t].shape) || !v[t].shape.SequenceEqual(_v[t].shape))
                throw new ArgumentException($"The saved moments of table {t} are [{string.Join(", ", m[t].shape)}]; the table is [{string.Join(", ", _m[t].shape)}].", nameof(m));
            _m[t].copy_(m[t]);
            _v[t].copy_(v[t]);
        }
        _step = steps;
    }

    public void Dispose()
    {
        foreach (var t in _m.Concat(_v)) t.Dispose();
    }
}
