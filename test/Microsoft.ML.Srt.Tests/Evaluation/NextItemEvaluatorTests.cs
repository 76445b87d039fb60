using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;

namespace Microsoft.ML.Srt.Tests.Evaluation;

/// <summary>The evaluator's rules on a hand-computed example, and the sampled-negative protocol's statistics.</summary>
public class NextItemEvaluatorTests
{
    private static readonly ItemCatalog Catalog = ItemCatalog.FromIds(["a", "b", "c", "d", "e", "f"]);
    private const int A = 0, B = 1, C = 2, D = 3, E = 4, F = 5;

    /// <summary>Scores every item by a table keyed by the history's last item.</summary>
    private sealed class TableScorer(ItemCatalog catalog, Func<int[], float[]> table) : IItemScorer
    {
        public ItemCatalog Catalog => catalog;

        public int Calls { get; private set; }

        public void ScoreBatch(IReadOnlyList<int[]> histories, Memory<float> scores)
        {
            Calls++;
            for (int i = 0; i < histories.Count; i++) table(histories[i]).CopyTo(scores.Span.Slice(i * catalog.Count, catalog.Count));
        }
    }

    private static InteractionSequences Sequences(ItemCatalog catalog, params int[][] users)
    {
        var offsets = new long[users.Length + 1];
        for (int u = 0; u < users.Length; u++) offsets[u + 1] = offsets[u] + users[u].Length;
        return new InteractionSequences(catalog, users.Select((_, u) => "u" + u).ToArray(), offsets, users.SelectMany(s => s).ToArray());
    }

    // Case 0: history a b c, target d.  Case 1: history e, target a.  Case 2: history b f, target f (a repeat).
    private static EvaluationCases Cases() => UserSplits.LastItemCases(Sequences(Catalog, [A, B, C, D], [E, A], [B, F, F]), minimumLength: 2);

    //                                                        a     b     c     d     e     f
    private static readonly float[] AfterC = [0.9f, 0.1f, 0.5f, 0.5f, 0.7f, 0.2f];
    private static readonly float[] AfterE = [0.3f, 0.8f, 0.3f, 0.1f, 0.9f, 0.3f];
    private static readonly float[] AfterF = [0.2f, 0.9f, 0.1f, 0.0f, 0.4f, 0.8f];

    private static TableScorer Scorer() => new(Catalog, h => h[^1] switch { C => AfterC, E => AfterE, _ => AfterF });

    [Fact]
    public void FullRankingUnmaskedCountsTiesAheadOfTheTarget()
    {
        // Case 0: target d = 0.5; a 0.9, e 0.7 and c 0.5 (a tie) rank ahead => 3.
        // Case 1: target a = 0.3; e 0.9, b 0.8 and the ties c, f => 4.  Case 2: target f = 0.8; b 0.9 => 1.
        var options = new SrtEvaluationOptions { Ks = [1, 3] };
        Assert.Equal(new long[] { 3, 4, 1 }, NextItemEvaluator.ComputeRanks(Scorer(), Cases(), options));
        var m = NextItemEvaluator.Evaluate(Scorer(), Cases(), options);
        Assert.Equal(3, m.Cases);
        Assert.Equal(0, m.Hit[1]);
        Assert.Equal(0, m.Ndcg[1]);
        Assert.Equal(1.0 / 3, m.Hit[3], 12);
        Assert.Equal(1 / Math.Log2(3) / 3, m.Ndcg[3], 12);
        Assert.Equal((1.0 / 4 + 1.0 / 5 + 1.0 / 2) / 3, m.Mrr, 12);
    }

    [Fact]
    public void FullRankingMaskedLeavesOutHistoryButNeverTheTarget()
    {
        // Case 0: a, b, c masked (the tie c with them) => only e ahead => 1.  Case 1: e masked => b, c, f => 3.
        // Case 2: b masked; f is both history and target, so it stays the target => 0.
        var options = new SrtEvaluationOptions { Ks = [1, 3], MaskHistory = true };
        Assert.Equal(new long[] { 1, 3, 0 }, NextItemEvaluator.ComputeRanks(Scorer(), Cases(), options));
        var m = NextItemEvaluator.Evaluate(Scorer(), Cases(), options);
        Assert.Equal(1.0 / 3, m.Hit[1], 12);
        Assert.Equal(1.0 / 3, m.Ndcg[1], 12);
        Assert.Equal(2.0 / 3, m.Hit[3], 12); // ranks 1 and 0
        Assert.Equal((1 / Math.Log2(3) + 1) / 3, m.Ndcg[3], 12);
        Assert.Equal((1.0 / 2 + 1.0 / 4 + 1) / 3, m.Mrr, 12);
    }

