using System.Numerics;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;

namespace Microsoft.ML.Srt.Evaluation;

/// <summary>
/// Next-item evaluation of any <see cref="IItemScorer"/>: each case's target is ranked against the whole catalog or
/// against sampled negatives (<see cref="SrtEvaluationOptions"/>), and NDCG@K, HIT@K and MRR are averaged over cases.
/// The rules (docs/evaluation.md): ties count pessimistically (a candidate scoring the same as the target ranks ahead
/// of it, so a constant scorer earns nothing); a NaN score ranks ahead of the target, and a NaN target ranks last;
/// with <see cref="SrtEvaluationOptions.MaskHistory"/> the history's items other than the target are not candidates.
/// </summary>
public static class NextItemEvaluator
{
    // One batch's score rows are buffered: 512 histories, fewer for catalogs above 65,536 items (at most 128 MB).
    private const int MaxBatchSize = 512;
    private const long MaxBufferedScores = 1L << 25;

    /// <summary>Ranks every case's target and averages the metrics.</summary>
    /// <param name="scorer">The model or baseline; its catalog must be the cases' catalog (the same items in the same order).</param>
    /// <param name="cases">Histories and targets (<see cref="UserSplits"/> makes them).</param>
    /// <param name="options">Protocol, masking and cut-offs; null: the defaults of <see cref="SrtEvaluationOptions"/>.</param>
    public static NextItemMetrics Evaluate(IItemScorer scorer, EvaluationCases cases, SrtEvaluationOptions? options = null) =>
        Evaluate(scorer, cases, options, maxDegreeOfParallelism: -1);

    /// <summary>
    /// Reads interactions (columns and unknown-item policy from <paramref name="options"/>) against the scorer's catalog,
    /// takes each user's last interaction as the target and the ones before as the history (users with at least
    /// <see cref="SrtEvaluationOptions.MinimumInteractions"/> interactions), and evaluates those cases.
    /// </summary>
    /// <exception cref="SrtDataException">A column is missing or of the wrong type, or an item is unknown under <see cref="UnknownItemPolicy.Error"/>.</exception>
    /// <exception cref="ArgumentException">No user has enough interactions to be evaluated.</exception>
    public static NextItemMetrics Evaluate(IItemScorer scorer, IDataView interactions, SrtEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        options ??= new SrtEvaluationOptions();
        return Evaluate(scorer, ReadCases(scorer.Catalog, interactions, options), options);
    }

    /// <summary>The 0-based rank of each case's target among its candidates (in case order), by the rules of <see cref="Evaluate(IItemScorer, EvaluationCases, SrtEvaluationOptions?)"/>.</summary>
    public static long[] ComputeRanks(IItemScorer scorer, EvaluationCases cases, SrtEvaluationOptions? options = null) =>
        ComputeRanks(scorer, cases, options ?? new SrtEvaluationOptions(), maxDegreeOfParallelism: -1);

    internal static NextItemMetrics Evaluate(IItemScorer scorer, EvaluationCases cases, SrtEvaluationOptions? options, int maxDegreeOfParallelism)
    {
        options ??= new SrtEvaluationOptions();
        var ranks = ComputeRanks(scorer, cases, options, maxDegreeOfParallelism);
        var accumulator = new NextItemMetricsAccumulator(options.Ks);
        foreach (var rank in ranks) accumulator.AddRank(rank);
        return accumulator.Result();
    }

    /// <summary>Each user's last interaction as the target, the earlier ones as the history (see <see cref="Evaluate(IItemScorer, IDataView, SrtEvaluationOptions?)"/>).</summary>
    internal static EvaluationCases ReadCases(ItemCatalog catalog, IDataView interactions, SrtEvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        options.Validate();
        const string source = "evaluation data";
        if (options.TimestampColumnName is not null) DataViewColumns.Find(interactions.Schema, options.TimestampColumnName, source);
        var sequences = DataViewInteractionReader.Read(interactions, catalog, new DataViewInteractionReader.Options
        {
            UserColumn = options.UserColumnName,
            ItemColumn = options.ItemColumnName,
            TimestampColumn = options.TimestampColumnName,
            UnknownItems = options.UnknownItems,
            SourceName = source,
        });
        var cases = UserSplits.LastItemCases(sequences, options.MinimumInteractions);
        if (cases.Count == 0)
            throw new ArgumentException($"No user of the evaluation data has {options.MinimumInteractions} or more interactions " +
                                        $"(SrtEvaluationOptions.MinimumInteractions), so there is nothing to evaluate.", nameof(interactions));
        return cases;
    }

    internal static long[] ComputeRanks(IItemScorer scorer, EvaluationCases cases, SrtEvaluationOptions options, int maxDegreeOfParallelism)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckSameCatalog(scorer.Catalog, cases.Source.Catalog);
        int n = scorer.Catalog.Count;
        var ranks = new long[cases.Count];
        if (cases.Count == 0) return ranks;

