using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Evaluation;

/// <summary>
/// Scores every catalog item for a history: writes one score per catalog item (higher ranks first) into
/// <paramref name="scores"/>. Called concurrently from several threads by <see cref="CatalogRankingEvaluator"/>,
/// so it must be thread-safe (or the evaluation run with one thread).
/// </summary>
/// <param name="history">Catalog indices of the items seen so far, oldest first.</param>
/// <param name="scores">One score per catalog item, to fill (its length is the catalog size).</param>
public delegate void CatalogScorer(ReadOnlySpan<int> history, Span<float> scores);

/// <summary>
/// Full-ranking evaluation of a <see cref="CatalogScorer"/> delegate (one history at a time), for ad-hoc scorers: a
/// shorthand for <see cref="NextItemEvaluator"/> with <see cref="RankingProtocol.FullCatalog"/>, same rules (ties
/// pessimistic, <see cref="NextItemMetricsAccumulator.PessimisticRank"/>).
/// </summary>
public static class CatalogRankingEvaluator
{
    /// <summary>
    /// Ranks each case's target among all catalog items and averages NDCG@K, HIT@K and MRR.
    /// </summary>
    /// <param name="cases">The cases; their source catalog defines the candidate set.</param>
    /// <param name="scorer">Scores every catalog item for a history (must be thread-safe when <paramref name="maxDegreeOfParallelism"/> is not 1).</param>
    /// <param name="maskHistory">When true (the default here), items of the history other than the target are left out
    /// of the ranking. Note that <see cref="SrtEvaluationOptions.MaskHistory"/> and <c>srt train</c> default to false.</param>
    /// <param name="ks">Cut-offs K (default 5, 10, 20).</param>
    /// <param name="maxDegreeOfParallelism">Threads (default: all processors). Results do not depend on it: ranks
    /// are computed per case and summed in case order.</param>
    public static NextItemMetrics Evaluate(EvaluationCases cases, CatalogScorer scorer, bool maskHistory = true,
        IEnumerable<int>? ks = null, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(scorer);
        return NextItemEvaluator.Evaluate(new DelegateScorer(cases.Source.Catalog, scorer, maxDegreeOfParallelism), cases,
            Options(maskHistory, ks), maxDegreeOfParallelism);
    }

    /// <summary>The 0-based pessimistic rank of each case's target (same rules as <see cref="Evaluate"/>), by case.</summary>
    public static long[] ComputeRanks(EvaluationCases cases, CatalogScorer scorer, bool maskHistory = true, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(scorer);
        return NextItemEvaluator.ComputeRanks(new DelegateScorer(cases.Source.Catalog, scorer, maxDegreeOfParallelism), cases,
            Options(maskHistory, null), maxDegreeOfParallelism);
    }

    private static SrtEvaluationOptions Options(bool maskHistory, IEnumerable<int>? ks)
    {
        var options = new SrtEvaluationOptions { MaskHistory = maskHistory };
        if (ks is not null) options.Ks = ks.ToArray();
        return options;
    }

    /// <summary>A delegate as an <see cref="IItemScorer"/>: the histories of a batch are scored in parallel.</summary>
    private sealed class DelegateScorer(ItemCatalog catalog, CatalogScorer scorer, int maxDegreeOfParallelism) : IItemScorer
    {
        public ItemCatalog Catalog => catalog;

        public void ScoreBatch(IReadOnlyList<int[]> histories, Memory<float> scores)
        {
            int n = catalog.Count;
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount };
            Parallel.For(0, histories.Count, parallel, i =>
            {
                var row = scores.Span.Slice(i * n, n);
                row.Clear();
                scorer(histories[i], row);
            });
        }
    }
}
