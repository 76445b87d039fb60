using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Tests.Training;

/// <summary>SRT_PROFILE's staged backward (loss, sequence encoder, item encoder timed apart) must train exactly as a plain step does.</summary>
public class StepProfileTests
{
    [Fact]
    public void ProfiledStepsTrainLikePlainStepsAndTimeEachBackwardStage()
    {
        var (_, sequences) = new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = 150, UserCount = 120, Seed = 4 }).Generate();
        var options = new SrtTrainer.Options
        {
            Dimension = 16, Layers = 1, Heads = 2, MaxLength = 12, Negatives = 25, BatchSize = 24, Seed = 9, Device = "cpu",
        };

        static Dictionary<string, float[]> Weights(nn.Module network) =>
            network.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().cpu().flatten().data<float>().ToArray());
        Dictionary<string, float[]>? initial = null;

        (double[] Losses, Dictionary<string, float[]> Weights, string? Profile) Run(bool profiled)
        {
            random.manual_seed(options.Seed!.Value);
            var trainer = new SrtTrainer(options);
            using var network = trainer.CreateNetwork(sequences.Catalog, CPU, out _);
            var session = new SrtTrainingSession(network, sequences, options, CPU, _ => { }) { Profile = profiled ? new StepProfiler() : null };
            network.RepeatBias.requires_grad_(true);
            using var optimizer = new FlatAdamW(network.parameters().Where(p => p.requires_grad), options.WeightDecay);
            using var lazy = new LazyAdamW(network.Items.Tables, options.WeightDecay);
            initial ??= Weights(network);
            network.train();
            var batchRandom = new Random(1);
            var losses = new double[4];
            for (int s = 0; s < losses.Length; s++)
                losses[s] = session.Step(optimizer, lazy, 1e-2, Enumerable.Range(0, options.BatchSize).Select(_ => batchRandom.Next(session.TrainingSequences)).ToArray());
            return (losses, Weights(network), session.Profile?.ToString());
        }

        var plain = Run(false);
        var profiled = Run(true);
        // Staged backward sums the same gradients in another order, so the runs drift apart by rounding alone: losses and
        // weights agree within 1e-5 (relative for losses, absolute for weights), not bit for bit.
        for (int s = 0; s < plain.Losses.Length; s++)
            Assert.True(Math.Abs(plain.Losses[s] - profiled.Losses[s]) <= 1e-5 * Math.Abs(plain.Losses[s]), $"loss {s}: {plain.Losses[s]} vs {profiled.Losses[s]}");
        Assert.Equal(plain.Weights.Keys, profiled.Weights.Keys);
        foreach (var (name, values) in plain.Weights)
            for (int k = 0; k < values.Length; k++)
            {
                // The key bias has no gradient in exact arithmetic (a constant added to every key's score leaves the softmax
                // unchanged), so Adam moves it by rounding noise alone, which any change in summation order changes.
                if (name.EndsWith("_qkv.bias") && k >= options.Dimension && k < 2 * options.Dimension) continue;
                Assert.True(Math.Abs(values[k] - profiled.Weights[name][k]) <= 1e-5f, $"{name}[{k}]: {values[k]} vs {profiled.Weights[name][k]}");
            }
        // Every part was trained (token table, item adapter, transformer, repeat bias), so equal weights mean equal gradients.
        foreach (var prefix in new[] { "items.text_tokens.", "items.adapter.", "sequences.", "repeat_bias" })
            Assert.Contains(plain.Weights, p => p.Key.StartsWith(prefix) && !p.Value.SequenceEqual(initial![p.Key]));
        Assert.Contains("backward loss", profiled.Profile);
        Assert.Contains("backward sequences", profiled.Profile);
        Assert.Contains("backward items", profiled.Profile);
    }
}
