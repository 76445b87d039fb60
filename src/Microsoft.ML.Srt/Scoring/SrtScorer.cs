using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Scoring;

/// <summary>
/// Inference with a trained <see cref="SrtNetwork"/>: item vectors for the whole catalog, query vectors for
/// histories, full-catalog scores and ranks. Scores use the same similarity as training (cosine or dot).
/// </summary>
internal sealed class SrtScorer
{
    private readonly SrtNetwork _network;
    private readonly bool _normalize;
    private readonly Device _device;

    public SrtScorer(SrtNetwork network, bool normalize, Device device)
    {
        _network = network;
        _normalize = normalize;
        _device = device;
    }

    public int MaxLength => _network.Shape.MaxLength;

    /// <summary>
    /// Vectors <c>[N + 1, d]</c> for every catalog row (row 0 = padding, all zero), ready for scoring: the network's own
    /// catalog, or the per-field token tensors <paramref name="fieldTokens"/> of another one.
    /// </summary>
    public Tensor CatalogVectors(int itemCount, Tensor[]? fieldTokens = null, int chunk = 65536)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool wasTraining = _network.training;
        if (wasTraining) _network.eval();
        var parts = new List<Tensor> { zeros(1, _network.Shape.Dimension, device: _device) };
        for (int start = 1; start <= itemCount; start += chunk)
        {
            int end = Math.Min(itemCount + 1, start + chunk);
            using Scalar first = start.ToScalar(), stop = end.ToScalar(); // alive until arange returns (see Scalars)
            var rows = arange(first, stop, ScalarType.Int64, _device);
            parts.Add(fieldTokens is null ? _network.Items.forward(rows) : _network.Items.Encode(fieldTokens, rows));
        }
        if (wasTraining) _network.train();
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>Raw query vectors <c>[B, d]</c> for histories (catalog indices, oldest first; only the last MaxLength count).</summary>
    public Tensor Queries(Tensor catalogVectors, IReadOnlyList<int[]> histories)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool wasTraining = _network.training;
        if (wasTraining) _network.eval();
        int b = histories.Count;
        int width = Math.Max(1, histories.Max(h => Math.Min(h.Length, MaxLength)));
        var rows = new long[b * width];
        var last = new long[b];
        for (int i = 0; i < b; i++)
        {
            var h = histories[i];
            int n = Math.Min(h.Length, MaxLength);
            if (n == 0) throw new ArgumentException("A history must hold at least one item.");
            for (int t = 0; t < n; t++) rows[i * width + t] = h[h.Length - n + t] + 1;
            last[i] = i * width + n - 1;
        }
        var input = catalogVectors.index_select(0, tensor(rows, device: _device)).view(b, width, -1);
        var hidden = _network.Encode(input).view(b * width, -1).index_select(0, tensor(last, device: _device));
        if (wasTraining) _network.train();
        return hidden.MoveToOuterDisposeScope();
    }

    /// <summary>Scores <c>[B, N]</c> of every catalog item (column = catalog index) for each query.</summary>
    public Tensor Scores(Tensor queries, Tensor catalogVectors)
    {
        using var scope = NewDisposeScope();
        var items = catalogVectors.narrow(0, 1, catalogVectors.shape[0] - 1);
        var q = _normalize ? nn.functional.normalize(queries, p: 2, dim: -1) : queries;
        var e = _normalize ? nn.functional.normalize(items, p: 2, dim: -1) : items;
        return q.matmul(e.t()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Adds the learned repeat bias (<see cref="SrtNetwork.RepeatBias"/>) to the scores <c>[B, N]</c> (column = catalog
    /// index) of the items in each history's last <paramref name="maxLength"/> places, once per item: what the model was
    /// trained to score.
    /// </summary>
    internal static void AddRepeatBias(Tensor scores, IReadOnlyList<int[]> histories, int maxLength, float bias)
    {
        if (bias == 0) return;
        using var scope = NewDisposeScope();
        long n = scores.shape[1];
        var cells = new List<long>();
        var seen = new HashSet<int>();
        for (int i = 0; i < histories.Count; i++)
        {
            var h = histories[i];
            seen.Clear();
            for (int t = Math.Max(0, h.Length - maxLength); t < h.Length; t++)
                if (seen.Add(h[t])) cells.Add(i * n + h[t]);
        }
        var index = tensor(cells.ToArray(), device: scores.device);
        var flat = scores.view(-1);
        flat.index_put_(flat.index_select(0, index).add_(bias), index);
    }

    /// <summary>
    /// Ranks every case's target against the whole catalog (pessimistic ties) and adds the ranks to
    /// <paramref name="metrics"/>. With <paramref name="maskHistory"/>, items in the history other than the
    /// target are left out of the ranking.
    /// </summary>
    public void RankFullCatalog(EvaluationCases cases, bool maskHistory, NextItemMetricsAccumulator metrics, int batchSize = 512)
    {
        using var _ = no_grad();
        int n = cases.Source.Catalog.Count;
        using var vectors = CatalogVectors(n);
        float repeatBias = _network.RepeatOffset();
        // Similar lengths together: each batch is padded only to its own longest history.
        var order = Enumerable.Range(0, cases.Count).OrderBy(k => Math.Min(cases.HistoryLengths[k], MaxLength)).ToArray();
        for (int start = 0; start < order.Length; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
            var histories = batch.Select(k => cases.GetHistory(k).ToArray()).ToArray();
            var scores = Scores(Queries(vectors, histories), vectors);
            AddRepeatBias(scores, histories, MaxLength, repeatBias);
            if (maskHistory)
            {
                var flat = new List<long>();
                for (int i = 0; i < batch.Length; i++)
                    foreach (var item in histories[i].Distinct())
                        if (item != cases.Targets[batch[i]]) flat.Add((long)i * n + item);
                if (flat.Count > 0) scores.view(-1).index_fill_(0, tensor(flat.ToArray(), device: _device), Scalars.NegativeInfinity);
            }
            var targets = tensor(batch.Select(k => (long)cases.Targets[k]).ToArray(), device: _device).unsqueeze(1);
            var targetScores = scores.gather(1, targets);
            var ranks = scores.ge(targetScores).sum(1).sub(Scalars.One).cpu().data<long>().ToArray();
            foreach (var r in ranks) metrics.AddRank(r < 0 ? n - 1 : r); // a NaN target score ranks last
        }
    }
}
