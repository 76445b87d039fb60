using System.Buffers;
using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Scoring;

/// <summary>
/// Recommendations by item id over a loaded <see cref="SrtModel"/>, for serving: filters (an exclude list, an allow
/// predicate, the history's own items), unknown ids skipped and reported, a popularity fallback for histories with no
/// known item, similar items, and atomic swaps of the catalog or the whole model.
/// </summary>
/// <remarks>
/// Thread safety: every member may run on many threads at once, swaps included. Each request reads one immutable
/// snapshot (a model and its catalog) from start to end, so it sees the old catalog or the new one, never a mix. A model
/// swapped out is disposed when the last request that uses it ends. The recommender holds its own handle on the models
/// it is given (nothing is copied): dispose yours when you no longer need it.
/// </remarks>
public sealed class SrtRecommender : IDisposable
{
    private readonly object _swapLock = new();
    private Snapshot? _current;

    /// <summary>Creates a recommender over <paramref name="model"/> (shared, not copied; the caller still disposes its own handle).</summary>
    public SrtRecommender(SrtModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _current = new Snapshot(model.Share());
    }

    /// <summary>Loads a model file (see <see cref="SrtModel.Load(string, string)"/>) into a new recommender.</summary>
    /// <param name="path">The model file.</param>
    /// <param name="device">Torch device: <c>auto</c> (default), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</param>
    public static SrtRecommender Load(string path, string device = "auto")
    {
        using var model = SrtModel.Load(path, device);
        return new SrtRecommender(model);
    }

    /// <summary>The catalog requests are answered from now (a later swap replaces it).</summary>
    public ItemCatalog Catalog => Current.Model.Catalog;

    /// <summary>
    /// False when the current model holds no training counts (a model file written before they were saved): the fallback is
    /// then the catalog order, first item first, with score 0.
    /// </summary>
    public bool HasPopularityCounts => Current.Model.ItemCounts is not null;

    /// <summary>
    /// The <paramref name="k"/> best items for a history of item ids (oldest first). Ids not in the catalog are skipped and
    /// listed in <see cref="RecommendationResult.Skipped"/>. A history with no catalog id gets the popularity list (see
    /// <see cref="RecommendOptions.PopularityFallback"/>). Fewer than k items come back when the filters leave fewer.
    /// </summary>
    /// <param name="history">Item ids, oldest first; only the last <see cref="SrtModel.MaxLength"/> known ones are read.</param>
    /// <param name="k">How many items to return (at least 1).</param>
    /// <param name="options">Filters and fallback; null: <c>new RecommendOptions()</c>.</param>
    public RecommendationResult Recommend(IReadOnlyList<string> history, int k = 10, RecommendOptions? options = null) =>
        RecommendBatch([new RecommendationRequest(history, k, options)])[0];

    /// <summary>
    /// <see cref="Recommend"/> for many requests against one snapshot: the histories are scored together (forward passes of
    /// up to 256 histories, see <see cref="SrtModel.ScoreBatch"/>). Results are in the order of <paramref name="requests"/>;
    /// their scores agree with one-at-a-time calls within float rounding (another batch shape is another computation).
    /// </summary>
    public IReadOnlyList<RecommendationResult> RecommendBatch(IReadOnlyList<RecommendationRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        for (int i = 0; i < requests.Count; i++)
            if (requests[i] is null) throw new ArgumentNullException(nameof(requests), $"Request {i} is null.");
        var snapshot = Acquire();
        try
        {
            return snapshot.RecommendBatch(requests);
        }
        finally
        {
            snapshot.Release();
        }
    }

    /// <summary>
    /// The <paramref name="k"/> items whose vectors are closest to <paramref name="itemId"/>'s (cosine similarity), the item
    /// itself left out. Items added by <see cref="SwapCatalog"/> have vectors from their text, so they get (and appear as)
    /// similar items too. An id not in the catalog gives an empty result that lists it in <see cref="RecommendationResult.Skipped"/>.
    /// </summary>
    /// <param name="itemId">The item.</param>
    /// <param name="k">How many items to return (at least 1).</param>
    /// <param name="options">Exclude list and allow predicate (<see cref="RecommendOptions.ExcludeHistory"/> and the fallback do not apply).</param>
    public RecommendationResult SimilarItems(string itemId, int k = 10, RecommendOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(itemId);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var snapshot = Acquire();
        try
        {
            return snapshot.SimilarItems(itemId, k, options ?? new RecommendOptions());
        }
        finally
        {
            snapshot.Release();
        }
    }

