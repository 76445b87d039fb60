using System.Runtime.InteropServices;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Scoring;

/// <summary>
/// A trained SRT model bound to an item catalog: recommends and scores items for histories, and evaluates
/// next-item ranking. Item vectors are computed once per catalog and cached. As an <see cref="IItemScorer"/> it is
/// evaluated by <see cref="NextItemEvaluator"/> like any baseline.
/// </summary>
/// <remarks>
/// Thread safety: scoring (<see cref="Recommend(ReadOnlySpan{int}, int, bool)"/>, its batch form, <see cref="Score"/>,
/// <see cref="ScoreBatch"/>, <see cref="Evaluate(EvaluationCases, SrtEvaluationOptions)"/>, <see cref="WithCatalog"/>) may run
/// on many threads at once; <see cref="Dispose"/> must not overlap any of them. See docs/api.md ("Many threads").
/// </remarks>
public sealed partial class SrtModel : IItemScorer, IDisposable
{
    /// <summary>Histories scored per forward pass by the batch methods (and by <see cref="SrtTransformer"/>'s default).</summary>
    internal const int DefaultBatchSize = 256;

    private readonly Shared<SrtNetwork> _shared;
    private readonly Shared<CatalogTables> _tables;
    private readonly SrtNetwork _network;
    private readonly SrtScorer _scorer;
    private readonly Device _device;
    private readonly long[]? _itemCounts;
    private int _disposed;

    internal SrtModel(SrtNetwork network, ItemFeaturizer featurizer, ItemCatalog catalog, bool cosine, Device device, SrtTrainingSummary? summary,
        long[]? itemCounts = null)
        : this(new Shared<SrtNetwork>(network), new Shared<CatalogTables>(new CatalogTables(null)), featurizer, catalog, cosine, device, summary, itemCounts)
    {
    }

    private SrtModel(Shared<SrtNetwork> shared, Shared<CatalogTables> tables, ItemFeaturizer featurizer, ItemCatalog catalog, bool cosine,
        Device device, SrtTrainingSummary? summary, long[]? itemCounts)
    {
        if (itemCounts is not null && itemCounts.Length != catalog.Count)
            throw new ArgumentException($"{itemCounts.Length} item counts for {catalog.Count} items.", nameof(itemCounts));
        _itemCounts = itemCounts;
        _shared = shared;
        _tables = tables;
        _network = shared.Value;
        Featurizer = featurizer;
        Catalog = catalog;
        CosineSimilarity = cosine;
        _device = device;
        TrainingSummary = summary;
        if (_network.training) _network.eval();
        _scorer = new SrtScorer(_network, cosine, device);
        RepeatBias = _network.RepeatOffset();
        ItemIds = catalog.Ids.Select(id => id.AsMemory()).ToArray();
    }

    /// <summary>The catalog the model scores against.</summary>
    public ItemCatalog Catalog { get; }

    /// <summary>How the catalog's fields are tokenized.</summary>
    internal ItemFeaturizer Featurizer { get; }

    /// <summary>True when scores are cosine similarities, false for dot products.</summary>
    public bool CosineSimilarity { get; }

    /// <summary>What training did, when this model was trained in this process (or loaded with its summary).</summary>
    public SrtTrainingSummary? TrainingSummary { get; }

    /// <summary>
    /// How often each catalog item (by index) occurs in the training sequences: the popularity list
    /// <see cref="SrtRecommender"/> falls back to. Saved in the model file; null for a model loaded from a file written before
    /// the counts were saved. Items added by <see cref="WithCatalog"/> count 0.
    /// </summary>
    public IReadOnlyList<long>? ItemCounts => _itemCounts;

    /// <summary>Longest history the model reads.</summary>
    public int MaxLength => _network.Shape.MaxLength;

    /// <summary>All trainable parameters.</summary>
    public long ParameterCount => _network.ParameterCount();

