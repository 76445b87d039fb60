using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Srt.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt benchmark step</c>: times optimizer steps of a model size on full-length synthetic batches and prints
/// JSON (median / mean / p90 milliseconds per step, sequences per second).
/// </summary>
internal sealed class BenchmarkStepCommand(CliStreams streams) : Command<BenchmarkStepCommand.Settings>
{
    /// <summary>The options of <c>srt benchmark step</c>: the model size and the batch shape.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--preset <NAME>")]
        [PresetDescription]
        [DefaultValue(SrtPresets.CpuSmall)]
        public string Preset { get; set; } = SrtPresets.CpuSmall;

        [CommandOption("--layers <N>")]
        [Description("Transformer layers (default: the preset's).")]
        public int? Layers { get; set; }

        [CommandOption("--heads <N>")]
        [Description("Attention heads (default: the preset's).")]
        public int? Heads { get; set; }

        [CommandOption("--dimension <N>")]
        [Description("Model width d (default: the preset's).")]
        public int? Dimension { get; set; }

        [CommandOption("--negatives <N>")]
        [Description("Shared sampled negatives per step, or 'all' for the full softmax.")]
        [DefaultValue("1000")]
        public string Negatives { get; set; } = "1000";

        [CommandOption("--batch-size <N>")]
        [Description("Sequences per batch.")]
        [DefaultValue(128)]
        public int BatchSize { get; set; }

        [CommandOption("--length <N>")]
        [Description("Positions per sequence (every sequence is this long).")]
        [DefaultValue(50)]
        public int Length { get; set; }

        [CommandOption("--items <N>")]
        [Description("Synthetic catalog size (titles tokenized with GPT-2).")]
        [DefaultValue(12000)]
        public int Items { get; set; }

        [CommandOption("--steps <N>")]
        [Description("Timed steps (after 5 untimed).")]
        [DefaultValue(30)]
        public int Steps { get; set; }

        [CommandOption("--device <DEVICE>")]
        [Description("Torch device: auto, cpu, cuda or cuda:N.")]
        [DefaultValue("auto")]
        public string Device { get; set; } = "auto";

        /// <inheritdoc/>
        public override ValidationResult Validate() =>
            !Negatives.Equals("all", StringComparison.OrdinalIgnoreCase) && !int.TryParse(Negatives, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                ? ValidationResult.Error($"option '--negatives' needs an integer or 'all'; got '{Negatives}'.")
                : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var options = new SrtTrainer.Options
        {
            Preset = settings.Preset,
            Layers = settings.Layers ?? 0,
            Heads = settings.Heads ?? 0,
            Dimension = settings.Dimension ?? 0,
            Negatives = settings.Negatives.Equals("all", StringComparison.OrdinalIgnoreCase) ? 0 : int.Parse(settings.Negatives, NumberStyles.Integer, CultureInfo.InvariantCulture),
            BatchSize = settings.BatchSize,
            Device = settings.Device,
        };
        var m = TrainingStepBenchmark.Run(options, settings.Length, settings.Items, settings.Steps);
        streams.Output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["layers"] = m.Layers, ["heads"] = m.Heads, ["dimension"] = m.Dimension,
            ["negatives"] = options.Negatives == 0 ? "all" : options.Negatives,
            ["batch_size"] = m.BatchSize, ["length"] = m.Length, ["steps"] = m.Steps, ["threads"] = m.Threads,
            ["parameters"] = m.Parameters,
            ["ms_per_step_median"] = Math.Round(m.MedianMilliseconds, 1), ["ms_per_step_mean"] = Math.Round(m.MeanMilliseconds, 1),
            ["ms_per_step_p90"] = Math.Round(m.P90Milliseconds, 1), ["sequences_per_second"] = Math.Round(m.SequencesPerSecond, 0),
            ["cpu_steal_percent"] = m.CpuStealPercent is { } steal ? Math.Round(steal, 1) : null, // null: not measurable (see CpuStealPercent)
        }, new JsonSerializerOptions { WriteIndented = true }));
        if (m.Profile is not null) streams.Error.WriteLine(m.Profile); // SRT_PROFILE=1: where a step's time goes
        return 0;
    }
}
