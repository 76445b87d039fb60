using System.Text.Json;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt benchmark step</c>: times optimizer steps of a model size on full-length synthetic batches and prints
/// JSON (median / mean / p90 milliseconds per step, sequences per second).
/// </summary>
internal sealed class BenchmarkStepCommand : ICliCommand
{
    public string Name => "benchmark step";

    public string Description => "Time training steps (forward, backward, clipping, AdamW) on full-length synthetic batches; print JSON.";

    public IReadOnlyList<CliOption> Options { get; } =
    [
        new("preset", $"Model size: {string.Join(", ", SrtPresets.All.Keys)}.", "NAME", Default: SrtPresets.CpuSmall),
        new("layers", "Transformer layers (default: the preset's).", "N"),
        new("heads", "Attention heads (default: the preset's).", "N"),
        new("dimension", "Model width d (default: the preset's).", "N"),
        new("negatives", "Shared sampled negatives per step, or 'all' for the full softmax.", "N|all", Default: "1000"),
        new("batch-size", "Sequences per batch.", "N", Default: "128"),
        new("length", "Positions per sequence (every sequence is this long).", "N", Default: "50"),
        new("items", "Synthetic catalog size (titles tokenized with GPT-2).", "N", Default: "12000"),
        new("steps", "Timed steps (after 5 untimed).", "N", Default: "30"),
        new("device", "Torch device: auto, cpu, cuda or cuda:N.", "DEVICE", Default: "auto"),
    ];

    public int Execute(CliArguments arguments, TextWriter output)
    {
        var negatives = arguments.GetRequired("negatives");
        var options = new SrtTrainer.Options
        {
            Preset = arguments.GetRequired("preset"),
            Layers = arguments.GetInt("layers", 0),
            Heads = arguments.GetInt("heads", 0),
            Dimension = arguments.GetInt("dimension", 0),
            Negatives = negatives.Equals("all", StringComparison.OrdinalIgnoreCase) ? 0 : arguments.GetInt("negatives", 1000),
            BatchSize = arguments.GetInt("batch-size", 128),
            Device = arguments.GetRequired("device"),
        };
        var m = TrainingStepBenchmark.Run(options, arguments.GetInt("length", 50), arguments.GetInt("items", 12000), arguments.GetInt("steps", 30));
        output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["layers"] = m.Layers, ["heads"] = m.Heads, ["dimension"] = m.Dimension,
            ["negatives"] = options.Negatives == 0 ? "all" : options.Negatives,
            ["batch_size"] = m.BatchSize, ["length"] = m.Length, ["steps"] = m.Steps, ["threads"] = m.Threads,
            ["parameters"] = m.Parameters,
            ["ms_per_step_median"] = Math.Round(m.MedianMilliseconds, 1), ["ms_per_step_mean"] = Math.Round(m.MeanMilliseconds, 1),
            ["ms_per_step_p90"] = Math.Round(m.P90Milliseconds, 1), ["sequences_per_second"] = Math.Round(m.SequencesPerSecond, 0),
            ["cpu_steal_percent"] = m.CpuStealPercent is { } steal ? Math.Round(steal, 1) : null, // null: not measurable (see CpuStealPercent)
        }, new JsonSerializerOptions { WriteIndented = true }));
        if (m.Profile is not null) Console.Error.WriteLine(m.Profile); // SRT_PROFILE=1: where a step's time goes
        return 0;
    }
}
