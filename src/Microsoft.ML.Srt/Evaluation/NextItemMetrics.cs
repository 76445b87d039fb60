namespace Microsoft.ML.Srt.Evaluation;

/// <summary>
/// Next-item ranking metrics averaged over evaluation cases: NDCG@K and HIT@K for each requested K, and MRR.
/// </summary>
/// <remarks>
/// With one relevant item at 0-based rank <c>r</c>, NDCG@K = 1/log2(r + 2) when r &lt; K, else 0 (this equals
/// ML.NET's 1/ln(2+i) discounts once normalised). Ranks count ties pessimistically: every other candidate
/// whose score equals the target's ranks ahead of it, so a constant scorer earns nothing.
/// </remarks>
public sealed class NextItemMetrics
{
    internal NextItemMetrics(IReadOnlyList<int> ks, double[] ndcg, double[] hit, double mrr, long cases)
    {
        Ks = ks;
        Ndcg = ks.Select((k, i) => (k, v: ndcg[i])).ToDictionary(p => p.k, p => p.v);
        Hit = ks.Select((k, i) => (k, v: hit[i])).ToDictionary(p => p.k, p => p.v);
        Mrr = mrr;
        Cases = cases;
    }

    /// <summary>The cut-offs K, ascending.</summary>
    public IReadOnlyList<int> Ks { get; }

    /// <summary>NDCG@K by K.</summary>
    public IReadOnlyDictionary<int, double> Ndcg { get; }

    /// <summary>HIT@K (recall with one relevant item) by K.</summary>
    public IReadOnlyDictionary<int, double> Hit { get; }

    /// <summary>Mean reciprocal rank over the whole ranking (no cut-off).</summary>
    public double Mrr { get; }

    /// <summary>Number of evaluation cases averaged.</summary>
    public long Cases { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        string.Join(" ", Ks.Select(k => $"NDCG@{k}={Ndcg[k]:F4} HIT@{k}={Hit[k]:F4}")) + $" MRR={Mrr:F4} (n={Cases})";
}

/// <summary>Accumulates ranks of target items into <see cref="NextItemMetrics"/>. Not thread-safe; merge per-thread accumulators.</summary>
internal sealed class NextItemMetricsAccumulator
{
    private readonly int[] _ks;
    private readonly double[] _ndcg;
    private readonly double[] _hit;
    private double _mrr;
    private long _cases;

    /// <summary>Creates an accumulator for the cut-offs <paramref name="ks"/> (default 5, 10, 20).</summary>
    public NextItemMetricsAccumulator(IEnumerable<int>? ks = null)
    {
        _ks = (ks ?? new[] { 5, 10, 20 }).Distinct().OrderBy(k => k).ToArray();
        if (_ks.Length == 0 || _ks[0] < 1) throw new ArgumentException("Every K must be at least 1.", nameof(ks));
        _ndcg = new double[_ks.Length];
        _hit = new double[_ks.Length];
    }

    /// <summary>Adds one case whose target ranked at 0-based <paramref name="rank"/>.</summary>
    public void AddRank(long rank)
    {
        if (rank < 0) throw new ArgumentOutOfRangeException(nameof(rank));
        for (int i = 0; i < _ks.Length; i++)
        {
            if (rank >= _ks[i]) continue;
            _hit[i] += 1;
            _ndcg[i] += 1.0 / Math.Log2(rank + 2);
        }
        _mrr += 1.0 / (rank + 1);
        _cases++;
    }

    /// <summary>Adds everything another accumulator (with the same Ks) has seen.</summary>
    public void Merge(NextItemMetricsAccumulator other)
    {
        if (!other._ks.SequenceEqual(_ks)) throw new ArgumentException("Accumulators have different Ks.");
        for (int i = 0; i < _ks.Length; i++) { _ndcg[i] += other._ndcg[i]; _hit[i] += other._hit[i]; }
        _mrr += other._mrr;
        _cases += other._cases;
    }

    /// <summary>The averaged metrics so far (all zero when no case was added).</summary>
    public NextItemMetrics Result()
    {
        double n = Math.Max(1, _cases);
        return new NextItemMetrics(_ks, _ndcg.Select(v => v / n).ToArray(), _hit.Select(v => v / n).ToArray(), _mrr / n, _cases);
    }

    /// <summary>
    /// 0-based pessimistic rank of <paramref name="target"/> among all candidates in <paramref name="scores"/>:
    /// the number of other candidates scoring at least as high. Candidates flagged in <paramref name="excluded"/>
    /// (when given) are skipped, except the target itself, which is always ranked.
    /// </summary>
    public static long PessimisticRank(ReadOnlySpan<float> scores, int target, ReadOnlySpan<bool> excluded = default)
    {
        float t = scores[target];
        if (float.IsNaN(t)) return scores.Length - 1;
        long rank = 0;
        bool mask = !excluded.IsEmpty;
        for (int j = 0; j < scores.Length; j++)
        {
            if (j == target || (mask && excluded[j])) continue;
            float s = scores[j];
            if (s >= t || float.IsNaN(s)) rank++;
        }
        return rank;
    }
}