    [Fact]
    public void SampledWithAtLeastEveryEligibleItemEqualsFullRanking()
    {
        // 5 negatives: every other item unmasked; masked, fewer items are eligible (2, 4 and 4), so all of them are used.
        var unmasked = new SrtEvaluationOptions { Protocol = RankingProtocol.SampledNegatives, SampledNegatives = 5 };
        Assert.Equal(new long[] { 3, 4, 1 }, NextItemEvaluator.ComputeRanks(Scorer(), Cases(), unmasked));
        var masked = new SrtEvaluationOptions { Protocol = RankingProtocol.SampledNegatives, SampledNegatives = 5, MaskHistory = true };
        Assert.Equal(new long[] { 1, 3, 0 }, NextItemEvaluator.ComputeRanks(Scorer(), Cases(), masked));
    }

    [Fact]
    public void OneSampledNegativeRanksZeroOrOneAndMaskedNegativesAvoidTheHistory()
    {
        // Masked case 0: the eligible items are e (ahead) and f (behind); with one negative the rank is 1 exactly when e
        // is drawn. Masked case 2: every eligible item (a, c, d, e) scores below the target, whatever is drawn => 0.
        var ranks = Enumerable.Range(1, 200).Select(seed => NextItemEvaluator.ComputeRanks(Scorer(), Cases(),
            new SrtEvaluationOptions { Protocol = RankingProtocol.SampledNegatives, SampledNegatives = 1, MaskHistory = true, Seed = seed })).ToList();
        Assert.All(ranks, r => Assert.InRange(r[0], 0, 1));
        Assert.All(ranks, r => Assert.Equal(0, r[2]));
        Assert.InRange(ranks.Count(r => r[0] == 1), 70, 130); // e drawn about half the time
        // Masked case 1: eligible b (ahead), c, f (ties: ahead), d (behind) => ahead with probability 3/4.
        Assert.InRange(ranks.Count(r => r[1] == 1), 125, 175);
    }

    [Fact]
    public void SampledRanksFollowTheHypergeometricMeanInBothSamplingRegimes()
    {
        // 1000 items scored by index (item 0 best): a target t has t items ahead among 999 others. Drawing N of them
        // uniformly without replacement puts N * t / 999 ahead on average. N = 50 draws the negatives, N = 900 draws
        // the 99 left out; both must be unbiased and never exceed the full rank.
        var catalog = ItemCatalog.FromIds(Enumerable.Range(0, 1000).Select(i => "i" + i));
        var scores = Enumerable.Range(0, 1000).Select(i => -(float)i).ToArray();
        var scorer = new TableScorer(catalog, _ => scores);
        var targets = Enumerable.Range(0, 2000).Select(k => (k * 7919) % 1000).ToArray();
        var sequences = Sequences(catalog, targets.Select(t => new[] { (t + 1) % 1000, t }).ToArray());
        var cases = UserSplits.LastItemCases(sequences, minimumLength: 2);
        foreach (var n in new[] { 50, 900 })
        {
            var ranks = NextItemEvaluator.ComputeRanks(scorer, cases,
                new SrtEvaluationOptions { Protocol = RankingProtocol.SampledNegatives, SampledNegatives = n, Seed = 5 });
            Assert.All(Enumerable.Range(0, ranks.Length), k => Assert.InRange(ranks[k], Math.Max(0, targets[k] - (999 - n)), Math.Min(n, targets[k])));
            double expected = targets.Average(t => n * t / 999.0);
            double actual = ranks.Average();
            double sd = Math.Sqrt(targets.Sum(t => n * (t / 999.0) * (1 - t / 999.0) * (999.0 - n) / 998.0)) / targets.Length;
            Assert.True(Math.Abs(actual - expected) < 5 * sd, $"N={n}: mean rank {actual:F3}, expected {expected:F3} ± {sd:F3}");
        }
    }