    /// <summary>Parameters outside embedding tables (token, id and position embeddings).</summary>
    public long NonEmbeddingParameterCount => _network.NonEmbeddingParameterCount();

    internal SrtNetwork Network => _network;

    /// <summary>
    /// The learned repeat bias: added to the score of every item in the part of a history the model reads (see
    /// <see cref="SrtTrainer.Options.LearnRepeatBias"/>). Below zero when the training users rarely took an item twice; 0
    /// when trained without it.
    /// </summary>
    public float RepeatBias { get; }

    /// <summary>The catalog ids as memory, by index (what the transformer's output columns hand out without copying).</summary>
    internal ReadOnlyMemory<char>[] ItemIds { get; }

    /// <summary>The cached item vectors and scoring matrix, built on first use (once, whichever thread gets there first).</summary>
    private CatalogTables Tables
    {
        get
        {
            var tables = _tables.Value;
            if (!tables.IsReady)
            {
                ObjectDisposedException.ThrowIf(_disposed != 0, this);
                tables.Build(() => _scorer.CatalogVectors(Catalog.Count), Catalog.Count, CosineSimilarity);
            }
            return tables;
        }
    }

    /// <summary>
    /// The <paramref name="k"/> best items for a history of catalog indices (oldest first), best first.
    /// With <paramref name="excludeHistory"/>, items already in the history are not returned.
    /// </summary>
    public (int Item, float Score)[] Recommend(ReadOnlySpan<int> history, int k = 10, bool excludeHistory = false)
    {
        if (history.IsEmpty) throw new ArgumentException("The history is empty.", nameof(history));
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        CheckIndices(history, nameof(history));
        var result = new ScoredHistory[1];
        Rank([history.ToArray()], k, excludeHistory, null, result);
        return Pairs(result[0]);
    }

    /// <summary>
    /// <see cref="Recommend(ReadOnlySpan{int}, int, bool)"/> for many histories at once, scored in batches of 256 per forward
    /// pass (each batch padded to its longest history); the result is in the order of <paramref name="histories"/>.
    /// </summary>
    public (int Item, float Score)[][] Recommend(IReadOnlyList<int[]> histories, int k = 10, bool excludeHistory = false)
    {
        ArgumentNullException.ThrowIfNull(histories);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        for (int i = 0; i < histories.Count; i++)
        {
            if (histories[i] is not { Length: > 0 } h) throw new ArgumentException($"History {i} is empty.", nameof(histories));
            CheckIndices(h, nameof(histories));
        }
        var all = new (int, float)[histories.Count][];
        var results = new ScoredHistory[DefaultBatchSize];
        for (int start = 0; start < histories.Count; start += DefaultBatchSize)
        {
            int count = Math.Min(DefaultBatchSize, histories.Count - start);
            var batch = new int[count][];
            for (int i = 0; i < count; i++) batch[i] = histories[start + i];
            Rank(batch, k, excludeHistory, null, results);
            for (int i = 0; i < count; i++) all[start + i] = Pairs(results[i]);
        }
        return all;
    }

    /// <summary>The scores of <paramref name="items"/> (catalog indices) for a history, in the order given; the same scores
    /// <see cref="Recommend(ReadOnlySpan{int}, int, bool)"/> reports.</summary>
    public float[] Score(ReadOnlySpan<int> history, ReadOnlySpan<int> items)
    {
        if (history.IsEmpty) throw new ArgumentException("The history is empty.", nameof(history));
        CheckIndices(history, nameof(history));
        CheckIndices(items, nameof(items));
        var result = new ScoredHistory[1];
        Rank([history.ToArray()], 0, false, [items.ToArray()], result);
        return result[0].CandidateScores;
    }

