namespace Microsoft.ML.Srt.Training;

/// <summary>
/// Draws negative items with probability proportional to count^exponent (Walker's alias method: O(1) per
/// draw). <see cref="LogProbability"/> gives the log q(i) the loss subtracts (logQ correction).
/// </summary>
internal sealed class PopularitySampler
{
    private readonly double[] _probability;
    private readonly int[] _alias;
    private readonly double[] _threshold;
    private readonly int[] _items;

    /// <param name="counts">Occurrences per catalog item in the training data.</param>
    /// <param name="exponent">1 samples by popularity, 0 uniformly over items seen in training.</param>
    public PopularitySampler(long[] counts, double exponent)
    {
        _items = Enumerable.Range(0, counts.Length).Where(i => counts[i] > 0).ToArray();
        if (_items.Length == 0) throw new ArgumentException("No item occurs in the training data.");
        var weights = _items.Select(i => Math.Pow(counts[i], exponent)).ToArray();
        double total = weights.Sum();
        _probability = new double[counts.Length];
        for (int k = 0; k < _items.Length; k++) _probability[_items[k]] = weights[k] / total;

        int n = _items.Length;
        _alias = new int[n];
        _threshold = new double[n];
        var scaled = weights.Select(w => w / total * n).ToArray();
        var small = new Stack<int>();
        var large = new Stack<int>();
        for (int k = 0; k < n; k++) (scaled[k] < 1 ? small : large).Push(k);
        while (small.Count > 0 && large.Count > 0)
        {
            int s = small.Pop(), l = large.Pop();
            _threshold[s] = scaled[s];
            _alias[s] = l;
            scaled[l] -= 1 - scaled[s];
            (scaled[l] < 1 ? small : large).Push(l);
        }
        foreach (var k in large) _threshold[k] = 1;
        foreach (var k in small) _threshold[k] = 1;
    }

    /// <summary>log q(i) per catalog item (items never drawn get log of the smallest probability, so a target among them stays finite).</summary>
    public float[] LogProbability()
    {
        double floor = _probability.Where(p => p > 0).Min();
        return _probability.Select(p => (float)Math.Log(p > 0 ? p : floor)).ToArray();
    }

    /// <summary>Fills <paramref name="output"/> with catalog indices drawn with replacement.</summary>
    public void Sample(Random random, Span<int> output)
    {
        for (int k = 0; k < output.Length; k++)
        {
            int slot = random.Next(_items.Length);
            output[k] = _items[random.NextDouble() < _threshold[slot] ? slot : _alias[slot]];
        }
    }
}
