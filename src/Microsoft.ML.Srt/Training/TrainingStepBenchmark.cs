using System.Diagnostics;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>What <see cref="TrainingStepBenchmark.Run"/> measured.</summary>
internal sealed record TrainingStepMeasurement(
    double MedianMilliseconds, double MeanMilliseconds, double P90Milliseconds, double SequencesPerSecond,
    int Steps, int BatchSize, int Length, long Parameters, int Threads, int Layers, int Heads, int Dimension)
{
    /// <summary>Per-phase milliseconds per step (prepare, items, sequences, loss, backward, clip, optimizer; warm-up steps included) when SRT_PROFILE=1; else null.</summary>
    public string? Profile { get; init; }

    /// <summary>
    /// Share of the machine's CPU time that the hypervisor gave to other guests ("steal" in /proc/stat) while the timed
    /// steps ran, in percent. Null where it cannot be measured: /proc/stat is not available (not Linux), or the timed
    /// steps ended before the machine's CPU time advanced by one /proc/stat clock tick (10 ms on common kernels), as few
    /// fast steps can. On a shared virtual machine this explains step times that vary from one run to the next with no
    /// change to the code.
    /// </summary>
    public double? CpuStealPercent { get; init; }
}

/// <summary>
/// Times optimizer steps (forward, backward, clipping, AdamW) of a given model size on full-length batches of
/// synthetic items with real GPT-2-tokenized titles — the cost of one step independent of any data set.
/// </summary>
internal static class TrainingStepBenchmark
{
    /// <summary>
    /// Runs <paramref name="warmup"/> untimed then <paramref name="steps"/> timed steps, each on
    /// <c>options.BatchSize</c> sequences of exactly <paramref name="length"/> positions over a catalog of
    /// <paramref name="items"/> synthetic items.
    /// </summary>
    public static TrainingStepMeasurement Run(SrtTrainer.Options options, int length = 50, int items = 12_000, int steps = 30, int warmup = 5)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (length < 1 || length > options.MaxLength) throw new ArgumentOutOfRangeException(nameof(length), $"length must be in 1..MaxLength ({options.MaxLength}).");
        var generator = new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = items, UserCount = 1, Seed = 1 });
        var catalog = generator.CreateCatalog();
        int seed = options.Seed ?? SrtTrainer.Options.DefaultSeed;
        var random = new Random(seed);
        int users = options.BatchSize * 4;
        var sequenceItems = new int[users * (length + 1)];
        for (int k = 0; k < sequenceItems.Length; k++) sequenceItems[k] = random.Next(catalog.Count);
        var offsets = Enumerable.Range(0, users + 1).Select(u => (long)u * (length + 1)).ToArray();
        var train = new InteractionSequences(catalog, Enumerable.Range(0, users).Select(u => "u" + u).ToArray(), offsets, sequenceItems);

        var trainer = new SrtTrainer(options);
        var device = SrtTrainer.ResolveDevice(options.Device);
        using var network = trainer.CreateNetwork(catalog, device, out _);
        var session = new SrtTrainingSession(network, train, options, device, _ => { }, seed);
        using var optimizer = new FlatAdamW(network.parameters().Where(p => p.requires_grad), options.WeightDecay);
        using var lazy = new LazyAdamW(network.Items.Tables, options.WeightDecay);
        network.train();
        var times = new List<double>();
        CpuTimes? before = null;
        for (int s = 0; s < warmup + steps; s++)
        {
            var batch = Enumerable.Range(0, options.BatchSize).Select(_ => random.Next(users)).ToArray();
            if (s == warmup) before = CpuTimes.Read();
            var watch = Stopwatch.StartNew();
            session.Step(optimizer, lazy, options.LearningRate, batch);
            if (s >= warmup) times.Add(watch.Elapsed.TotalMilliseconds);
        }
        var after = CpuTimes.Read();
        times.Sort();
        double mean = times.Average();
        return new TrainingStepMeasurement(times[times.Count / 2], mean, times[(int)(times.Count * 0.9)],
            options.BatchSize * 1000.0 / mean, steps, options.BatchSize, length, network.ParameterCount(), get_num_threads(),
            network.Shape.Layers, network.Shape.Heads, network.Shape.Dimension)
        {
            Profile = session.Profile?.ToString(),
            CpuStealPercent = before is { } b && after is { } a && a.Total > b.Total ? 100.0 * (a.Steal - b.Steal) / (a.Total - b.Total) : null,
        };
    }

    /// <summary>The machine's cumulative CPU time and its steal part, in clock ticks, from the first line of /proc/stat.</summary>
    private readonly record struct CpuTimes(long Total, long Steal)
    {
        public static CpuTimes? Read()
        {
            try
            {
                // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is already in user.
                var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields[0] != "cpu" || fields.Length < 9) return null;
                var ticks = fields.Skip(1).Take(8).Select(long.Parse).ToArray();
                return new CpuTimes(ticks.Sum(), ticks[7]);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
            {
                return null;
            }
        }
    }
}
