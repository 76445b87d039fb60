using Microsoft.ML;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Scaling;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Tests.Training;

/// <summary>Fine-tuning from a pre-trained model (Options.InitialModel / InitialModelPath) on another synthetic catalog.</summary>
public class FineTuningTests
{
    // Catalog A (seed 7) pre-trains; catalog B (seed 8, ids and users renamed so none is shared) is fine-tuned on. The
    // synthetic generator spells words from one fixed pool, so the two catalogs share their vocabulary but not their items.
    private static readonly Lazy<(LeaveOneOutSplit A, LeaveOneOutSplit B, SrtModel Pretrained)> Data = new(() =>
    {
        var a = new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = 600, UserCount = 2000, Seed = 7 }).Generate().Sequences;
        var b = Renamed(new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = 600, UserCount = 2000, Seed = 8 }).Generate().Sequences, "b-");
        var splitA = UserSplits.LeaveOneOut(a);
        var pretrained = new SrtTrainer(Small(epochs: 4)).Train(splitA.Train, splitA.Validation);
        return (splitA, UserSplits.LeaveOneOut(b), pretrained);
    });

    private static SrtTrainer.Options Small(int epochs, int seed = 1) => new()
    {
        Dimension = 64, Layers = 2, Heads = 2, MaxLength = 20, Dropout = 0.2, Negatives = 200,
        Epochs = epochs, BatchSize = 64, LearningRate = 3e-3, EarlyStoppingPatience = 0, Seed = seed, Device = "cpu",
    };

    private static InteractionSequences Renamed(InteractionSequences s, string prefix)
    {
        var builder = new ItemCatalog.Builder(s.Catalog.TextFields, s.Catalog.TokenFields, s.Catalog.Count);
        for (int i = 0; i < s.Catalog.Count; i++)
            builder.Add(prefix + s.Catalog.GetId(i),
                Enumerable.Range(0, s.Catalog.TextFields.Count).Select(f => s.Catalog.GetText(i, f)).ToArray(),
                Enumerable.Range(0, s.Catalog.TokenFields.Count).Select(f => s.Catalog.GetTokens(i, f).ToArray()).ToArray());
        var offsets = new long[s.UserCount + 1];
        var items = new List<int>();
        for (int u = 0; u < s.UserCount; u++)
        {
            items.AddRange(s.GetSequence(u).ToArray());
            offsets[u + 1] = items.Count;
        }
        return new InteractionSequences(builder.Build(), s.UserIds.Select(id => prefix + id).ToArray(), offsets, items.ToArray());
    }

    private static float MaxDifference(SrtModel x, SrtModel y)
    {
        using var _ = no_grad();
        var other = y.Network.state_dict();
        float max = 0;
        foreach (var (name, t) in x.Network.state_dict())
            max = Math.Max(max, (t - other[name]).abs().max().item<float>());
        return max;
    }

    [Fact]
    public void FineTuningStartsFromThePretrainedWeightsOnADisjointCatalog()
    {
        var (_, b, pretrained) = Data.Value;
        Assert.DoesNotContain(b.Train.Catalog.Ids, id => pretrained.Catalog.TryGetIndex(id, out _));

        // At a learning rate too small to move anything, the fine-tuned weights are the pre-trained ones.
        var still = Small(epochs: 1);
        still.InitialModel = pretrained;
        still.LearningRate = 1e-12;
        still.WeightDecay = 0;
        using (var unmoved = new SrtTrainer(still).Train(b.Train, b.Validation))
            Assert.True(MaxDifference(unmoved, pretrained) < 1e-6, $"weights moved by {MaxDifference(unmoved, pretrained)}");

        // One epoch from the pre-trained weights ranks B far better than one epoch from random ones, and it trains.
        var fine = Small(epochs: 2);
        fine.InitialModel = pretrained;
        using var tuned = new SrtTrainer(fine).Train(b.Train, b.Validation);
        using var scratch = new SrtTrainer(Small(epochs: 2)).Train(b.Train, b.Validation);
        var t = tuned.TrainingSummary!.Epochs;
        var s = scratch.TrainingSummary!.Epochs;
        Assert.True(t[0].ValidationNdcg10 > 1.2 * s[0].ValidationNdcg10, $"first validation NDCG@10: fine-tuned {t[0].ValidationNdcg10:F4}, scratch {s[0].ValidationNdcg10:F4}");
        Assert.True(MaxDifference(tuned, pretrained) > 1e-3, "fine-tuning did not change the weights");
        // The model is bound to B and the pre-trained model is left as it was.
        Assert.Equal(b.Train.Catalog.Count, tuned.Catalog.Count);
        Assert.Equal(pretrained.Catalog.Count, Data.Value.A.Train.Catalog.Count);
    }

    [Fact]
    public void InitialModelPathReadsAnSrtModelFileAndAnMlNetZip()
    {
        var (_, b, pretrained) = Data.Value;
        var dir = Directory.CreateTempSubdirectory("srt-finetune-");
        try
        {
            var srtFile = Path.Combine(dir.FullName, "pre.srt.zip");
            pretrained.Save(srtFile);
            var mlnetFile = Path.Combine(dir.FullName, "pre.mlnet.zip");
            new MLContext().Model.Save(new SrtTransformer(SrtModel.Load(srtFile, "cpu")), null, mlnetFile);
            foreach (var path in new[] { srtFile, mlnetFile })
            {
                var o = Small(epochs: 1);
                o.InitialModelPath = path;
                o.LearningRate = 1e-12;
                o.WeightDecay = 0;
                using var model = new SrtTrainer(o).Train(b.Train, b.Validation);
                Assert.True(MaxDifference(model, pretrained) < 1e-6, $"{Path.GetFileName(path)}: weights differ by {MaxDifference(model, pretrained)}");
            }

            var missing = Small(epochs: 1);
            missing.InitialModelPath = Path.Combine(dir.FullName, "nope.zip");
            var e = Assert.Throws<FileNotFoundException>(() => new SrtTrainer(missing).Train(b.Train, b.Validation));
            Assert.Contains("InitialModelPath", e.Message);
            var notModel = Path.Combine(dir.FullName, "items.tsv");
            File.WriteAllText(notModel, "item_id\ttitle\n");
            var bad = Small(epochs: 1);
            bad.InitialModelPath = notModel;
            var invalid = Assert.Throws<InvalidDataException>(() => new SrtTrainer(bad).Train(b.Train, b.Validation));
            Assert.Contains("InitialModelPath", invalid.Message);
            Assert.Contains("items.tsv", invalid.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>The largest change of each parameter between two models, by name.</summary>
    private static Dictionary<string, float> Changes(SrtModel x, SrtModel y)
    {
        using var _ = no_grad();
        var other = y.Network.state_dict();
        return x.Network.state_dict().ToDictionary(p => p.Key, p => (p.Value - other[p.Key]).abs().max().item<float>());
    }

    [Fact]
    public void ProgressiveUnfreezingTrainsTheTopLayerFirstThenTheNextThenEverything()
    {
        var (_, b, pretrained) = Data.Value;
        SrtModel FineTune(int epochs)
        {
            var o = Small(epochs);
            o.InitialModel = pretrained;
            o.FineTuning = FineTuningSchedule.Progressive;
            o.StageEpochs = 1;
            o.StageLearningRate = 1e-3;
            return new SrtTrainer(o).Train(b.Train); // no validation: the last epoch's weights are kept
        }
        static bool Moved(Dictionary<string, float> changes, string prefix) => changes.Where(c => c.Key.StartsWith(prefix, StringComparison.Ordinal)).All(c => c.Value > 0);
        static bool Still(Dictionary<string, float> changes, string prefix)
        {
            var matching = changes.Where(c => c.Key.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(matching);
            return matching.All(c => c.Value == 0); // frozen weights are never written: the pre-trained bytes, copied
        }

        using (var first = FineTune(1))
        {
            var c = Changes(first, pretrained);
            Assert.True(Moved(c, "sequences.blocks.1.") && Moved(c, "sequences.final_norm."), "stage 1: the top layer did not train");
            Assert.True(Still(c, "sequences.blocks.0.") && Still(c, "sequences.positions.") && Still(c, "items."), "stage 1: a frozen parameter moved: " + string.Join(", ", c.Where(x => x.Value > 0).Select(x => $"{x.Key} {x.Value}")));
        }
        using (var second = FineTune(2))
        {
            var c = Changes(second, pretrained);
            Assert.True(Moved(c, "sequences.blocks.0.") && Moved(c, "sequences.blocks.1."), "stage 2: the two top layers did not both train");
            Assert.True(Still(c, "sequences.positions.") && Still(c, "items."), "stage 2: the item encoder or positions moved");
        }
        using var all = FineTune(3);
        var changes = Changes(all, pretrained);
        Assert.True(Moved(changes, "sequences.positions.") && Moved(changes, "items.text_tokens."), "stage 3: the embeddings did not train");
        Assert.All(changes.Where(c => !c.Key.StartsWith("items.ids", StringComparison.Ordinal)), c => Assert.True(c.Value > 0, $"{c.Key} did not train"));
    }

    [Fact]
    public void StagesSplitTheEpochsWithAOneCyclePerStage()
    {
        var o = new SrtTrainer.Options { Epochs = 25, FineTuning = FineTuningSchedule.Progressive, StageEpochs = 10, StageLearningRate = 1e-4, LearningRate = 5e-4 };
        var stages = TrainingStages.Plan(o, layers: 2);
        Assert.Equal([(1, 10, 1e-4, (int?)1), (11, 20, 1e-4, 2), (21, 25, 5e-4, null)], stages.Select(s => (s.FirstEpoch, s.LastEpoch, s.LearningRate, s.TopLayers)));
        // Half-way through the run is half-way through stage 2's schedule only at its epoch 5.5 of 10.
        Assert.Equal(0.5, stages[1].Progress(15.0 / 25, 25), 9);
        Assert.Equal(0, stages[2].Progress(0.5, 25));
        Assert.Single(TrainingStages.Plan(new SrtTrainer.Options { Epochs = 7 }, layers: 2));
        var tooShort = TrainingStages.Plan(new SrtTrainer.Options { Epochs = 5, FineTuning = FineTuningSchedule.Progressive, StageEpochs = 10 }, layers: 2);
        Assert.Equal((1, 5, (int?)1), (tooShort.Single().FirstEpoch, tooShort.Single().LastEpoch, tooShort.Single().TopLayers));
        // Without a stage learning rate, the stages peak at the run's own.
        var unset = TrainingStages.Plan(new SrtTrainer.Options { Epochs = 25, FineTuning = FineTuningSchedule.Progressive, LearningRate = 2e-3 }, layers: 2);
        Assert.All(unset, s => Assert.Equal(2e-3, s.LearningRate));

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SrtTrainer(new SrtTrainer.Options { FineTuning = FineTuningSchedule.Progressive }));
        Assert.Contains("FineTuning", e.Message);
    }

    [Fact]
    public void EwcKeepsTheDenseWeightsCloserToThePretrainedOnes()
    {
        var (a, b, pretrained) = Data.Value;
        double Distance(double lambda)
        {
            var o = Small(epochs: 2);
            o.InitialModel = pretrained;
            o.EwcLambda = lambda;
            o.EwcData = lambda > 0 ? a.Train : null;
            o.EwcBatches = 20;
            using var model = new SrtTrainer(o).Train(b.Train);
            using var _ = no_grad();
            var before = pretrained.Network.state_dict();
            return model.Network.state_dict()
                .Where(p => !p.Key.StartsWith("items.text_tokens", StringComparison.Ordinal) && !p.Key.StartsWith("items.token_field_", StringComparison.Ordinal))
                .Sum(p => (p.Value - before[p.Key]).pow(2).sum().item<float>());
        }
        double free = Distance(0), held = Distance(1e6);
        Assert.True(held < 0.5 * free, $"squared distance from the pre-trained dense weights: {held:G4} with EWC, {free:G4} without");

        var missing = Small(epochs: 1);
        missing.InitialModel = pretrained;
        missing.EwcLambda = 100;
        Assert.Contains("EwcData", Assert.Throws<ArgumentOutOfRangeException>(() => new SrtTrainer(missing)).Message);
    }

    [Theory]
    [InlineData("Dimension")]
    [InlineData("Layers")]
    [InlineData("Heads")]
    [InlineData("MaxLength")]
    [InlineData("FeedForwardMultiplier")]
    [InlineData("ItemRepresentation")]
    [InlineData("Preset")]
    [InlineData("TokenizerVocabularySize")]
    [InlineData("Tokenizer")]
    public void AnIncompatibleInitialModelIsRefusedNamingTheOption(string option)
    {
        var (_, b, pretrained) = Data.Value;
        var o = Small(epochs: 1);
        o.InitialModel = pretrained;
        switch (option)
        {
            case "Dimension": o.Dimension = 32; break;
            case "Layers": o.Layers = 3; break;
            case "Heads": o.Heads = 4; break;
            case "MaxLength": o.MaxLength = 30; break;
            case "FeedForwardMultiplier": o.FeedForwardMultiplier = 2; break;
            case "ItemRepresentation": o.ItemRepresentation = ItemRepresentation.TextAndId; break;
            case "Preset": o.Preset = SrtPresets.Wide; o.Dimension = o.Heads = o.Layers = 0; break;
            case "TokenizerVocabularySize": o.TokenizerVocabularySize = 1000; break;
            case "Tokenizer":
                var dir = Directory.CreateTempSubdirectory("srt-finetune-tok-");
                try { o.Tokenizer = BpeTokenizerTrainer.Train(["alpha beta gamma", "beta gamma delta"], dir.FullName, new BpeTokenizerTrainer.Options { VocabularySize = 300 }); }
                finally { dir.Delete(recursive: true); }
                break;
        }
        var e = Assert.Throws<ArgumentException>(() => new SrtTrainer(o).Train(b.Train, b.Validation));
        Assert.Contains($"option {option} ", e.Message);
        Assert.Contains("InitialModel", e.Message);
    }

    /// <summary>The same users and items with only the first text field (the synthetic title).</summary>
    private static InteractionSequences TitleOnly(InteractionSequences s)
    {
        var catalog = s.Catalog;
        var builder = new ItemCatalog.Builder(catalog.TextFields.Take(1), [], catalog.Count);
        for (int i = 0; i < catalog.Count; i++) builder.Add(catalog.GetId(i), [catalog.GetText(i, 0)], []);
        var offsets = new long[s.UserCount + 1];
        var items = new List<int>();
        for (int u = 0; u < s.UserCount; u++) { items.AddRange(s.GetSequence(u).ToArray()); offsets[u + 1] = items.Count; }
        return new InteractionSequences(builder.Build(), s.UserIds.ToArray(), offsets, items.ToArray());
    }

    [Fact]
    public void ACatalogWithoutAFieldThePretrainedModelReadsIsRefused()
    {
        var (_, b, pretrained) = Data.Value;
        var o = Small(epochs: 1);
        o.InitialModel = pretrained;
        var e = Assert.Throws<ArgumentException>(() => new SrtTrainer(o).Train(TitleOnly(b.Train)));
        Assert.Contains("InitialModel", e.Message);
        Assert.Contains(b.Train.Catalog.TokenFields[0], e.Message);
    }

    // A model pre-trained on titles alone, fine-tuned on a catalog that also has a brand (text) and categories (token list).
    private static readonly Lazy<SrtModel> TitlePretrained = new(() =>
    {
        var a = Data.Value.A;
        return new SrtTrainer(Small(epochs: 3)).Train(TitleOnly(a.Train), a.Validation);
    });

    [Fact]
    public void FieldsThePretrainedModelLacksAreAddedAndStartFromItsItemVectors()
    {
        var (a, b, _) = Data.Value;
        var pretrained = TitlePretrained.Value;
        Assert.Equal(["title"], pretrained.Featurizer.Fields);
        Assert.True(b.Train.Catalog.TextFields.Count > 1 && b.Train.Catalog.TokenFields.Count > 0);

        // Before any step, the added fields change no score: their adapter columns start at zero.
        var still = Small(epochs: 1);
        still.InitialModel = pretrained;
        still.LearningRate = 1e-12;
        still.WeightDecay = 0;
        using var unmoved = new SrtTrainer(still).Train(b.Train, b.Validation);
        Assert.Equal(b.Train.Catalog.TextFields.Concat(b.Train.Catalog.TokenFields), unmoved.Featurizer.Fields);
        using var titleOnly = pretrained.WithCatalog(TitleOnly(b.Train).Catalog);
        var items = Enumerable.Range(0, b.Train.Catalog.Count).ToArray();
        float worst = 0;
        for (int u = 0; u < 20; u++)
        {
            var history = b.Train.GetSequence(u).ToArray();
            var expected = titleOnly.Score(history, items);
            var actual = unmoved.Score(history, items);
            for (int i = 0; i < items.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }
        Assert.True(worst < 1e-3, $"scores moved by {worst} before training");

        // Training then uses them: the adapter's added columns and the new table move, and the model saves and loads with them.
        var fine = Small(epochs: 2);
        fine.InitialModel = pretrained;
        fine.EwcLambda = 100;
        fine.EwcData = TitleOnly(a.Train);
        fine.EwcBatches = 5;
        using var tuned = new SrtTrainer(fine).Train(b.Train, b.Validation);
        using (no_grad())
        {
            var adapter = tuned.Network.state_dict()["items.adapter.weight"];
            long d = 64;
            Assert.True(adapter.narrow(1, d, adapter.shape[1] - d).abs().max().item<float>() > 1e-3, "the added adapter columns did not train");
        }
        var file = Path.Combine(Directory.CreateTempSubdirectory("srt-finetune-fields-").FullName, "tuned.srt");
        try
        {
            tuned.Save(file);
            using var loaded = SrtModel.Load(file);
            Assert.Equal(tuned.Featurizer.Fields, loaded.Featurizer.Fields);
            var history = b.Train.GetSequence(1).ToArray();
            var x = tuned.Score(history, items);
            var y = loaded.Score(history, items);
            Assert.True(x.Zip(y).Max(p => Math.Abs(p.First - p.Second)) < 1e-5);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }

    [Fact]
    public void FlopsOfAFineTuneCountThePretrainedNetworkNotTheSizeOptions()
    {
        var (_, b, _) = Data.Value;
        var pretrained = TitlePretrained.Value;
        // No size option: the default preset (2-2-128) is not the pre-trained model's size (d = 64), and B adds fields.
        var o = Small(epochs: 1);
        (o.Dimension, o.Layers, o.Heads) = (0, 0, 0);
        o.InitialModel = pretrained;
        var flops = SrtFlops.ForTrainingWithShape(o, b.Train, out var shape);
        Assert.Equal((2, 2, 64), (shape.Layers, shape.Heads, shape.Dimension));
        using (var network = new SrtTrainer(o).CreateNetworkFrom(pretrained, b.Train.Catalog, CPU, out _, out _))
        {
            Assert.Equal(network.ParameterCount(), flops.Parameters);
            Assert.Equal(network.NonEmbeddingParameterCount(), flops.NonEmbeddingParameters);
        }
        var sized = Small(epochs: 1);
        sized.InitialModel = pretrained;
        Assert.Equal(SrtFlops.ForTraining(sized, b.Train).FlopsPerEpoch, flops.FlopsPerEpoch);
        o.InitialModel = null;
        Assert.True(SrtFlops.ForTraining(o, b.Train).FlopsPerEpoch > 2 * flops.FlopsPerEpoch, "the default preset's count should be far larger");
    }

    [Fact]
    public void InitialModelAndInitialModelPathTogetherAreRefused()
    {
        var o = Small(epochs: 1);
        o.InitialModel = Data.Value.Pretrained;
        o.InitialModelPath = "pre.zip";
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SrtTrainer(o));
        Assert.Contains("InitialModelPath", e.Message);
    }
}
