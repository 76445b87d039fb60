namespace Microsoft.ML.Srt.Data.Synthetic;

/// <summary>
/// Items grouped into pools (a product line, a brand, a topic), each sampled in proportion to integer
/// popularity weights. Integer cumulative sums keep sampling exact, hence reproducible on every platform.
/// Two tables per pool: one over all items, one with the reserved (test-only) items at weight 0.
/// </summary>
internal sealed class WeightedPools
{
    private readonly int[] _start;     // pool p holds _items[_start[p] .. _start[p + 1]]
    private readonly int[] _items;
    private readonly long[] _cumAll;   // cumulative weight within the pool, all items
    private readonly long[] _cumTrain; // cumulative weight within the pool, reserved items weigh 0

    /// <summary>Groups item <c>i</c> into pool <c>poolOf[i]</c> (items keep index order within a pool).</summary>
    public WeightedPools(int poolCount, int[] poolOf, long[] weight, bool[] reserved)
    {
        _start = new int[poolCount + 1];
        foreach (var p in poolOf) _start[p + 1]++;
        for (int p = 0; p < poolCount; p++) _start[p + 1] += _start[p];
        _items = new int[poolOf.Length];
        var fill = _start[..poolCount];
        for (int i = 0; i < poolOf.Length; i++) _items[fill[poolOf[i]]++] = i;
        _cumAll = new long[_items.Length];
        _cumTrain = new long[_items.Length];
        for (int p = 0; p < poolCount; p++)
        {
            long all = 0, train = 0;
            for (int k = _start[p]; k < _start[p + 1]; k++)
            {
                int i = _items[k];
                all += weight[i];
                if (!reserved[i]) train += weight[i];
                _cumAll[k] = all;
                _cumTrain[k] = train;
            }
        }
    }

    /// <summary>Total training weight of a pool (reserved items excluded).</summary>
    public long TrainWeight(int pool) => _start[pool + 1] > _start[pool] ? _cumTrain[_start[pool + 1] - 1] : 0;

    /// <summary>Draws an item of <paramref name="pool"/> by weight, or -1 when the pool has no eligible item.</summary>
    public int Sample(int pool, ref SplitMix64 rng, bool includeReserved)
    {
        int s = _start[pool], e = _start[pool + 1];
        if (s == e) return -1;
        var cum = includeReserved ? _cumAll : _cumTrain;
        long total = cum[e - 1];
        if (total == 0) return -1;
        long x = (long)rng.NextUInt64((ulong)total);
        // First position whose cumulative weight exceeds x; zero-weight items can never be it.
        int lo = s, hi = e - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (cum[mid] > x) hi = mid; else lo = mid + 1;
        }
        return _items[lo];
    }
}
