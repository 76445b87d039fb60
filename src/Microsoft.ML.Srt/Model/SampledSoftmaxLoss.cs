using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Model;

/// <summary>
/// Sampled softmax over the target and X negatives with logQ correction (Yi et al., RecSys 2019):
/// logit(i) = s(q, e_i) / τ − log q(i), where q(i) is the probability that the sampler draws item i.
/// Negatives equal to the target (accidental hits) are masked out. With "all items" as negatives the
/// loss is the full softmax cross-entropy and no correction is needed.
/// </summary>
internal sealed class SampledSoftmaxLoss
{
    private readonly double _temperature;
    private readonly bool _normalize;
    private readonly Tensor? _logQ; // [items + 1] by item row, or null for no correction
    private readonly long _itemRows; // catalog rows + 1 when known: sizes the accidental-hit flags without reading tensors back

    /// <param name="temperature">τ: logits are similarities divided by τ.</param>
    /// <param name="normalize">Use cosine similarity (L2-normalised vectors) instead of the dot product.</param>
    /// <param name="logQ">log sampling probability per item row, or null to skip the correction.</param>
    /// <param name="itemRows">Item rows including the padding row 0 (catalog size + 1), or 0 to find out per step.</param>
    public SampledSoftmaxLoss(double temperature, bool normalize, Tensor? logQ, long itemRows = 0)
    {
        if (temperature <= 0) throw new ArgumentOutOfRangeException(nameof(temperature));
        _temperature = temperature;
        _normalize = normalize;
        _logQ = logQ;
        _itemRows = itemRows;
    }

    /// <summary>Prepares query or item vectors for scoring (normalises them for cosine similarity).</summary>
    public Tensor Prepare(Tensor vectors) => _normalize ? nn.functional.normalize(vectors, p: 2, dim: -1) : vectors.alias();

