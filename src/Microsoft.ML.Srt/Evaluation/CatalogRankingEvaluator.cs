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
/// Evaluates any <see cref="CatalogScorer"/> on <see cref="EvaluationCases"/> by full ranking: the target is
/// ranked against every catalog item (no sampled negatives), ties counted pessimistically
/// (<see cref="RankingMetricsAccumulator.PessimisticRank"/>).
/// </summary>
public static class CatalogRankingEvaluator
{
    /// <summary>
    /// Ranks each case's target among all catalog items and averages NDCG@K, HIT@K and MRR.
    /// </summary>
    /// <param name="cases">The cases; their source catalog defines the candidate set.</param>
    /// <param name="scorer">Scores every catalog item for a history (must be thread-safe when <paramref name="maxDegreeOfParallelism"/> is not 1).</param>
    /// <param name="maskHistory">When true (the default, as in SASRec/SRT evaluations), items of the history other than
    /// the target are left out of the ranking.</param>
    /// <param name="ks">Cut-offs K (default 5, 10, 20).</param>
    /// <param name="maxDegreeOfParallelism">Threads (default: all processors). Results do not depend on it: ranks
    /// are computed per case and summed in case order.</param>
    public static RankingMetrics Evaluate(EvaluationCases cases, CatalogScorer scorer, bool maskHistory = true,
        IEnumerable<int>? ks = null, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(scorer);
        var ranks = ComputeRanks(cases, scorer, maskHistory, maxDegreeOfParallelism);
        var accumulator = new RankingMetricsAccumulator(ks);
        foreach (var rank in ranks) accumulator.AddRank(rank);
        return accumulator.Result();
    }

    /// <summary>The 0-based pessimistic rank of each case's target (same rules as <see cref="Evaluate"/>), by case.</summary>
    public static long[] ComputeRanks(EvaluationCases cases, CatalogScorer scorer, bool maskHistory = true, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(scorer);
        int itemCount = cases.Source.Catalog.Count;
        var ranks = new long[cases.Count];
        const int casesPerChunk = 64; // amortises the per-thread buffers; the chunking does not change results
        int chunks = (cases.Count + casesPerChunk - 1) / casesPerChunk;
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount };
        Parallel.For(0, chunks, options,
            () => (Scores: new float[itemCount], Excluded: maskHistory ? new bool[itemCount] : null),
            (chunk, _, buffers) =>
            {
                int end = Math.Min(cases.Count, (chunk + 1) * casesPerChunk);
                for (int k = chunk * casesPerChunk; k < end; k++)
                {
                    var history = cases.GetHistory(k);
                    int target = cases.Targets[k];
                    var scores = buffers.Scores.AsSpan();
                    scores.Clear();
                    scorer(history, scores);
                    if (buffers.Excluded is { } excluded)
                    {
                        foreach (var i in history) excluded[i] = true;
                        ranks[k] = RankingMetricsAccumulator.PessimisticRank(scores, target, excluded);
                        foreach (var i in history) excluded[i] = false;
                    }
                    else
                    {
                        ranks[k] = RankingMetricsAccumulator.PessimisticRank(scores, target);
                    }
                }
                return buffers;
            },
            _ => { });
        return ranks;
    }
}
