namespace Microsoft.ML.Srt.Training;

/// <summary>
/// A batch of training windows as item rows (catalog index + 1; 0 = padding), right-padded to the batch's longest
/// window: position t of sequence i reads input <c>InputRows[i·W + t]</c> and predicts <c>TargetRows[i·W + t]</c>.
/// </summary>
internal sealed class TrainingBatch
{
    private TrainingBatch(int size, int width, long[] inputRows, long[] targetRows)
    {
        Size = size;
        Width = width;
        InputRows = inputRows;
        TargetRows = targetRows;
    }

    /// <summary>Sequences in the batch (B).</summary>
    public int Size { get; }

    /// <summary>Positions per sequence after padding (W).</summary>
    public int Width { get; }

    /// <summary>Input item rows [B·W].</summary>
    public long[] InputRows { get; }

    /// <summary>Next-item target rows [B·W]; 0 where the position is padding.</summary>
    public long[] TargetRows { get; }

    /// <summary>The windows <paramref name="batch"/> picks from <paramref name="sequences"/> (catalog indices, oldest first).</summary>
    public static TrainingBatch Of(int[][] sequences, int[] batch)
    {
        int b = batch.Length;
        int width = batch.Max(i => sequences[i].Length) - 1;
        var inputRows = new long[b * width];
        var targetRows = new long[b * width];
        for (int i = 0; i < b; i++)
        {
            var s = sequences[batch[i]];
            for (int t = 0; t + 1 < s.Length; t++)
            {
                inputRows[i * width + t] = s[t] + 1;
                targetRows[i * width + t] = s[t + 1] + 1;
            }
        }
        return new TrainingBatch(b, width, inputRows, targetRows);
    }

    /// <summary>Flat indices i·W + t of the positions that have a target (every position but padding), in order.</summary>
    public int[] Positions() => Enumerable.Range(0, Size * Width).Where(k => TargetRows[k] > 0).ToArray();
}
