using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;

namespace Microsoft.ML.Srt.Scoring;

/// <summary>
/// The popularity baseline: every history gets the same ranking, items by how often they occur in the
/// training sequences. Any sequential model should beat it; on text-driven data a text model should beat it
/// by far, and it can never recommend an item unseen in training (its count is 0). As an <see cref="IItemScorer"/> it
/// is evaluated by <see cref="NextItemEvaluator"/> exactly like an SRT model.
/// </summary>
public sealed class PopularityRecommender : IItemScorer
{
    private readonly long[] _counts;
    private readonly int[] _order; // items by count descending, then index ascending

    /// <summary>Creates the baseline from per-item interaction counts (one per item of <paramref name="catalog"/>).</summary>
    public PopularityRecommender(ItemCatalog catalog, long[] counts)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Length != catalog.Count) throw new ArgumentException($"{counts.Length} counts for {catalog.Count} items.", nameof(counts));
        if (counts.Any(c => c < 0)) throw new ArgumentException("Counts cannot be negative.", nameof(counts));
        Catalog = catalog;
        _counts = (long[])counts.Clone();
        _order = Enumerable.Range(0, counts.Length).ToArray();
        var keys = _counts.Select(c => -c).ToArray();
        Array.Sort(keys, _order);
        SortTiesByIndex(keys);
    }

    /// <summary>Fits the baseline: counts every interaction of <paramref name="training"/> (pass only training interactions).</summary>
    public static PopularityRecommender Fit(InteractionSequences training)
    {
        ArgumentNullException.ThrowIfNull(training);
        return new PopularityRecommender(training.Catalog, training.ItemCounts());
    }

    /// <summary>
    /// Fits the baseline on interactions in an <see cref="IDataView"/> (pass only training interactions), counted over
    /// <paramref name="catalog"/>, usually the model's it is compared with (<c>transformer.Model.Catalog</c>).
    /// </summary>
    /// <param name="interactions">One row per interaction.</param>
    /// <param name="catalog">The items to score.</param>
    /// <param name="userColumnName">The user column (text, integer or key).</param>
    /// <param name="itemColumnName">The item column (text, integer or key).</param>
    /// <param name="unknownItems">Items missing from <paramref name="catalog"/>: <see cref="UnknownItemPolicy.Error"/> (default) or <see cref="UnknownItemPolicy.Drop"/>.</param>
    public static PopularityRecommender Fit(IDataView interactions, ItemCatalog catalog, string userColumnName = "UserId", string itemColumnName = "ItemId",
        UnknownItemPolicy unknownItems = UnknownItemPolicy.Error)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        ArgumentNullException.ThrowIfNull(catalog);
        if (unknownItems == UnknownItemPolicy.AddPlaceholder)
            throw new ArgumentOutOfRangeException(nameof(unknownItems), "The catalog is given, so unknown items can only be errors or dropped.");
        return Fit(DataViewInteractionReader.Read(interactions, catalog, new DataViewInteractionReader.Options
        {
            UserColumn = userColumnName,
            ItemColumn = itemColumnName,
            TimestampColumn = null, // counts do not depend on order
            UnknownItems = unknownItems,
            SourceName = "popularity training data",
        }));
    }

    /// <summary>The catalog scored.</summary>
    public ItemCatalog Catalog { get; }

    /// <summary>Training interaction count of each item, by catalog index.</summary>
    public IReadOnlyList<long> Counts => _counts;

    /// <summary>
    /// Writes each item's training count as its score (the history is ignored). Scores tie for items with equal
    /// counts; <see cref="Evaluation.CatalogRankingEvaluator"/> ranks ties pessimistically, so the baseline gains
    /// nothing from an arbitrary order. Counts above 2^24 are rounded to the nearest float.
    /// </summary>
    public void Score(ReadOnlySpan<int> history, Span<float> scores)
    {
        if (scores.Length != _counts.Length) throw new ArgumentException($"Need {_counts.Length} scores, got {scores.Length}.", nameof(scores));
        for (int i = 0; i < _counts.Length; i++) scores[i] = _counts[i];
    }

    /// <summary>Writes every history's row of <paramref name="scores"/> (see <see cref="IItemScorer.ScoreBatch"/>): the training counts, the same for every history.</summary>
    public void ScoreBatch(IReadOnlyList<int[]> histories, Memory<float> scores)
    {
        ArgumentNullException.ThrowIfNull(histories);
        int n = _counts.Length;
        if (scores.Length < (long)histories.Count * n)
            throw new ArgumentException($"{histories.Count} histories need {(long)histories.Count * n} scores; got {scores.Length}.", nameof(scores));
        if (histories.Count == 0) return;
        var first = scores.Span[..n];
        Score(histories[0], first);
        for (int i = 1; i < histories.Count; i++) first.CopyTo(scores.Span.Slice(i * n, n));
    }

    /// <summary>
    /// The <paramref name="k"/> most popular items, most popular first; ties go to the lower catalog index.
    /// With <paramref name="excludeHistory"/> (the default) items of <paramref name="history"/> are skipped.
    /// </summary>
    public int[] Recommend(ReadOnlySpan<int> history, int k, bool excludeHistory = true)
    {
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k));
        var seen = excludeHistory && !history.IsEmpty ? new HashSet<int>(history.ToArray()) : null;
        var result = new List<int>(Math.Min(k, _order.Length));
        foreach (var item in _order)
        {
            if (result.Count == k) break;
            if (seen is null || !seen.Contains(item)) result.Add(item);
        }
        return result.ToArray();
    }

    private void SortTiesByIndex(long[] keys)
    {
        // Array.Sort is not stable: order each run of equal counts by index.
        int start = 0;
        for (int k = 1; k <= keys.Length; k++)
        {
            if (k < keys.Length && keys[k] == keys[start]) continue;
            Array.Sort(_order, start, k - start);
            start = k;
        }
    }
}
