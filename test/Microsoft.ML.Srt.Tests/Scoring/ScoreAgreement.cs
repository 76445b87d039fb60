namespace Microsoft.ML.Srt.Tests.Scoring;

/// <summary>
/// How tests compare scores (docs/build.md, "Numerics across hosts"). Bit for bit only where the same computation runs on
/// the same bytes: a model and its saved-and-loaded copy in one process, two loads of one file. Anywhere else (batched
/// against one at a time, other threads, another process, another CPU kernel) libtorch may round differently, so scores
/// agree within <see cref="Tolerance"/>, and rankings agree except where two items' scores lie within it of each other.
/// </summary>
internal static class ScoreAgreement
{
    /// <summary>Largest |Δ score| between two computations of one score: 1e-6 (absolute up to |score| 1, relative above).
    /// Cosine similarities lie in [-1, 1], plus the repeat bias; float32 rounding of a d ≤ 128 model is a few 1e-8.</summary>
    public const double Tolerance = 1e-6;

    /// <summary>Whether two scores agree within <paramref name="times"/> the tolerance.</summary>
    public static bool Close(double a, double b, double times = 1) =>
        Math.Abs(a - b) <= times * Tolerance * Math.Max(1, Math.Max(Math.Abs(a), Math.Abs(b)));

    /// <summary>Scores agree element by element within the tolerance.</summary>
    public static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, string? what = null)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int k = 0; k < expected.Count; k++)
            Assert.True(Close(expected[k], actual[k]), $"{what}score {k}: {expected[k]:R} vs {actual[k]:R} (|Δ| {Math.Abs(expected[k] - actual[k]):E2} > {Tolerance:E0})");
    }

    /// <summary>
    /// Two top-K lists (best first) agree: the scores at each rank within the tolerance, and the same item at each rank
    /// unless the two items are tied within it, that is, where the expected list scores the other item (or, for an item
    /// it does not list, its last score, which bounds that item's) within twice the tolerance of its own item. Each side
    /// may move by the tolerance, hence twice.
    /// </summary>
    public static void AssertSameTopK<T>(IReadOnlyList<T> expectedItems, IReadOnlyList<float> expectedScores,
        IReadOnlyList<T> actualItems, IReadOnlyList<float> actualScores, string? what = null) where T : notnull
    {
        Assert.Equal(expectedItems.Count, actualItems.Count);
        AssertClose(expectedScores, actualScores, what);
        var expectedScore = new Dictionary<T, float>();
        for (int r = 0; r < expectedItems.Count; r++) expectedScore.TryAdd(expectedItems[r], expectedScores[r]);
        for (int r = 0; r < expectedItems.Count; r++)
        {
            if (EqualityComparer<T>.Default.Equals(expectedItems[r], actualItems[r])) continue;
            float other = expectedScore.TryGetValue(actualItems[r], out var s) ? s : expectedScores[^1];
            Assert.True(Close(expectedScores[r], other, times: 2),
                $"{what}rank {r + 1}: {actualItems[r]} instead of {expectedItems[r]}, whose scores differ by {Math.Abs(expectedScores[r] - other):E2}: more than a tie");
        }
    }

    /// <summary><see cref="AssertSameTopK{T}"/> for lists of (item, score) pairs.</summary>
    public static void AssertSameTopK<T>(IReadOnlyList<(T Item, float Score)> expected, IReadOnlyList<(T Item, float Score)> actual, string? what = null) where T : notnull =>
        AssertSameTopK(expected.Select(p => p.Item).ToList(), expected.Select(p => p.Score).ToList(),
            actual.Select(p => p.Item).ToList(), actual.Select(p => p.Score).ToList(), what);
}