        int batchSize = (int)Math.Clamp(MaxBufferedScores / n, 1, MaxBatchSize);
        // Similar history lengths together, so a sequence model pads each batch only to its own longest history.
        var order = Enumerable.Range(0, cases.Count).OrderBy(k => cases.HistoryLengths[k]).ToArray();
        var buffer = new float[Math.Min(batchSize, cases.Count) * n];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount };
        using var rankers = new ThreadLocal<CaseRanker>(() => new CaseRanker(n));
        var histories = new List<int[]>(batchSize);
        for (int start = 0; start < order.Length; start += batchSize)
        {
            int count = Math.Min(batchSize, order.Length - start);
            histories.Clear();
            for (int b = 0; b < count; b++) histories.Add(cases.GetHistory(order[start + b]).ToArray());
            scorer.ScoreBatch(histories, buffer.AsMemory(0, count * n));
            int batchStart = start;
            Parallel.For(0, count, parallel, b =>
            {
                int k = order[batchStart + b];
                ranks[k] = rankers.Value!.Rank(buffer.AsSpan(b * n, n), histories[b], cases.Targets[k], options, k);
            });
        }
        return ranks;
    }

    /// <summary>Throws unless both catalogs hold the same item ids in the same order (the same object, usually).</summary>
    internal static void CheckSameCatalog(ItemCatalog scorer, ItemCatalog cases)
    {
        if (ReferenceEquals(scorer, cases)) return;
        const string hint = "read the evaluation data against the scorer's catalog (IItemScorer.Catalog), e.g. with DataViewInteractionReader.Read(data, scorer.Catalog).";
        if (scorer.Count != cases.Count)
            throw new ArgumentException($"The cases index a catalog of {cases.Count} items but the scorer scores {scorer.Count}: {hint}");
        for (int i = 0; i < scorer.Count; i++)
            if (!string.Equals(scorer.GetId(i), cases.GetId(i), StringComparison.Ordinal))
                throw new ArgumentException($"The cases' catalog differs from the scorer's at index {i} ('{cases.GetId(i)}' vs '{scorer.GetId(i)}'): {hint}");
    }

    /// <summary>Ranks one case from its score row; one per thread (it keeps marks over the catalog between cases).</summary>
    private sealed class CaseRanker(int itemCount)
    {
        // _marks[i] == _blocked: not a candidate (the target, masked history); == _drawn: drawn by the sampler. Each case
        // takes two fresh values, so the marks never need clearing.
        private readonly int[] _marks = new int[itemCount];
        private int _blocked, _drawn;

        public long Rank(ReadOnlySpan<float> scores, int[] history, int target, SrtEvaluationOptions options, int caseIndex)
        {
            if (_drawn >= int.MaxValue - 2) { Array.Clear(_marks); _drawn = 0; }
            _blocked = _drawn + 1;
            _drawn += 2;
            float t = scores[target];
            _marks[target] = _blocked;
            int blockedCount = 1;
            long blockedAhead = 0; // masked items that would have ranked ahead
            if (options.MaskHistory)
            {
                foreach (var i in history)
                {
                    if (_marks[i] == _blocked) continue;
                    _marks[i] = _blocked;
                    blockedCount++;
                    if (Ahead(scores[i], t)) blockedAhead++;
                }
            }
            int eligible = scores.Length - blockedCount;
            // Every item but the target itself (which is never below itself), less the masked ones.
            if (options.Protocol == RankingProtocol.FullCatalog || options.SampledNegatives >= eligible)
                return CountNotBelow(scores, t) - 1 - blockedAhead;

            // Uniform sample without replacement by rejection: draw the negatives themselves when they are at most half of
            // the eligible items, else draw the eligible items left out (fewer draws; the kept set is just as uniform).
            var random = SplitMix64.ForStream((ulong)options.Seed, (ulong)caseIndex);
            int negatives = options.SampledNegatives;
            bool drawNegatives = negatives <= eligible - negatives;
            int draws = drawNegatives ? negatives : eligible - negatives;
            long drawnAhead = 0;
            for (int d = 0; d < draws;)
            {
                int j = random.NextInt(scores.Length);
                if (_marks[j] == _blocked || _marks[j] == _drawn) continue;
                _marks[j] = _drawn;
                d++;
                if (Ahead(scores[j], t)) drawnAhead++;
            }
            return drawNegatives ? drawnAhead : CountNotBelow(scores, t) - 1 - blockedAhead - drawnAhead;
        }

        // Pessimistic ties, and NaN never helps the target: "not below" is true for equal scores and for any NaN.
        private static bool Ahead(float score, float target) => !(score < target);

        /// <summary>How many scores are not below <paramref name="t"/> (see <see cref="Ahead"/>), vectorised.</summary>
        private static long CountNotBelow(ReadOnlySpan<float> scores, float t)
        {
            long below = 0;
            int i = 0;
            if (Vector.IsHardwareAccelerated && scores.Length >= Vector<float>.Count)
            {
                var threshold = new Vector<float>(t);
                var lanes = Vector<int>.Zero; // each lane adds -1 per score below t
                for (; i <= scores.Length - Vector<float>.Count; i += Vector<float>.Count)
                    lanes += Vector.LessThan(new Vector<float>(scores[i..]), threshold);
                below = -(long)Vector.Sum(lanes);
            }
            for (; i < scores.Length; i++)
                if (scores[i] < t) below++;
            return scores.Length - below;
        }
    }
}
