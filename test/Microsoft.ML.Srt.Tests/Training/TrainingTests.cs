using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
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
    public void BeatsPopularityIncludingOnItemsUnseenInTraining()
    {
        var (generator, split) = Data.Value;
        using var model = new SrtTrainer(Small()).Train(split.Train, split.Validation);
        var popularity = PopularityRecommender.Fit(split.Train);

        var srt = model.Evaluate(split.Test, new[] { 10 });
        var pop = CatalogRankingEvaluator.Evaluate(split.Test, popularity.Score, maskHistory: false, ks: new[] { 10 });
        Assert.True(srt.Ndcg[10] > 1.3 * pop.Ndcg[10], $"SRT NDCG@10 {srt.Ndcg[10]:F4} vs popularity {pop.Ndcg[10]:F4}");

        // Targets the model never saw in training (the generator reserves them for last positions).
        var trainCounts = split.Train.ItemCounts();
        var unseen = Enumerable.Range(0, split.Test.Count).Where(k => trainCounts[split.Test.Targets[k]] == 0).ToArray();
        Assert.True(unseen.Length >= 20, $"only {unseen.Length} unseen targets");
        Assert.All(unseen, k => Assert.True(generator.IsReservedForTest(split.Test.Targets[k])));
        var unseenCases = new EvaluationCases(split.Test.Source, unseen.Select(k => split.Test.Users[k]).ToArray(),
            unseen.Select(k => split.Test.HistoryLengths[k]).ToArray(), unseen.Select(k => split.Test.Targets[k]).ToArray());
        var srtUnseen = model.Evaluate(unseenCases, new[] { 10 });
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
        // The kept weights are the best epoch's: re-validating gives its NDCG@10.
        Assert.Equal(best.ValidationNdcg10, model.Evaluate(split.Validation, new[] { 10 }).Ndcg[10], 6);
    }

    [Theory]
    [InlineData(1.0 / 6, 0.5)]   // half-way through the warm-up third
    [InlineData(1.0 / 3, 1.0)]   // peak
    [InlineData(2.0 / 3, 0.5)]   // cosine half-way
    [InlineData(1.0, 0.0)]       // end
    public void OneCycleWarmsUpLinearlyThenDecaysByCosine(double progress, double expectedFraction)
    {
        Assert.Equal(expectedFraction, SrtTrainingSession.OneCycle(1.0, 1.0 / 3, progress), 6);
    }
}