    /// <summary>
    /// Mean loss over P positions with negatives shared by all positions.
    /// queries [P, d], targets [P, d] with item rows targetRows [P]; negatives [X, d] with rows negativeRows [X].
    /// </summary>
    /// <remarks>history: the repeat term of these P positions (<see cref="HistoryLogits"/>), or null.</remarks>
    public Tensor SharedNegatives(Tensor queries, Tensor targets, Tensor targetRows, Tensor negatives, Tensor negativeRows,
        HistoryTerm? history = null)
    {
        using var scope = NewDisposeScope();
        using var temperature = _temperature.ToScalar();
        using var positionCount = queries.shape[0].ToScalar();
        var q = Prepare(queries).div(temperature);
        var positive = (q * Prepare(targets)).sum(-1);                                      // [P]
        if (_logQ is not null) positive = positive - _logQ.index_select(0, targetRows);
        if (history is not null) positive = positive + history.TargetOffset;
        // −logQ rides in the product as an extra column ([q, 1] · [e, −logQ]), so the [P, X] logits are written once.
        var negativeBias = _logQ is null
            ? zeros(negativeRows.shape[0], 1, device: q.device)
            : _logQ.index_select(0, negativeRows).neg().unsqueeze(1);
        var left = cat(new[] { q, ones(q.shape[0], 1, device: q.device) }, 1);              // [P, d + 1]
        var right = cat(new[] { Prepare(negatives), negativeBias }, 1);                     // [X, d + 1]
        // The [P, X] block's gradient is worked out here, by hand: d(mean loss)/d logit = softmax / P, times each factor of
        // the product. The block is overwritten in place and dropped, where autograd would keep it alive until the backward
        // pass and chain several [P, X] gradients through it. The step takes about as long either way (docs/benchmarks.md);
        // what this saves is the block's memory. The small [P] and [P, W] parts stay with autograd.
        Tensor shift, block;
        using (no_grad())
        {
            block = left.mm(right.t());                                                      // logits [P, X]
            MaskAccidentalHits(block, targetRows, negativeRows);
            shift = maximum(block.amax(new long[] { 1 }), positive);
            if (history is not null) shift = maximum(shift, history.Logits.amax(new long[] { 1 }));
            block.sub_(shift.unsqueeze(1)).exp_();                                          // e^(logit − shift)
        }
        // The sum over the target, the negatives and the history; autograd sees the negatives' part as a constant.
        var sum = block.sum(1) + (positive - shift).exp();
        if (history is not null) sum = sum + (history.Logits - shift.unsqueeze(1)).exp().sum(1);
        Tensor leftGradient, rightGradient;
        using (no_grad())
        {
            block.mul_(sum.mul(positionCount).reciprocal_().unsqueeze(1));                  // softmax / P
            leftGradient = block.mm(right);
            rightGradient = block.t().mm(left);
        }
        var loss = (sum.log() + shift - positive).mean();
        // Worth nothing, but its gradient is exactly the block's: leftGradient on [q, 1] and rightGradient on [e, −logQ].
        var blockTerm = (left * leftGradient).sum() + (right * rightGradient).sum();
        return (loss + (blockTerm - blockTerm.detach())).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mean of log(e^positive + Σ e^negative + Σ e^history) − positive, computed stably and in place on
    /// <paramref name="negative"/> (which it overwrites): each row is shifted by its largest logit before exponentiating.
    /// </summary>
    private static Tensor LogSumExpLoss(Tensor positive, Tensor negative, Tensor? history = null)
    {
        Tensor shift;
        using (no_grad())
        {
            shift = maximum(negative.amax(new long[] { 1 }), positive);
            if (history is not null) shift = maximum(shift, history.amax(new long[] { 1 }));
        }
        var sum = negative.sub_(shift.unsqueeze(1)).exp_().sum(1) + (positive - shift).exp();
        if (history is not null) sum = sum + (history - shift.unsqueeze(1)).exp().sum(1);
        return (sum.log() + shift - positive).mean();
    }

    /// <summary>
    /// The repeat term (see <see cref="SrtNetwork.RepeatBias"/>): logits <c>[B·W, W]</c> of each position's own history
    /// items, s(q, e)/τ + bias/τ where <paramref name="counts"/>[b, t, j] (window item j is in position t's history, counted
    /// once, and is not its target) and −inf elsewhere; and per position bias/τ where the target repeats a history item.
    /// History items stand for themselves, so unlike sampled negatives they carry no logQ: as in the full softmax, where
    /// every item appears once. queries and historyVectors <c>[B, W, d]</c>; counts bool <c>[B, W, W]</c>; repeats <c>[B·W]</c>
    /// (1 where the target is in the history).
    /// </summary>
    public HistoryTerm HistoryLogits(Tensor queries, Tensor historyVectors, Tensor counts, Tensor repeats, Tensor bias)
    {
        using var scope = NewDisposeScope();
        using var temperature = _temperature.ToScalar();
        var b = bias.div(temperature);
        var logits = Prepare(queries).div(temperature).bmm(Prepare(historyVectors).transpose(1, 2)) + b;   // [B, W, W]
        logits = logits.masked_fill(counts.logical_not(), Scalars.NegativeInfinity);
        long w = logits.shape[2];
        return new HistoryTerm(logits.view(-1, w).MoveToOuterDisposeScope(), (repeats * b).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Sets logits [P, X] to −inf where negative X is position P's own target. Hits are rare (about P·X/N), so
    /// only positions whose target was drawn at all are compared, and only their cells are written, in place.
    /// </summary>
    private void MaskAccidentalHits(Tensor negative, Tensor targetRows, Tensor negativeRows)
    {
        long rows = _itemRows > 0 ? _itemRows : Math.Max(targetRows.max().item<long>(), negativeRows.max().item<long>()) + 1;
        var drawn = zeros(rows, ScalarType.Bool, negative.device).index_fill_(0, negativeRows, Scalars.True);
        var candidates = drawn.index_select(0, targetRows).nonzero().squeeze(1);       // positions whose target was drawn
        if (candidates.shape[0] == 0) return;
        var hits = targetRows.index_select(0, candidates).unsqueeze(1).eq(negativeRows.unsqueeze(0)).nonzero(); // [h, 2]
        negative.index_put_(tensor(float.NegativeInfinity, device: negative.device),
            candidates.index_select(0, hits[.., 0]), hits[.., 1]);
    }

    /// <summary>
    /// Mean loss with negatives drawn per sequence (the paper's way).
    /// queries [B, L, d], targets [B, L, d], targetRows [B, L] (0 = padding, ignored);
    /// negatives [B, X, d] with rows negativeRows [B, X].
    /// </summary>
    /// <remarks>history: the repeat term of all B·L positions (<see cref="HistoryLogits"/>), or null.</remarks>
    public Tensor PerSequenceNegatives(Tensor queries, Tensor targets, Tensor targetRows, Tensor negatives, Tensor negativeRows,
        HistoryTerm? history = null)
    {
        using var scope = NewDisposeScope();
        using var temperature = _temperature.ToScalar();
        var q = Prepare(queries);
        var positive = (q * Prepare(targets)).sum(-1).div(temperature);                   // [B, L]
        var negative = q.bmm(Prepare(negatives).transpose(1, 2)).div(temperature);        // [B, L, X]
        if (_logQ is not null)
        {
            positive = positive - _logQ.index_select(0, targetRows.flatten()).view_as(targetRows);
            negative = negative - _logQ.index_select(0, negativeRows.flatten()).view_as(negativeRows).unsqueeze(1);
        }
        negative = negative.masked_fill(targetRows.unsqueeze(2).eq(negativeRows.unsqueeze(1)), Scalars.NegativeInfinity);
        var valid = targetRows.flatten().gt(Scalars.Zero).nonzero().squeeze(1);
        long x = negative.shape[2];
        var flatPositive = positive.flatten();
        if (history is not null) flatPositive = flatPositive + history.TargetOffset;
        return LogSumExpLoss(flatPositive.index_select(0, valid), negative.view(-1, x).index_select(0, valid),
            history?.Logits.index_select(0, valid)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Full softmax over every catalog item: queries [P, d], allItems [N, d] (row r of the catalog at index r - 1),
    /// targetRows [P].
    /// </summary>
    /// <remarks>With the repeat bias, historyCells holds the flat indices p·N + (row − 1) of every position's history items
    /// (each once), which get bias/τ added (bias: a one-element tensor).</remarks>
    public Tensor AllItems(Tensor queries, Tensor allItems, Tensor targetRows, Tensor? historyCells = null, Tensor? bias = null)
    {
        using var scope = NewDisposeScope();
        using var temperature = _temperature.ToScalar();
        var logits = Prepare(queries).matmul(Prepare(allItems).t()).div(temperature);
        if (historyCells is not null && bias is not null && historyCells.shape[0] > 0)
            // scatter_add rather than index_add: index_add's alpha is a Scalar that TorchSharp creates implicitly and leaves
            // to the finalizer, which can free it while the native call still reads it (seen once as a bogus "toFloat" error).
            logits = logits.view(-1).scatter_add(0, historyCells, bias.div(temperature).expand(historyCells.shape[0])).view_as(logits);
        return nn.functional.cross_entropy(logits, targetRows.sub(Scalars.One)).MoveToOuterDisposeScope();
    }

}

/// <summary>The repeat term of a batch: history logits <c>[P, W]</c> (−inf where a column does not count) and the bias
/// each target gets when it repeats a history item <c>[P]</c>.</summary>
internal sealed record HistoryTerm(Tensor Logits, Tensor TargetOffset);
