namespace Microsoft.ML.Srt.Scoring;

/// <summary>What <see cref="SrtRecommender"/> may return for one request: filters, and whether to fall back to popularity.</summary>
public sealed class RecommendOptions
{
    /// <summary>Leave the history's own (known) items out of the result. Default: true.</summary>
    public bool ExcludeHistory = true;

    /// <summary>Item ids never to return (for example out of stock, or already in the basket); ids not in the catalog are ignored. Default: none.</summary>
    public IReadOnlyCollection<string>? Exclude;

    /// <summary>
    /// When set, only items for which it returns true are returned. It is called with item ids, at most once per item and
    /// request, only for items good enough to be returned otherwise, and possibly on several threads at once. Default: none.
    /// </summary>
    public Func<string, bool>? Allow;

    /// <summary>
    /// A history that is empty or holds no catalog id gets the popularity list, with <see cref="RecommendationResult.IsFallback"/>
    /// set. When false, such a history gets an empty result (no items, not a fallback) instead. Default: true.
    /// </summary>
    public bool PopularityFallback = true;
}

/// <summary>One history to recommend for in <see cref="SrtRecommender.RecommendBatch"/>.</summary>
public sealed class RecommendationRequest
{
    /// <summary>Creates a request.</summary>
    /// <param name="history">Item ids, oldest first.</param>
    /// <param name="k">How many items to return (at least 1; at most the catalog size are returned).</param>
    /// <param name="options">Filters and fallback; null: <c>new RecommendOptions()</c>.</param>
    public RecommendationRequest(IReadOnlyList<string> history, int k = 10, RecommendOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        History = history;
        K = k;
        Options = options;
    }

    /// <summary>Item ids, oldest first.</summary>
    public IReadOnlyList<string> History { get; }

    /// <summary>How many items to return.</summary>
    public int K { get; }

    /// <summary>Filters and fallback; null: the defaults of <see cref="RecommendOptions"/>.</summary>
    public RecommendOptions? Options { get; }
}

/// <summary>One recommended item.</summary>
public sealed class RecommendedItem
{
    internal RecommendedItem(string id, float score, string title)
    {
        Id = id;
        Score = score;
        Title = title;
    }

    /// <summary>The item id.</summary>
    public string Id { get; }

    /// <summary>
    /// The model's score (what <see cref="SrtModel.Recommend(ReadOnlySpan{int}, int, bool)"/> reports), the cosine similarity for
    /// similar items, or the training count for a popularity fallback (0 when the model file holds no counts).
    /// </summary>
    public float Score { get; }

    /// <summary>The item's title (<see cref="Data.ItemCatalog.GetTitle"/>: the first text field, or the id when that is empty).</summary>
    public string Title { get; }
}

/// <summary>The answer to one request of <see cref="SrtRecommender"/>.</summary>
public sealed class RecommendationResult
{
    internal RecommendationResult(IReadOnlyList<RecommendedItem> items, IReadOnlyList<string> skipped, bool isFallback)
    {
        Items = items;
        Skipped = skipped;
        IsFallback = isFallback;
    }

    /// <summary>The items, best first (ties to the earlier catalog item).</summary>
    public IReadOnlyList<RecommendedItem> Items { get; }

    /// <summary>Ids of the request that are not in the catalog, in the order given, each once: they were ignored.</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary>True when the items are the popularity list: the history was empty or held no catalog id.</summary>
    public bool IsFallback { get; }
}
