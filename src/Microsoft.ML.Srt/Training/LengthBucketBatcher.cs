namespace Microsoft.ML.Srt.Training;

/// <summary>
/// Orders training sequences into batches of similar length so that a batch is padded only to its own
/// longest sequence. On Beauty the mean history is about 7 items of a 50-slot window: padding every batch
/// to 50 would waste most of the work. Randomness stays: sequences are shuffled, sorted by length only
/// within pools of <see cref="PoolBatches"/> batches, and the batches are shuffled again.
/// </summary>
internal sealed class LengthBucketBatcher
{
    public const int PoolBatches = 50;

    private readonly int[] _lengths;
    private readonly int _batchSize;

    public LengthBucketBatcher(int[] lengths, int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
        _lengths = lengths;
        _batchSize = batchSize;
    }

    public int BatchesPerEpoch => (_lengths.Length + _batchSize - 1) / _batchSize;

    /// <summary>One epoch's batches of sequence indices.</summary>
    public List<int[]> Epoch(Random random)
    {
        var order = Enumerable.Range(0, _lengths.Length).ToArray();
        random.Shuffle(order);
        var batches = new List<int[]>(BatchesPerEpoch);
        int pool = _batchSize * PoolBatches;
        for (int start = 0; start < order.Length; start += pool)
        {
            var chunk = order.AsSpan(start, Math.Min(pool, order.Length - start)).ToArray();
            // Stable sort by length keeps the shuffled order among equal lengths.
            var sorted = chunk.OrderBy(i => _lengths[i]).ToArray();
            for (int b = 0; b < sorted.Length; b += _batchSize)
                batches.Add(sorted.AsSpan(b, Math.Min(_batchSize, sorted.Length - b)).ToArray());
        }
        var batchArray = batches.ToArray();
        random.Shuffle(batchArray);
        return batchArray.ToList();
    }
}
