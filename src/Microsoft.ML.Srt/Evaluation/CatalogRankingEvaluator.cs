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
/// Evaluation of a <see cref="CatalogScorer"/> delegate (one history at a time), for ad-hoc scorers: the same evaluator
/// as <see cref="NextItemEvaluator"/>, with the same options and defaults (<see cref="SrtEvaluationOptions"/>).
/// </summary>
public static class CatalogRankingEvaluator
{
    /// <summary>Ranks each case's target and averages NDCG@K, HIT@K and MRR.</summary>
    /// <param name="cases">The cases; their source catalog defines the candidate set.</param>
    /// <param name="scorer">Scores every catalog item for a history (must be thread-safe when <paramref name="maxDegreeOfParallelism"/> is not 1).</param>
    /// <param name="options">Protocol, masking and cut-offs (the column options do not apply); null: the defaults of <see cref="SrtEvaluationOptions"/>.</param>
    /// <param name="maxDegreeOfParallelism">Threads (default: all processors). Results do not depend on it: ranks
    /// are computed per case and summed in case order.</param>
    public static NextItemMetrics Evaluate(EvaluationCases cases, CatalogScorer scorer, SrtEvaluationOptions? options = null, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(scorer);
        return NextItemEvaluator.Evaluate(new DelegateScorer(cases.Source.Catalog, scorer, maxDegreeOfParallelism), cases,
            options, maxDegreeOfParallelism);
    }

    /// <summary>
    /// A shorthand for <see cref="Evaluate(EvaluationCases, CatalogScorer, SrtEvaluationOptions?, int)"/> with
    /// <c>new SrtEvaluationOptions { Ks = ks, MaskHistory = maskHistory }</c> (full ranking; null <paramref name="ks"/> keeps
    /// the default cut-offs). Masking is stated here on purpose: its default lives in <see cref="SrtEvaluationOptions"/>.
    /// </summary>
    /// <param name="cases">The cases.</param>
    /// <param name="scorer">Scores every catalog item for a history.</param>
    /// <param name="maskHistory">Leave history items (other than the target) out of the candidates.</param>
    /// <param name="ks">Cut-offs K; null: the default ones.</param>
    /// <param name="maxDegreeOfParallelism">Threads (default: all processors).</param>
    public static NextItemMetrics Evaluate(EvaluationCases cases, CatalogScorer scorer, bool maskHistory,
        IEnumerable<int>? ks = null, int maxDegreeOfParallelism = -1) =>
        Evaluate(cases, scorer, SrtEvaluationOptions.With(ks, maskHistory), maxDegreeOfParallelism);

    /// <summary>The 0-based pessimistic rank of each case's target (same rules and options as <see cref="Evaluate(EvaluationCases, CatalogScorer, SrtEvaluationOptions?, int)"/>), by case.</summary>
    /// <param name="cases">The cases.</param>
    /// <param name="scorer">Scores every catalog item for a history.</param>
    /// <param name="options">Protocol and masking; null: the defaults of <see cref="SrtEvaluationOptions"/>.</param>
    /// <param name="maxDegreeOfParallelism">Threads (default: all processors).</param>
    public static long[] ComputeRanks(EvaluationCases cases, CatalogScorer scorer, SrtEvaluationOptions? options = null, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(scorer);
        return NextItemEvaluator.ComputeRanks(new DelegateScorer(cases.Source.Catalog, scorer, maxDegreeOfParallelism), cases,
            options ?? new SrtEvaluationOptions(), maxDegreeOfParallelism);
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
