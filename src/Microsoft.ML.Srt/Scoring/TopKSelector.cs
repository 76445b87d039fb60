using System.Numerics;

namespace Microsoft.ML.Srt.Scoring;

/// <summary>
/// The k best entries of a score row, best first, ties broken by the lower index. NaN and −∞ (excluded items) are
/// never selected. One pass with a size-k min-heap; blocks of a SIMD vector with nothing above the heap's worst
/// score are skipped with one comparison, so for small k the pass costs little more than reading the row. On the
/// CPU this is several times faster than libtorch's topk on a <c>[B, N]</c> score matrix.
/// </summary>
internal static class TopKSelector
{
    /// <summary>Writes up to <paramref name="k"/> entries into <paramref name="items"/> / <paramref name="scores"/> (length ≥ k), best first; returns how many.</summary>
    public static int Select(ReadOnlySpan<float> row, int k, Span<int> items, Span<float> scores)
    {
        if (k <= 0) return 0;
        var heap = new Heap(items[..k], scores[..k]);
        int i = 0;
        if (Vector.IsHardwareAccelerated && row.Length >= Vector<float>.Count)
        {
            int width = Vector<float>.Count;
            for (; i <= row.Length - width; i += width)
            {
                if (!Vector.GreaterThanAny(new Vector<float>(row.Slice(i, width)), new Vector<float>(heap.Threshold))) continue;
                for (int j = i; j < i + width; j++) heap.Offer(j, row[j]);
            }
        }
        for (; i < row.Length; i++) heap.Offer(i, row[i]);
        heap.SortBestFirst();
        return heap.Count;
    }

    /// <summary>A min-heap whose root is the worst kept entry (lowest score; among equal scores, the highest index).</summary>
    private ref struct Heap(Span<int> items, Span<float> scores)
    {
        private readonly Span<int> _items = items;
        private readonly Span<float> _scores = scores;

        public int Count { get; private set; }

        /// <summary>What an entry must beat (strictly) to get in: −∞ until the heap is full, then the root's score.</summary>
        public float Threshold { get; private set; } = float.NegativeInfinity;

        /// <summary>Entries come in increasing index order, so an entry equal to the root loses the tie and stays out.</summary>
        public void Offer(int index, float score)
        {
            if (!(score > Threshold)) return;
            if (Count < _items.Length)
            {
                int at = Count++;
                _items[at] = index;
                _scores[at] = score;
                while (at > 0)
                {
                    int parent = (at - 1) / 2;
                    if (!Worse(at, parent)) break;
                    Swap(at, parent);
                    at = parent;
                }
                if (Count == _items.Length) Threshold = _scores[0];
                return;
            }
            _items[0] = index;
            _scores[0] = score;
            SiftDown(0, Count);
            Threshold = _scores[0];
        }

        public void SortBestFirst()
        {
            // Heap sort: moving the worst to the end each time leaves the span ordered best first.
            for (int end = Count - 1; end > 0; end--)
            {
                Swap(0, end);
                SiftDown(0, end);
            }
        }

        private void SiftDown(int at, int count)
        {
            while (true)
            {
                int left = 2 * at + 1, worst = at;
                if (left < count && Worse(left, worst)) worst = left;
                if (left + 1 < count && Worse(left + 1, worst)) worst = left + 1;
                if (worst == at) return;
                Swap(at, worst);
                at = worst;
            }
        }

        private readonly bool Worse(int a, int b) =>
            _scores[a] < _scores[b] || (_scores[a] == _scores[b] && _items[a] > _items[b]);

        private readonly void Swap(int a, int b)
        {
            (_items[a], _items[b]) = (_items[b], _items[a]);
            (_scores[a], _scores[b]) = (_scores[b], _scores[a]);
        }
    }
}