    /// <summary>
    /// A model with the same weights that scores against <paramref name="catalog"/>: items may be added (their vectors come from
    /// their text through this model's <see cref="Featurizer"/>; token-list values never seen in training share hashed rows) or
    /// removed (never recommended, and skipped when a history names them). No retraining. The catalog needs every field the
    /// featurizer reads (<see cref="ItemFeaturizer.Fields"/>). The new model shares the network with this one; each must be
    /// disposed, and either may be disposed first.
    /// </summary>
    /// <exception cref="NotSupportedException">The model embeds item ids (<see cref="ItemRepresentation.Id"/> or
    /// <see cref="ItemRepresentation.TextAndId"/>): its id table belongs to the training catalog.</exception>
    /// <exception cref="ArgumentException">The catalog is empty or lacks a field the model reads.</exception>
    public SrtModel WithCatalog(ItemCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_network.Shape.UsesIds)
            throw new NotSupportedException(
                $"This model embeds item ids (ItemRepresentation.{(_network.Shape.UsesText ? nameof(ItemRepresentation.TextAndId) : nameof(ItemRepresentation.Id))}); " +
                $"its id table belongs to the training catalog, so it cannot score a changed catalog. Models trained with ItemRepresentation.{nameof(ItemRepresentation.Text)} (the default) can.");
        if (catalog.Count == 0) throw new ArgumentException("The new catalog has no items.", nameof(catalog));
        var fields = Featurizer.Featurize(catalog);
        Tensor vectors;
        using (var scope = NewDisposeScope())
        {
            var tokens = _network.Items.TokenTensors(fields, _device);
            vectors = _scorer.CatalogVectors(catalog.Count, tokens).DetachFromDisposeScope();
        }
        long[]? counts = null;
        if (_itemCounts is not null)
        {
            // Counts follow the ids: items kept keep their training count, new items have none.
            counts = new long[catalog.Count];
            for (int i = 0; i < counts.Length; i++)
                if (Catalog.TryGetIndex(catalog.GetId(i), out int old)) counts[i] = _itemCounts[old];
        }
        _shared.Acquire();
        return new SrtModel(_shared, new Shared<CatalogTables>(new CatalogTables(vectors)), Featurizer, catalog, CosineSimilarity, _device, TrainingSummary, counts);
    }

    /// <summary>Another handle on this same model (weights, catalog and caches shared, nothing copied), disposed on its own.</summary>
    internal SrtModel Share()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        _shared.Acquire();
        _tables.Acquire();
        return new SrtModel(_shared, _tables, Featurizer, Catalog, CosineSimilarity, _device, TrainingSummary, _itemCounts);
    }

    /// <summary>
    /// Scores every catalog item for each history (catalog indices, oldest first; only the last <see cref="MaxLength"/>
    /// count): row <c>i</c> of <paramref name="scores"/> (<c>Catalog.Count</c> long) for <c>histories[i]</c>, cosine
    /// similarities (or dot products when <see cref="CosineSimilarity"/> is false) plus <see cref="RepeatBias"/> on the
    /// history's own items, the scores <see cref="Recommend(ReadOnlySpan{int}, int, bool)"/>
    /// ranks. A batch is split into forward passes of similar history lengths; keep batches to a few hundred histories.
    /// </summary>
    public void ScoreBatch(IReadOnlyList<int[]> histories, Memory<float> scores)
    {
        ArgumentNullException.ThrowIfNull(histories);
        int n = Catalog.Count;
        if (scores.Length < (long)histories.Count * n)
            throw new ArgumentException($"{histories.Count} histories need {(long)histories.Count * n} scores; got {scores.Length}.", nameof(scores));
        if (histories.Count == 0) return;
        for (int i = 0; i < histories.Count; i++)
        {
            if (histories[i] is not { Length: > 0 } h) throw new ArgumentException($"History {i} is empty.", nameof(histories));
            CheckIndices(h, nameof(histories));
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // The raw bytes: TensorAccessor copies element by element, ten times slower on a 12k-item catalog.
        MemoryMarshal.Cast<byte, float>(ScoreMatrix(histories).bytes).CopyTo(scores.Span);
    }

    /// <summary>
    /// Next-item ranking metrics by <paramref name="options"/> (protocol, masking, cut-offs; null: the defaults of
    /// <see cref="SrtEvaluationOptions"/>, documented there once); see <see cref="NextItemEvaluator"/>.
    /// </summary>
    /// <param name="cases">The cases; they must index this model's catalog.</param>
    /// <param name="options">How to rank and average; null: <c>new SrtEvaluationOptions()</c>.</param>
    public NextItemMetrics Evaluate(EvaluationCases cases, SrtEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cases);
        return NextItemEvaluator.Evaluate(this, cases, options);
    }

    /// <summary>
    /// A shorthand for <see cref="Evaluate(EvaluationCases, SrtEvaluationOptions?)"/> with
    /// <c>new SrtEvaluationOptions { Ks = ks, MaskHistory = maskHistory }</c> (full ranking; null <paramref name="ks"/>
    /// keeps the default cut-offs). Masking is stated here on purpose: its default lives in <see cref="SrtEvaluationOptions"/>.
    /// </summary>
    /// <param name="cases">The cases; they must index this model's catalog.</param>
    /// <param name="ks">Cut-offs K; null: the default ones.</param>
    /// <param name="maskHistory">Leave history items (other than the target) out of the candidates.</param>
    public NextItemMetrics Evaluate(EvaluationCases cases, IEnumerable<int>? ks, bool maskHistory) =>
        Evaluate(cases, SrtEvaluationOptions.With(ks, maskHistory));

    /// <summary>
    /// Scores histories (catalog indices, each non-empty; only the last <see cref="MaxLength"/> items count). Per history:
    /// the top <paramref name="k"/> items (none when k is 0), best first with ties to the lower index, and the scores of its
    /// <paramref name="candidates"/> (an index of -1 scores NaN). Candidate scores ignore <paramref name="excludeHistory"/>,
    /// which only shapes the top-K list.
    /// </summary>
    internal void Rank(IReadOnlyList<int[]> histories, int k, bool excludeHistory, IReadOnlyList<int[]>? candidates, Span<ScoredHistory> results)
    {
        int b = histories.Count;
        if (b == 0) return;
        int n = Catalog.Count;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // Reading the CPU tensor's memory in place: selection, exclusion and candidates without further tensors.
        var all = MemoryMarshal.Cast<byte, float>(ScoreMatrix(histories).bytes);
        int top = Math.Min(Math.Max(k, 0), n);
        var itemBuffer = new int[top];
        var scoreBuffer = new float[top];
        for (int i = 0; i < b; i++)
        {
            var row = all.Slice(i * n, n);
            if (candidates is not null)
            {
                var values = new float[candidates[i].Length];
                for (int j = 0; j < values.Length; j++) values[j] = candidates[i][j] >= 0 ? row[candidates[i][j]] : float.NaN;
                results[i].CandidateScores = values;
            }
            else
            {
                results[i].CandidateScores = [];
            }
            if (excludeHistory && top > 0)
                foreach (var item in histories[i]) row[item] = float.NegativeInfinity;
            int count = TopKSelector.Select(row, top, itemBuffer, scoreBuffer);
            results[i].Items = itemBuffer.AsSpan(0, count).ToArray();
            results[i].Scores = scoreBuffer.AsSpan(0, count).ToArray();
        }
    }

    /// <summary>
    /// Cosine similarity of item <paramref name="index"/>'s vector with every catalog item's, written to <paramref name="row"/>
    /// (<c>Catalog.Count</c> long). Cosine for dot-product models too: a raw dot product between items favours long vectors.
    /// </summary>
    internal void ItemSimilarities(int index, Span<float> row) => ItemSimilarities([index], row);

    /// <summary>
    /// <see cref="ItemSimilarities(int, Span{float})"/> for several items in one product: row <c>k</c> of
    /// <paramref name="rows"/> (<c>Catalog.Count</c> long) belongs to <c>indices[k]</c>.
    /// </summary>
    internal void ItemSimilarities(ReadOnlySpan<int> indices, Span<float> rows)
    {
        foreach (var index in indices)
            if ((uint)index >= (uint)Catalog.Count) throw new ArgumentOutOfRangeException(nameof(indices));
        var tables = Tables;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var rowIndices = tensor(indices.ToArray().Select(i => (long)i + 1).ToArray(), ScalarType.Int64, tables.Inputs.device);
        var query = nn.functional.normalize(tables.Inputs.index_select(0, rowIndices), p: 2, dim: -1);
        var candidates = CosineSimilarity ? tables.Candidates : nn.functional.normalize(tables.Candidates, p: 2, dim: 0);
        var scores = query.matmul(candidates).contiguous();
        if (scores.device_type != DeviceType.CPU) scores = scores.cpu();
        MemoryMarshal.Cast<byte, float>(scores.bytes).CopyTo(rows);
    }

    /// <summary>The scores <c>[B, N]</c> of every catalog item for each history, contiguous on the CPU.</summary>
    private Tensor ScoreMatrix(IReadOnlyList<int[]> histories)
    {
        var tables = Tables;
        var queries = Queries(histories, tables.Inputs);
        if (CosineSimilarity) queries = nn.functional.normalize(queries, p: 2, dim: -1);
        var scores = queries.matmul(tables.Candidates).contiguous();
        SrtScorer.AddRepeatBias(scores, histories, MaxLength, RepeatBias);
        // On an accelerator the [B, N] scores come over to the CPU once (a megabyte per 1,000 items at B = 256).
        return scores.device_type == DeviceType.CPU ? scores : scores.cpu();
    }

    /// <summary>
    /// Query vectors <c>[B, d]</c> (not normalized) in the order of <paramref name="histories"/>. Histories are right-padded
    /// to a common length per forward pass, so a batch is split into groups of similar lengths when the padding saved is
    /// worth an extra pass (see <see cref="LengthGroups"/>).
    /// </summary>
    private Tensor Queries(IReadOnlyList<int[]> histories, Tensor inputs)
    {
        int b = histories.Count, maxLength = MaxLength;
        var lengths = new int[b];
        for (int i = 0; i < b; i++) lengths[i] = Math.Min(histories[i].Length, maxLength);
        var groups = LengthGroups(lengths);
        if (groups.Count == 1) return Encode(histories, Enumerable.Range(0, b).ToArray(), lengths, inputs);
        var parts = groups.Select(g => Encode(histories, g, lengths, inputs)).ToArray();
        // Back to the caller's order: position of each history in the concatenated groups.
        var at = new long[b];
        int next = 0;
        foreach (var g in groups) foreach (var i in g) at[i] = next++;
        return cat(parts, 0).index_select(0, tensor(at, device: _device));
    }

    /// <summary>Query vectors <c>[members, d]</c> of the histories <paramref name="members"/>, right-padded to the longest of them.</summary>
    private Tensor Encode(IReadOnlyList<int[]> histories, int[] members, int[] lengths, Tensor inputs)
    {
        int b = members.Length, d = _network.Shape.Dimension;
        int width = 1;
        foreach (var i in members) width = Math.Max(width, lengths[i]);
        var rows = new long[b * width];
        var last = new long[b];
        for (int r = 0; r < b; r++)
        {
            var h = histories[members[r]];
            int used = lengths[members[r]], skip = h.Length - used;
            for (int t = 0; t < used; t++) rows[r * width + t] = h[skip + t] + 1;
            last[r] = used - 1;
        }
        var input = inputs.index_select(0, tensor(rows, device: _device)).view(b, width, d);
        return _network.Sequences.ForwardLast(input, last);
    }

    /// <summary>
    /// Splits a batch by history length so that the padded positions plus a fixed cost per forward pass are fewest: the
    /// histories sorted by length, cut where dynamic programming says (O(B²), nothing next to a forward pass). Cursors give
    /// rows in input order, so this is how Transform gets most of what length-bucketed batches would give.
    /// </summary>
    internal static List<int[]> LengthGroups(int[] lengths, int passCost = 64)
    {
        int b = lengths.Length;
        var order = Enumerable.Range(0, b).OrderBy(i => lengths[i]).ToArray();
        var best = new long[b + 1];
        var cut = new int[b + 1];
        for (int end = 1; end <= b; end++)
        {
            best[end] = long.MaxValue;
            long width = lengths[order[end - 1]];
            for (int start = 0; start < end; start++)
            {
                long cost = best[start] + passCost + (end - start) * width;
                if (cost < best[end]) { best[end] = cost; cut[end] = start; }
            }
        }
        var groups = new List<int[]>();
        for (int end = b; end > 0; end = cut[end]) groups.Add(order[cut[end]..end]);
        groups.Reverse();
        return groups;
    }

    private static (int Item, float Score)[] Pairs(ScoredHistory scored)
    {
        var pairs = new (int, float)[scored.Items.Length];
        for (int j = 0; j < pairs.Length; j++) pairs[j] = (scored.Items[j], scored.Scores[j]);
        return pairs;
    }

    private void CheckIndices(ReadOnlySpan<int> indices, string parameter)
    {
        foreach (var i in indices)
            if ((uint)i >= (uint)Catalog.Count)
                throw new ArgumentOutOfRangeException(parameter, $"Item index {i} is outside the catalog (0..{Catalog.Count - 1}).");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _tables.Release();
        _shared.Release();
    }

    /// <summary>A catalog's cached item vectors, built once on first use (whichever thread gets there first).</summary>
    private sealed class CatalogTables(Tensor? itemVectors) : IDisposable
    {
        private readonly object _lock = new();
        private Tensor? _given = itemVectors;
        private volatile bool _ready;

        public bool IsReady => _ready;

        /// <summary><c>[N + 1, d]</c> item vectors, row 0 = padding: what a history's items are read as.</summary>
        public Tensor Inputs { get; private set; } = null!;

        /// <summary><c>[d, N]</c> item vectors to score against (transposed), already L2-normalized for cosine similarity.</summary>
        public Tensor Candidates { get; private set; } = null!;

        public void Build(Func<Tensor> encode, int count, bool normalize)
        {
            lock (_lock)
            {
                if (_ready) return;
                // Detached: the first call may come from inside a caller's dispose scope, which must not free the cache.
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var inputs = _given ?? encode();
                _given = null;
                var items = inputs.narrow(0, 1, count);
                // Stored [d, N]: a single query times a row-major [d, N] matrix runs 2-3x faster than against [N, d]^T on a CPU.
                var candidates = (normalize ? nn.functional.normalize(items, p: 2, dim: -1) : items).t().contiguous();
                Inputs = inputs.DetachFromDisposeScope();
                Candidates = candidates.DetachFromDisposeScope();
                _ready = true;
            }
        }

        public void Dispose()
        {
            lock (_lock)
            {
                _given?.Dispose();
                if (_ready) { Inputs.Dispose(); Candidates.Dispose(); }
                _ready = false;
            }
        }
    }

    /// <summary>A resource shared by several models (a network by <see cref="WithCatalog"/>; everything by <see cref="Share"/>); the last one out disposes it.</summary>
    private sealed class Shared<T>(T value) where T : IDisposable
    {
        private int _references = 1;

        public T Value { get; } = value;

        public void Acquire() => Interlocked.Increment(ref _references);

        public void Release()
        {
            if (Interlocked.Decrement(ref _references) == 0) Value.Dispose();
        }
    }
}

/// <summary>One history's scores: top items (catalog indices) best first with their scores, and candidate scores.</summary>
internal struct ScoredHistory
{
    public int[] Items;
    public float[] Scores;
    public float[] CandidateScores;
}
