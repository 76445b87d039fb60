using System.Runtime.InteropServices;
using Microsoft.ML.Srt.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>
/// Bookkeeping for the repeat bias (<see cref="SrtNetwork.RepeatBias"/>): which history items of each position join its
/// softmax (each item once, at its first place in the window) and which targets repeat one of them.
/// </summary>
internal static class RepeatHistory
{
    /// <summary>The repeat term of a sampled-softmax batch (<see cref="SampledSoftmaxLoss.HistoryLogits"/>) for all B·W positions.</summary>
    /// <param name="loss">The loss that scores the history.</param>
    /// <param name="batch">The batch's rows.</param>
    /// <param name="hidden">Sequence encoder outputs [B, W, d].</param>
    /// <param name="inputVectors">The input items' vectors [B, W, d].</param>
    /// <param name="bias">The learned bias (one element).</param>
    /// <param name="device">Where the network lives.</param>
    public static HistoryTerm Term(SampledSoftmaxLoss loss, TrainingBatch batch, Tensor hidden, Tensor inputVectors, Tensor bias, Device device)
    {
        int b = batch.Size, width = batch.Width;
        // Filled in place in CPU tensors: no [B·W·W] managed array per step.
        var counts = zeros(new long[] { b, width, width }, ScalarType.Bool);
        var repeats = zeros(b * width);
        HistoryCounts(batch.InputRows, batch.TargetRows, b, width, MemoryMarshal.Cast<byte, bool>(counts.bytes), MemoryMarshal.Cast<byte, float>(repeats.bytes));
        return loss.HistoryLogits(hidden, inputVectors, counts.to(device), repeats.to(device), bias);
    }

    /// <summary>
    /// For the full softmax: the flat indices p·N + (row − 1) of every (position, history item) cell of the [P, N] logits,
    /// each history item once, where p indexes <paramref name="positions"/> and N is <paramref name="itemCount"/>.
    /// </summary>
    public static long[] Cells(TrainingBatch batch, int[] positions, int itemCount)
    {
        int width = batch.Width;
        var first = FirstPlaces(batch.InputRows, batch.Size, width);
        var flat = new List<long>();
        for (int p = 0; p < positions.Length; p++)
        {
            int k = positions[p], i = k / width, t = k % width;
            for (int j = 0; j <= t; j++)
                if (first[i * width + j]) flat.Add((long)p * itemCount + batch.InputRows[i * width + j] - 1);
        }
        return flat.ToArray();
    }

    /// <summary>
    /// For the repeat bias: counts[(i·W + t)·W + j] is true where window item j of sequence i is in the history of position t
    /// (j ≤ t), is that item's first place in the window (each item counts once) and is not position t's target;
    /// repeats[i·W + t] is 1 where the target is one of those history items. Padding positions count nothing.
    /// </summary>
    internal static bool[] HistoryCounts(long[] inputRows, long[] targetRows, int b, int width, out float[] repeats)
    {
        var counts = new bool[(long)b * width * width];
        repeats = new float[b * width];
        HistoryCounts(inputRows, targetRows, b, width, counts, repeats);
        return counts;
    }

    /// <summary>As above, into <paramref name="counts"/> [B·W·W] and <paramref name="repeats"/> [B·W], which must hold zeros.</summary>
    internal static void HistoryCounts(long[] inputRows, long[] targetRows, int b, int width, Span<bool> counts, Span<float> repeats)
    {
        if (counts.Length != (long)b * width * width || repeats.Length != b * width)
            throw new ArgumentException("counts must hold B·W·W and repeats B·W elements.");
        var first = FirstPlaces(inputRows, b, width);
        for (int i = 0; i < b; i++)
            for (int t = 0; t < width; t++)
            {
                long target = targetRows[i * width + t];
                if (target == 0) continue;
                long at = ((long)i * width + t) * width;
                for (int j = 0; j <= t; j++)
                {
                    if (!first[i * width + j]) continue;
                    if (inputRows[i * width + j] == target) repeats[i * width + t] = 1;
                    else counts[(int)(at + j)] = true;
                }
            }
    }

    /// <summary>True where a window slot holds a real item that no earlier slot of the same window holds.</summary>
    private static bool[] FirstPlaces(long[] rows, int b, int width)
    {
        var first = new bool[b * width];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < width; j++)
            {
                long item = rows[i * width + j];
                if (item == 0) continue;
                bool seen = false;
                for (int k = 0; k < j && !seen; k++) seen = rows[i * width + k] == item;
                first[i * width + j] = !seen;
            }
        return first;
    }
}