    [Fact]
    public void SamplingIsSeededPerCase()
    {
        var catalog = ItemCatalog.FromIds(Enumerable.Range(0, 300).Select(i => "i" + i));
        var scores = Enumerable.Range(0, 300).Select(i => -(float)i).ToArray();
        var scorer = new TableScorer(catalog, _ => scores);
        var cases = UserSplits.LastItemCases(Sequences(catalog, Enumerable.Range(0, 600).Select(k => new[] { k % 300, (k * 31) % 300 }).ToArray()), 2);
        SrtEvaluationOptions Sampled(int seed) => new() { Protocol = RankingProtocol.SampledNegatives, SampledNegatives = 20, Seed = seed };
        var first = NextItemEvaluator.ComputeRanks(scorer, cases, Sampled(1));
        Assert.Equal(first, NextItemEvaluator.ComputeRanks(scorer, cases, Sampled(1)));
        Assert.Equal(first, NextItemEvaluator.ComputeRanks(scorer, cases, Sampled(1), maxDegreeOfParallelism: 1));
        Assert.NotEqual(first, NextItemEvaluator.ComputeRanks(scorer, cases, Sampled(2)));
    }

    [Fact]
    public void NaNScoresNeverHelpTheTarget()
    {
        var cases = Cases();
        var nanTarget = new TableScorer(Catalog, _ => [float.NaN, 0, 0, float.NaN, 0, 0]);
        // Case 0's target d is NaN: last among the 5 others (among e and f when a, b, c are masked).
        Assert.Equal(5, NextItemEvaluator.ComputeRanks(nanTarget, cases)[0]);
        Assert.Equal(2, NextItemEvaluator.ComputeRanks(nanTarget, cases, new SrtEvaluationOptions { MaskHistory = true })[0]);
        // Case 2's target f = 0: the NaN a and d and the ties b, c, e all rank ahead of it => 5.
        Assert.Equal(5, NextItemEvaluator.ComputeRanks(nanTarget, cases)[2]);
    }

    [Fact]
    public void PopularityIsEvaluatedThroughTheSameScorerInterface()
    {
        // Counts a=3 b=2 c=1 d=1 e=0 f=0 (the hand-computed example of PopularityEvaluationTests, one more item).
        var popularity = PopularityRecommender.Fit(Sequences(Catalog, [A, B, C], [A, B], [A, D]));
        // Case 0 (target d = 1): a, b and the tie c => 3; masked: a, b, c masked => 0.  Case 1 (target a = 3): nothing ahead.
        // Case 2 (target f = 0): every other item => 5; masked (b): a, c, d, e (tie) => 4.
        Assert.Equal(new long[] { 3, 0, 5 }, NextItemEvaluator.ComputeRanks(popularity, Cases()));
        Assert.Equal(new long[] { 0, 0, 4 }, NextItemEvaluator.ComputeRanks(popularity, Cases(), new SrtEvaluationOptions { MaskHistory = true }));
    }

    [Fact]
    public void BatchesBoundTheBufferedScoresAndCatalogsMustMatch()
    {
        var scorer = Scorer();
        NextItemEvaluator.Evaluate(scorer, Cases());
        Assert.Equal(1, scorer.Calls); // three cases fit one batch

        // The same ids in another catalog object are fine; other ids are not.
        var sameIds = UserSplits.LastItemCases(Sequences(ItemCatalog.FromIds(["a", "b", "c", "d", "e", "f"]), [A, B, C, D]), 2);
        Assert.Equal(3, NextItemEvaluator.ComputeRanks(Scorer(), sameIds)[0]);
        var otherIds = UserSplits.LastItemCases(Sequences(ItemCatalog.FromIds(["a", "b", "c", "d", "e", "g"]), [A, B, C, D]), 2);
        var e = Assert.Throws<ArgumentException>(() => NextItemEvaluator.Evaluate(Scorer(), otherIds));
        Assert.Contains("index 5 ('g' vs 'f')", e.Message);
    }

    [Fact]
    public void BadOptionsNameTheOption()
    {
        Assert.Contains("Ks", Assert.Throws<ArgumentOutOfRangeException>(() => NextItemEvaluator.Evaluate(Scorer(), Cases(), new SrtEvaluationOptions { Ks = [] })).Message);
        Assert.Contains("Ks", Assert.Throws<ArgumentOutOfRangeException>(() => NextItemEvaluator.Evaluate(Scorer(), Cases(), new SrtEvaluationOptions { Ks = [0, 5] })).Message);
        Assert.Contains("SampledNegatives", Assert.Throws<ArgumentOutOfRangeException>(() => NextItemEvaluator.Evaluate(Scorer(), Cases(),
            new SrtEvaluationOptions { Protocol = RankingProtocol.SampledNegatives, SampledNegatives = 0 })).Message);
        Assert.Contains("UnknownItems", Assert.Throws<ArgumentOutOfRangeException>(() => NextItemEvaluator.Evaluate(Scorer(), Cases(),
            new SrtEvaluationOptions { UnknownItems = UnknownItemPolicy.AddPlaceholder })).Message);
    }
}
