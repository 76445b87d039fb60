using System.Runtime.InteropServices;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Scoring;

/// <summary>
/// A trained SRT model bound to an item catalog: recommends and scores items for histories, and evaluates
/// next-item ranking. Item vectors are computed once per catalog and cached. As an <see cref="IItemScorer"/> it is
/// evaluated by <see cref="NextItemEvaluator"/> like any baseline.
/// </summary>
public sealed partial class SrtModel : IItemScorer, IDisposable
{
    private readonly SrtNetwork _network;
    private readonly SrtScorer _scorer;
    private readonly Device _device;
    private Tensor? _catalogVectors;

    internal SrtModel(SrtNetwork network, ItemFeaturizer featurizer, ItemCatalog catalog, bool cosine, Device device, SrtTrainingSummary? summary)
    {
        _network = network;
        Featurizer = featurizer;
        Catalog = catalog;
        CosineSimilarity = cosine;
        _device = device;
        TrainingSummary = summary;
        _network.eval();
        _scorer = new SrtScorer(network, cosine, device);
    }

    /// <summary>The catalog the model scores against.</summary>
    public ItemCatalog Catalog { get; }

    /// <summary>How the catalog's fields are tokenized.</summary>
    public ItemFeaturizer Featurizer { get; }

    /// <summary>True when scores are cosine similarities, false for dot products.</summary>
    public bool CosineSimilarity { get; }

    /// <summary>What training did, when this model was trained in this process.</summary>
    public SrtTrainingSummary? TrainingSummary { get; }

    /// <summary>Longest history the model reads.</summary>
    public int MaxLength => _network.Shape.MaxLength;

    /// <summary>All trainable parameters.</summary>
    public long ParameterCount => _network.ParameterCount();

    /// <summary>Parameters outside embedding tables (token, id and position embeddings).</summary>
    public long NonEmbeddingParameterCount => _network.NonEmbeddingParameterCount();

    internal SrtNetwork Network => _network;

    // Detached: the first call may come from inside a caller's dispose scope (Recommend), which must not free the cache.
    private Tensor CatalogVectors => _catalogVectors ??= _scorer.CatalogVectors(Catalog.Count).DetachFromDisposeScope();

    /// <summary>
    /// The <paramref name="k"/> best items for a history of catalog indices (oldest first), best first.
    /// With <paramref name="excludeHistory"/>, items already in the history are not returned.
    /// </summary>
    public (int Item, float Score)[] Recommend(ReadOnlySpan<int> history, int k = 10, bool excludeHistory = false)
    {
        if (history.IsEmpty) throw new ArgumentException("The history is empty.", nameof(history));
        using var scope = NewDisposeScope();
        var scores = _scorer.Scores(_scorer.Queries(CatalogVectors, new[] { history.ToArray() }), CatalogVectors)[0];
        if (excludeHistory)
            scores.index_fill_(0, tensor(history.ToArray().Select(i => (long)i).Distinct().ToArray(), device: _device), float.NegativeInfinity);
        var (values, indices) = scores.topk(Math.Min(k, Catalog.Count));
        var v = values.cpu().data<float>().ToArray();
        var ix = indices.cpu().data<long>().ToArray();
        return ix.Select((item, j) => ((int)item, v[j])).Where(p => !float.IsNegativeInfinity(p.Item2)).ToArray();
    }

    /// <summary>
    /// Scores every catalog item for each history (catalog indices, oldest first; only the last <see cref="MaxLength"/>
    /// count): row <c>i</c> of <paramref name="scores"/> (<c>Catalog.Count</c> long) for <c>histories[i]</c>, cosine
    /// similarities (or dot products when <see cref="CosineSimilarity"/> is false). Histories are scored as one padded
    /// batch, so keep batches to a few hundred histories of similar length.
    /// </summary>
    public void ScoreBatch(IReadOnlyList<int[]> histories, Memory<float> scores)
    {
        ArgumentNullException.ThrowIfNull(histories);
        int n = Catalog.Count;
        if (scores.Length < (long)histories.Count * n)
            throw new ArgumentException($"{histories.Count} histories need {(long)histories.Count * n} scores; got {scores.Length}.", nameof(scores));
        if (histories.Count == 0) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var rows = _scorer.Scores(_scorer.Queries(CatalogVectors, histories), CatalogVectors).cpu().contiguous();
        // The raw bytes: TensorAccessor copies element by element, ten times slower on a 12k-item catalog.
        MemoryMarshal.Cast<byte, float>(rows.bytes).CopyTo(scores.Span);
    }

    /// <summary>Next-item ranking metrics with full ranking over the catalog (ties pessimistic); <see cref="NextItemEvaluator"/> with the defaults but these.</summary>
    /// <param name="cases">The cases; they must index this model's catalog.</param>
    /// <param name="ks">Cut-offs K (default 5, 10, 20).</param>
    /// <param name="maskHistory">Leave history items (other than the target) out of the ranking. Default false, as in <c>srt train</c>.</param>
    public RankingMetrics Evaluate(EvaluationCases cases, IEnumerable<int>? ks = null, bool maskHistory = false)
    {
        var options = new SrtEvaluationOptions { MaskHistory = maskHistory };
        if (ks is not null) options.Ks = ks.ToArray();
        return Evaluate(cases, options);
    }

    /// <summary>Next-item ranking metrics by <paramref name="options"/> (protocol, masking, cut-offs); see <see cref="NextItemEvaluator"/>.</summary>
    public RankingMetrics Evaluate(EvaluationCases cases, SrtEvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(options);
        return NextItemEvaluator.Evaluate(this, cases, options);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _catalogVectors?.Dispose();
        _network.Dispose();
    }
}
