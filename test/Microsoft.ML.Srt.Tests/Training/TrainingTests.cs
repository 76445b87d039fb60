using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Scoring;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Tests.Training;

/// <summary>Training behaviour on the project's synthetic data, with small models so the suite stays fast.</summary>
public class TrainingTests
{
    private static readonly Lazy<(SyntheticDataGenerator Generator, LeaveOneOutSplit Split)> Data = new(() =>
    {
        var generator = new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = 1000, UserCount = 3000, Seed = 7 });
        var (_, sequences) = generator.Generate();
        return (generator, UserSplits.LeaveOneOut(sequences));
    });

    private static SrtTrainer.Options Small(int epochs = 10, int seed = 1) => new()
    {
        Dimension = 64, Layers = 2, Heads = 2, MaxLength = 20, Dropout = 0.2, Negatives = 200,
        Epochs = epochs, BatchSize = 64, LearningRate = 3e-3, EarlyStoppingPatience = 0, Seed = seed, Device = "cpu",
    };

    [Fact]
    public void LossFallsAndValidationImproves()
    {
        var split = Data.Value.Split;
        using var model = new SrtTrainer(Small(epochs: 4)).Train(split.Train, split.Validation);
        var epochs = model.TrainingSummary!.Epochs;
        Assert.Equal(4, epochs.Count);
        Assert.True(epochs[^1].TrainLoss < epochs[0].TrainLoss - 0.3, $"loss {epochs[0].TrainLoss:F3} -> {epochs[^1].TrainLoss:F3}");
        Assert.True(epochs[^1].ValidationNdcg10 > epochs[0].ValidationNdcg10, "validation NDCG@10 did not improve");
    }

    [Fact]
    public void RepeatBiasIsLearnedBelowZeroWhereUsersRarelyRepeatAndScoresExactlyWhatItSays()
    {
        // The synthetic sequences with every repeat removed: the target is never in the history, so every step pushes the
        // bias down (the synthetic users do repeat now and then, and on the raw data it rises above zero instead).
        var raw = Data.Value.Generator.Generate().Sequences;
        var offsets = new List<long> { 0 };
        var items = new List<int>();
        for (int u = 0; u < raw.UserCount; u++)
        {
            items.AddRange(raw.GetSequence(u).ToArray().Distinct());
            offsets.Add(items.Count);
        }
        var split = UserSplits.LeaveOneOut(new InteractionSequences(raw.Catalog, raw.UserIds.ToArray(), offsets.ToArray(), items.ToArray()));
        using var model = new SrtTrainer(Small(epochs: 2)).Train(split.Train, split.Validation);
        Assert.True(model.RepeatBias < 0, $"repeat bias {model.RepeatBias}");

        // Scores: exactly the bias on the history's own items, nothing elsewhere (checked against the same network with it zeroed).
        // A history the model reads whole (2 to MaxLength items) whose last two items differ.
        int[] history = Enumerable.Range(0, split.Test.Count).Select(k => split.Test.GetHistory(k).ToArray())
            .First(h => h.Length >= 2 && h.Length <= model.MaxLength && h[^1] != h[^2]);
        int other = Enumerable.Range(0, model.Catalog.Count).First(i => !history.Contains(i));
        int[] scored = [history[^1], history[^2], other];
        var withBias = model.Score(history, scored);
        using (TorchSharp.torch.no_grad()) model.Network.RepeatBias.zero_();
        using var zeroed = model.WithCatalog(model.Catalog);
        Assert.Equal(0f, zeroed.RepeatBias);
        var without = zeroed.Score(history, scored);
        // The bias is added in float32, so s + b matches within the score tolerance; an item outside the history is
        // the same computation on the same bytes, so bit for bit.
        Assert.True(ScoreAgreement.Close(without[0] + model.RepeatBias, withBias[0]), $"{without[0] + model.RepeatBias} vs {withBias[0]}");
        Assert.True(ScoreAgreement.Close(without[1] + model.RepeatBias, withBias[1]), $"{without[1] + model.RepeatBias} vs {withBias[1]}");
        Assert.Equal(without[2], withBias[2]);

        var off = Small(epochs: 1);
        off.LearnRepeatBias = false;
        using var untouched = new SrtTrainer(off).Train(split.Train, split.Validation);
        Assert.Equal(0f, untouched.RepeatBias);
    }

    [Fact]
    public void TokenRowsNoItemUsesAreZeroAfterTrainingAndCatalogScoresDoNotChange()
    {
        var split = Data.Value.Split;
        using var model = new SrtTrainer(Small(epochs: 1)).Train(split.Train, split.Validation);
        var tokens = model.Featurizer.Featurize(model.Catalog).Where(m => m.IsText).SelectMany(m => m.Tokens).ToHashSet();
        var table = model.Network.Items.Tables.First();
        using (TorchSharp.torch.no_grad())
        {
            var nonzero = table.Weight.abs().sum(1).gt(0).nonzero().squeeze(1).data<long>().ToArray();
            Assert.NotEmpty(nonzero);
            Assert.All(nonzero, row => Assert.Contains(row, tokens)); // every row left non-zero belongs to some item
            Assert.True(nonzero.Length < table.Weight.shape[0] / 2, $"{nonzero.Length} of {table.Weight.shape[0]} rows non-zero");
        }
        // Give one unused row a value again: zeroing takes exactly that row back and no catalog item's score moves.
        long unusedRow = Enumerable.Range(1, (int)table.Weight.shape[0] - 1).First(r => !tokens.Contains(r));
        using (TorchSharp.torch.no_grad()) table.Weight[unusedRow].fill_(1);
        int[] history = split.Test.GetHistory(0).ToArray();
        var all = Enumerable.Range(0, model.Catalog.Count).ToArray();
        using var withRow = model.WithCatalog(model.Catalog);
        var before = withRow.Score(history, all);
        Assert.Equal(1, model.Network.Items.ZeroRowsNoItemUses());
        using var without = model.WithCatalog(model.Catalog);
        Assert.Equal(before, without.Score(history, all));
    }

    [Fact]
    public void BeatsPopularityIncludingOnItemsUnseenInTraining()
    {
        var (generator, split) = Data.Value;
        using var model = new SrtTrainer(Small()).Train(split.Train, split.Validation);
        var popularity = PopularityRecommender.Fit(split.Train);

        var srt = model.Evaluate(split.Test, new SrtEvaluationOptions { Ks = [10] });
        var pop = CatalogRankingEvaluator.Evaluate(split.Test, popularity.Score, maskHistory: false, ks: new[] { 10 });
        Assert.True(srt.Ndcg[10] > 1.3 * pop.Ndcg[10], $"SRT NDCG@10 {srt.Ndcg[10]:F4} vs popularity {pop.Ndcg[10]:F4}");

        // Targets the model never saw in training (the generator reserves them for last positions).
        var trainCounts = split.Train.ItemCounts();
        var unseen = Enumerable.Range(0, split.Test.Count).Where(k => trainCounts[split.Test.Targets[k]] == 0).ToArray();
        Assert.True(unseen.Length >= 20, $"only {unseen.Length} unseen targets");
        Assert.All(unseen, k => Assert.True(generator.IsReservedForTest(split.Test.Targets[k])));
        var unseenCases = new EvaluationCases(split.Test.Source, unseen.Select(k => split.Test.Users[k]).ToArray(),
            unseen.Select(k => split.Test.HistoryLengths[k]).ToArray(), unseen.Select(k => split.Test.Targets[k]).ToArray());
        var srtUnseen = model.Evaluate(unseenCases, new SrtEvaluationOptions { Ks = [10] });
        var popUnseen = CatalogRankingEvaluator.Evaluate(unseenCases, popularity.Score, maskHistory: false, ks: new[] { 10 });
        Assert.Equal(0, popUnseen.Ndcg[10]);
        Assert.True(srtUnseen.Ndcg[10] > 0.02, $"SRT NDCG@10 on unseen items {srtUnseen.Ndcg[10]:F4}");
    }

    [Fact]
    public void TheSameSeedRepeatsARunExactly()
    {
        var split = Data.Value.Split;
        double[] Run(int seed)
        {
            using var model = new SrtTrainer(Small(epochs: 2, seed: seed)).Train(split.Train, split.Validation);
            var history = split.Test.GetHistory(0);
            return model.TrainingSummary!.Epochs.Select(e => e.TrainLoss)
                .Concat(model.Recommend(history, 5).Select(r => (double)r.Score)).ToArray();
        }
        var a = Run(1);
        Assert.Equal(a, Run(1));
        Assert.NotEqual(a, Run(2));
    }

    [Fact]
    public void EarlyStoppingRestoresTheBestEpoch()
    {
        var split = Data.Value.Split;
        var options = Small(epochs: 8);
        options.EarlyStoppingPatience = 1;
        options.LearningRate = 0.05; // too high on purpose: validation gets worse quickly
        using var model = new SrtTrainer(options).Train(split.Train, split.Validation);
        var s = model.TrainingSummary!;
        var best = s.Epochs.Where(e => !double.IsNaN(e.ValidationNdcg10)).MaxBy(e => e.ValidationNdcg10)!;
        Assert.Equal(best.Epoch, s.BestEpoch);
        // The kept weights are the best epoch's: re-validating gives its NDCG@10. Training validates in other batches, so a
        // score may differ in its last bits, never enough to move a rank: the same ranks give the same NDCG up to summation order.
        Assert.Equal(best.ValidationNdcg10, model.Evaluate(split.Validation, new SrtEvaluationOptions { Ks = [10] }).Ndcg[10], 1e-9);
    }

    [Theory]
    [InlineData(1.0 / 6, 0.5)]   // half-way through the warm-up third
    [InlineData(1.0 / 3, 1.0)]   // peak
    [InlineData(2.0 / 3, 0.5)]   // cosine half-way
    [InlineData(1.0, 0.0)]       // end
    public void OneCycleWarmsUpLinearlyThenDecaysByCosine(double progress, double expectedFraction)
    {
        Assert.Equal(expectedFraction, SrtTrainingSession.OneCycle(1.0, 1.0 / 3, progress), 1e-12);
    }
}