    /// <summary>
    /// Answers later requests from <paramref name="catalog"/> (items added get vectors from their text, items removed are
    /// no longer returned or read; see <see cref="SrtModel.WithCatalog"/>). The new item vectors are computed before the
    /// swap, and requests already running finish on the old catalog.
    /// </summary>
    /// <exception cref="NotSupportedException">The model embeds item ids, so it cannot score another catalog.</exception>
    public void SwapCatalog(ItemCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        lock (_swapLock)
        {
            var snapshot = Acquire();
            SrtModel next;
            try
            {
                next = snapshot.Model.WithCatalog(catalog);
            }
            finally
            {
                snapshot.Release();
            }
            Install(next);
        }
    }

    /// <summary>
    /// Answers later requests from <paramref name="model"/> (shared, not copied; the caller still disposes its own handle), for
    /// example one loaded again from a retrained model file. Requests already running finish on the old model.
    /// </summary>
    public void SwapModel(SrtModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (_swapLock) Install(model.Share());
    }

    /// <summary>Releases the recommender's handle on its model; requests still running finish first. Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_swapLock) Interlocked.Exchange(ref _current, null)?.Release();
    }

    private Snapshot Current => Volatile.Read(ref _current) ?? throw new ObjectDisposedException(nameof(SrtRecommender));

    /// <summary>The current snapshot with a reference taken; retried when a swap released it in between.</summary>
    private Snapshot Acquire()
    {
        while (true)
        {
            var snapshot = Current;
            if (snapshot.TryAcquire()) return snapshot;
        }
    }

    private void Install(SrtModel model)
    {
        var old = Interlocked.Exchange(ref _current, new Snapshot(model));
        if (old is null)
        {
            Interlocked.Exchange(ref _current, null)?.Release();
            throw new ObjectDisposedException(nameof(SrtRecommender));
        }
        old.Release();
    }

    /// <summary>A model with its popularity order, never changed; disposed when the recommender and every request are done with it.</summary>
    private sealed class Snapshot
    {
        private int _references = 1;
        private readonly int[] _popular; // items by training count descending, then index ascending (catalog order without counts)

        public Snapshot(SrtModel model)
        {
            Model = model;
            int n = model.Catalog.Count;
            _popular = Enumerable.Range(0, n).ToArray();
            if (model.ItemCounts is { } counts)
            {
                var keys = counts.ToArray();
                // Stable: equal counts keep catalog order.
                _popular = _popular.OrderByDescending(i => keys[i]).ToArray();
            }
        }

        public SrtModel Model { get; }

        public bool TryAcquire()
        {
            int seen = Volatile.Read(ref _references);
            while (seen > 0)
            {
                int before = Interlocked.CompareExchange(ref _references, seen + 1, seen);
                if (before == seen) return true;
                seen = before;
            }
            return false;
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _references) == 0) Model.Dispose();
        }

        public IReadOnlyList<RecommendationResult> RecommendBatch(IReadOnlyList<RecommendationRequest> requests)
        {
            var catalog = Model.Catalog;
            int n = catalog.Count;
            var results = new RecommendationResult[requests.Count];
            var known = new int[requests.Count][];
            var skipped = new string[requests.Count][];
            var scored = new List<int>();
            for (int r = 0; r < requests.Count; r++)
            {
                var (indices, unknown) = Resolve(catalog, requests[r].History);
                known[r] = indices;
                skipped[r] = unknown;
                if (indices.Length > 0) scored.Add(r);
                else results[r] = Fallback(requests[r], indices, unknown);
            }
            if (scored.Count == 0) return results;

            int chunk = Math.Min(scored.Count, SrtModel.DefaultBatchSize);
            var buffer = ArrayPool<float>.Shared.Rent(checked(chunk * n));
            try
            {
                for (int start = 0; start < scored.Count; start += chunk)
                {
                    int count = Math.Min(chunk, scored.Count - start);
                    var histories = new int[count][];
                    for (int i = 0; i < count; i++) histories[i] = known[scored[start + i]];
                    Model.ScoreBatch(histories, buffer.AsMemory(0, count * n));
                    for (int i = 0; i < count; i++)
                    {
                        int r = scored[start + i];
                        var request = requests[r];
                        var options = request.Options ?? Defaults;
                        var row = buffer.AsSpan(i * n, n);
                        if (options.ExcludeHistory) foreach (var item in known[r]) row[item] = float.NegativeInfinity;
                        results[r] = new RecommendationResult(Select(row, request.K, options), skipped[r], isFallback: false);
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(buffer);
            }
            return results;
        }

        public RecommendationResult SimilarItems(string itemId, int k, RecommendOptions options)
        {
            var catalog = Model.Catalog;
            if (!catalog.TryGetIndex(itemId, out int index)) return new RecommendationResult([], [itemId], isFallback: false);
            var row = new float[catalog.Count];
            Model.ItemSimilarities(index, row);
            row[index] = float.NegativeInfinity;
            return new RecommendationResult(Select(row, k, options), [], isFallback: false);
        }

        private static readonly RecommendOptions Defaults = new();

        /// <summary>Catalog indices of the known ids (in order, repeats kept: the model reads them) and the unknown ids, each once.</summary>
        private static (int[] Known, string[] Unknown) Resolve(ItemCatalog catalog, IReadOnlyList<string> history)
        {
            var indices = new List<int>(history.Count);
            List<string>? unknown = null;
            foreach (var id in history)
            {
                if (id is not null && catalog.TryGetIndex(id, out int index)) indices.Add(index);
                else
                {
                    unknown ??= [];
                    var shown = id ?? "";
                    if (!unknown.Contains(shown)) unknown.Add(shown);
                }
            }
            return (indices.ToArray(), unknown?.ToArray() ?? []);
        }

        private RecommendationResult Fallback(RecommendationRequest request, int[] history, string[] skipped)
        {
            var options = request.Options ?? Defaults;
            if (!options.PopularityFallback) return new RecommendationResult([], skipped, isFallback: false);
            var catalog = Model.Catalog;
            var excluded = Excluded(catalog, options);
            var counts = Model.ItemCounts;
            var items = new List<RecommendedItem>(Math.Min(request.K, _popular.Length));
            foreach (var i in _popular)
            {
                if (items.Count == request.K) break;
                if (excluded?.Contains(i) == true) continue;
                var id = catalog.GetId(i);
                if (options.Allow is { } allow && !allow(id)) continue;
                items.Add(new RecommendedItem(id, counts is null ? 0 : counts[i], catalog.GetTitle(i)));
            }
            return new RecommendationResult(items, skipped, isFallback: true);
        }

        private static HashSet<int>? Excluded(ItemCatalog catalog, RecommendOptions options)
        {
            if (options.Exclude is not { Count: > 0 } exclude) return null;
            var set = new HashSet<int>();
            foreach (var id in exclude)
                if (id is not null && catalog.TryGetIndex(id, out int i)) set.Add(i);
            return set;
        }

        /// <summary>
        /// The best <paramref name="k"/> entries of <paramref name="row"/> (changed: excluded and examined entries become −∞) that
        /// pass the exclude list and the allow predicate. The predicate is asked only about the best remaining candidates, a
        /// growing number per round, so a selective predicate costs a few rounds, not a call per catalog item.
        /// </summary>
        private List<RecommendedItem> Select(Span<float> row, int k, RecommendOptions options)
        {
            var catalog = Model.Catalog;
            if (options.Exclude is { Count: > 0 } exclude)
                foreach (var id in exclude)
                    if (id is not null && catalog.TryGetIndex(id, out int i)) row[i] = float.NegativeInfinity;
            k = Math.Min(k, row.Length);
            var result = new List<RecommendedItem>(k);
            int want = k;
            var items = new int[row.Length < 4 * k ? row.Length : 4 * k];
            var scores = new float[items.Length];
            while (result.Count < k)
            {
                int ask = Math.Min(want, row.Length);
                if (items.Length < ask) { items = new int[ask]; scores = new float[ask]; }
                int found = TopKSelector.Select(row, ask, items, scores);
                for (int j = 0; j < found && result.Count < k; j++)
                {
                    int item = items[j];
                    row[item] = float.NegativeInfinity;
                    var id = catalog.GetId(item);
                    if (options.Allow is { } allow && !allow(id)) continue;
                    result.Add(new RecommendedItem(id, scores[j], catalog.GetTitle(item)));
                }
                if (found < ask) break; // nothing selectable is left
                want = Math.Min(row.Length, want * 4);
            }
            return result;
        }
    }
}
