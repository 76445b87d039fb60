using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Scaling;
using Microsoft.ML.Srt.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt scaling run</c>: the scaling study's grid, model sizes × data sizes × negatives, trained in this process one run
/// after another, each appending to a runs table (docs/scaling.md, "Running the grid"). A data size is a seeded random
/// sample of users holding about that many interactions (the paper's protocol; the samples are nested: a smaller one is a
/// prefix of the same shuffled user order). Each run has an epoch budget (or a time budget). Resumable: a run whose final
/// row (with test metrics) is in the table is skipped; the rows of a run that was cut off are removed before it runs again.
/// </summary>
internal sealed class ScalingRunCommand(CliStreams streams) : Command<ScalingRunCommand.Settings>
{
    /// <summary>The default grid: 4 model sizes × 4 data sizes on one data set, sized for a 2-core CPU (docs/scaling.md).</summary>
    internal const string DefaultSizes = "2-1-32,2-2-64,2-2-128,2-4-256", DefaultDataSizes = "25000,50000,100000,all";

    /// <summary>The options of <c>srt scaling run</c>: the data, the grid, the budgets and the runs table.</summary>
    public sealed class Settings : DataSettings
    {
        [CommandOption("--runs <RUNS.csv>")]
        [Description("The runs table to append to (and to read finished runs from when resuming).")]
        [DefaultValue("scaling/runs.csv")]
        public string Runs { get; set; } = "scaling/runs.csv";

        [CommandOption("--dataset-name <NAME>")]
        [Description("The dataset column of the runs table and the run ids' prefix (default: the interaction file's folder name).")]
        public string? DatasetName { get; set; }

        [CommandOption("--sizes <SIZES>")]
        [Description("Model sizes, comma-separated: preset names or layers-heads-d (2-2-64).")]
        [DefaultValue(DefaultSizes)]
        public string Sizes { get; set; } = DefaultSizes;

        [CommandOption("--data-sizes <T,...>")]
        [Description("Data sizes, comma-separated: target interaction counts of the user samples, or 'all'.")]
        [DefaultValue(DefaultDataSizes)]
        public string DataSizes { get; set; } = DefaultDataSizes;

        [CommandOption("--negatives <N,...>")]
        [Description("Sampled negatives per step, comma-separated ('all': the full softmax).")]
        [DefaultValue("1000")]
        public string Negatives { get; set; } = "1000";

        [CommandOption("--epochs <N>")]
        [Description("Epoch budget of every run (every epoch validated; no early stopping): metrics that do not depend on the machine's load.")]
        [DefaultValue(4)]
        public int Epochs { get; set; } = 4;

        [CommandOption("--minutes <M>")]
        [Description("Time budget of every run in minutes, on top of the epochs; 0: none.")]
        [DefaultValue(0.0)]
        public double Minutes { get; set; }

        [CommandOption("--batch-size <N>")]
        [Description("Sequences per batch.")]
        [DefaultValue(128)]
        public int BatchSize { get; set; } = 128;

        [CommandOption("--seed <S>")]
        [Description("Seed of the user samples and of training.")]
        [DefaultValue(1)]
        public int Seed { get; set; } = 1;

        [CommandOption("--device <DEVICE>")]
        [Description("Torch device: auto, cpu, cuda or cuda:N.")]
        [DefaultValue("auto")]
        public string Device { get; set; } = "auto";

        [CommandOption("--max-runs <N>")]
        [Description("Train at most this many runs in this invocation (the rest wait for the next one); 0: all.")]
        [DefaultValue(0)]
        public int MaxRuns { get; set; }

        [CommandOption("--dry-run")]
        [Description("Print the grid (each run's id, size, data size and whether it is done) without training.")]
        public bool DryRun { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate()
        {
            var data = base.Validate();
            if (!data.Successful) return data;
            try
            {
                _ = ParseSizes(Sizes);
                _ = ParseDataSizes(DataSizes);
                _ = ParseNegatives(Negatives);
            }
            catch (CliUsageException e)
            {
                return ValidationResult.Error(e.Message);
            }
            if (Epochs < 1) return ValidationResult.Error($"option '--epochs' must be at least 1; got {Epochs}.");
            if (Minutes < 0) return ValidationResult.Error($"option '--minutes' must be 0 or more; got {Minutes.ToString(CultureInfo.InvariantCulture)}.");
            if (BatchSize < 1) return ValidationResult.Error($"option '--batch-size' must be at least 1; got {BatchSize}.");
            if (MaxRuns < 0) return ValidationResult.Error($"option '--max-runs' must be 0 or more; got {MaxRuns}.");
            return ValidationResult.Success();
        }
    }

    /// <summary>One cell of the grid.</summary>
    internal sealed record GridRun(string Id, int Layers, int Heads, int Dimension, string Preset, long? TargetInteractions, int Negatives);

    /// <summary>Parses <c>--sizes</c>: preset names or layers-heads-d triples.</summary>
    internal static IReadOnlyList<(int Layers, int Heads, int Dimension, string Preset)> ParseSizes(string text)
    {
        var sizes = new List<(int, int, int, string)>();
        foreach (var s in Split(text))
        {
            if (SrtPresets.All.TryGetValue(s, out var p)) { sizes.Add((p.Layers, p.Heads, p.Dimension, SrtPresets.All.Keys.First(k => k.Equals(s, StringComparison.OrdinalIgnoreCase)))); continue; }
            var parts = s.Split('-');
            if (parts.Length != 3 || !parts.All(x => int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0))
                throw new CliUsageException($"option '--sizes': '{s}' is neither a preset ({string.Join(", ", SrtPresets.All.Keys)}) nor layers-heads-d.");
            int l = int.Parse(parts[0], CultureInfo.InvariantCulture), h = int.Parse(parts[1], CultureInfo.InvariantCulture), d = int.Parse(parts[2], CultureInfo.InvariantCulture);
            if (d % h != 0) throw new CliUsageException($"option '--sizes': in '{s}' the width {d} is not a multiple of the {h} heads.");
            sizes.Add((l, h, d, ""));
        }
        if (sizes.Count == 0) throw new CliUsageException("option '--sizes' needs at least one size.");
        return sizes;
    }

    /// <summary>Parses <c>--data-sizes</c>: positive interaction counts or 'all' (null).</summary>
    internal static IReadOnlyList<long?> ParseDataSizes(string text)
    {
        var sizes = Split(text).Select(s => s.Equals("all", StringComparison.OrdinalIgnoreCase) ? (long?)null
            : long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v > 0 ? v
            : throw new CliUsageException($"option '--data-sizes': '{s}' is neither a positive interaction count nor 'all'.")).ToList();
        if (sizes.Count == 0) throw new CliUsageException("option '--data-sizes' needs at least one size.");
        return sizes;
    }

    /// <summary>Parses <c>--negatives</c>: non-negative counts or 'all' (0).</summary>
    internal static IReadOnlyList<int> ParseNegatives(string text)
    {
        var negatives = Split(text).Select(s => s.Equals("all", StringComparison.OrdinalIgnoreCase) ? 0
            : int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v
            : throw new CliUsageException($"option '--negatives': '{s}' is neither a positive count nor 'all'.")).ToList();
        if (negatives.Count == 0) throw new CliUsageException("option '--negatives' needs at least one value.");
        return negatives;
    }

    private static string[] Split(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// The grid in the order it runs: data sizes (smallest first), then model sizes, then negatives, so an interrupted grid
    /// has its cheap cells. A run's id names everything that makes it (so a changed budget or seed is a new run).
    /// </summary>
    internal static IReadOnlyList<GridRun> Grid(Settings s, string dataset)
    {
        var runs = new List<GridRun>();
        foreach (var t in ParseDataSizes(s.DataSizes).OrderBy(t => t ?? long.MaxValue))
            foreach (var (l, h, d, preset) in ParseSizes(s.Sizes).OrderBy(z => z.Dimension).ThenBy(z => z.Layers).ThenBy(z => z.Heads))
                foreach (var x in ParseNegatives(s.Negatives))
                {
                    var budget = s.Minutes > 0 ? string.Create(CultureInfo.InvariantCulture, $"-e{s.Epochs}m{s.Minutes}") : $"-e{s.Epochs}";
                    var id = string.Create(CultureInfo.InvariantCulture,
                        $"{dataset}-t{(t is { } v ? v.ToString(CultureInfo.InvariantCulture) : "all")}-{l}-{h}-{d}-x{(x == 0 ? "all" : x.ToString(CultureInfo.InvariantCulture))}{budget}-b{s.BatchSize}-s{s.Seed}");
                    if (!runs.Any(r => r.Id == id)) runs.Add(new GridRun(id, l, h, d, preset, t, x));
                }
        return runs;
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var progress = streams.Error;
        var loadOptions = settings.ToLoaderOptions();
        var dataset = settings.DatasetName ?? TrainCommand.DefaultDatasetName(loadOptions.InteractionsPath);
        var grid = Grid(settings, dataset);
        var finished = FinishedRuns(settings.Runs);
        var results = new List<Dictionary<string, object?>>();
        progress.WriteLine($"Grid: {grid.Count} runs, {grid.Count(r => finished.Contains(r.Id))} already in {Path.GetFullPath(settings.Runs)}.");
        if (settings.DryRun)
        {
            foreach (var run in grid) results.Add(Describe(run, finished.Contains(run.Id) ? "done" : "pending"));
            Write(results, settings, dataset);
            return 0;
        }

        var data = DataSettings.Load(loadOptions);
        foreach (var note in data.Report.Notes) progress.WriteLine(note);
        progress.WriteLine($"{dataset}: {data.UserCount} users, {data.Catalog.Count} items, {data.InteractionCount} interactions.");
        int trained = 0;
        foreach (var run in grid)
        {
            if (finished.Contains(run.Id)) { results.Add(Describe(run, "done")); continue; }
            if (cancellationToken.IsCancellationRequested || (settings.MaxRuns > 0 && trained >= settings.MaxRuns))
            {
                results.Add(Describe(run, "pending"));
                continue;
            }
            if (run.TargetInteractions is { } target && target > data.InteractionCount)
                progress.WriteLine($"{run.Id}: the data hold only {data.InteractionCount} interactions; the sample is all of them.");
            RemoveRun(settings.Runs, run.Id); // rows of an earlier attempt that was cut off
            var sample = run.TargetInteractions is { } t && t < data.InteractionCount ? UserSplits.SampleUsers(data, t, settings.Seed) : data;
            var split = UserSplits.LeaveOneOut(sample);
            if (split.Test.Count == 0)
                throw new InvalidOperationException($"{run.Id}: no sampled user has 3 or more interactions, so there is nothing to validate or test; use a larger data size.");
            var options = new SrtTrainer.Options
            {
                Preset = run.Preset.Length > 0 ? run.Preset : SrtPresets.Default,
                Layers = run.Preset.Length > 0 ? 0 : run.Layers, Heads = run.Preset.Length > 0 ? 0 : run.Heads, Dimension = run.Preset.Length > 0 ? 0 : run.Dimension,
                Negatives = run.Negatives, Epochs = settings.Epochs, MaxMinutes = settings.Minutes, EarlyStoppingPatience = 0,
                BatchSize = settings.BatchSize, Seed = settings.Seed, Device = settings.Device,
            };
            var recorder = new SrtRunsRecorder(settings.Runs, run.Id, dataset, options, split.Train);
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{run.Id}: {sample.UserCount} users, T = {split.Train.InteractionCount} training interactions, N = {recorder.Flops.Parameters} parameters, " +
                $"{recorder.Flops.FlopsPerEpoch:E2} FLOPs per epoch"));
            var clock = Stopwatch.StartNew();
            var trainer = new SrtTrainer(options, line => { if (!line.StartsWith("epoch ", StringComparison.Ordinal)) progress.WriteLine("  " + line); });
            using (var model = EpochProgress.Run(options, () => trainer.Train(split.Train, split.Validation), progress, interactive: false, also: recorder))
            {
                var metrics = model.Evaluate(split.Test, [5, 10], maskHistory: false);
                recorder.RecordTest(metrics);
                trained++;
                var result = Describe(run, "trained");
                result["users"] = sample.UserCount;
                result["interactions"] = split.Train.InteractionCount;
                result["parameters"] = recorder.Flops.Parameters;
                result["test_ndcg@5"] = Math.Round(metrics.Ndcg[5], 6);
                result["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
                results.Add(result);
                progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{run.Id}: test NDCG@5 {metrics.Ndcg[5]:F4} after {clock.Elapsed.TotalSeconds:F0} s ({trained} trained, {grid.Count - finished.Count - trained} to go)."));
            }
        }
        Write(results, settings, dataset);
        return 0;
    }

    private static Dictionary<string, object?> Describe(GridRun run, string status) => new()
    {
        ["run_id"] = run.Id, ["status"] = status, ["layers"] = run.Layers, ["heads"] = run.Heads, ["d"] = run.Dimension,
        ["target_interactions"] = run.TargetInteractions, ["negatives"] = run.Negatives,
    };

    private void Write(List<Dictionary<string, object?>> runs, Settings settings, string dataset) =>
        streams.Output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["runs_table"] = Path.GetFullPath(settings.Runs), ["dataset"] = dataset, ["epochs"] = settings.Epochs, ["minutes"] = settings.Minutes,
            ["done"] = runs.Count(r => (string)r["status"]! is "done" or "trained"), ["pending"] = runs.Count(r => (string)r["status"]! == "pending"),
            ["runs"] = runs,
        }, new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>Runs whose final row (test metrics filled in) is in the table: they are done.</summary>
    internal static HashSet<string> FinishedRuns(string path) =>
        File.Exists(path) && new FileInfo(path).Length > 0
            ? SrtRunsTable.Read(path).Where(r => r.TestNdcg5 is not null).Select(r => r.RunId).ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Removes the rows of <paramref name="runId"/> (an attempt that did not finish) from the table, rewriting it atomically.</summary>
    internal static void RemoveRun(string path, string runId)
    {
        if (!File.Exists(path) || new FileInfo(path).Length == 0) return;
        var rows = SrtRunsTable.Read(path);
        if (!rows.Any(r => r.RunId == runId)) return;
        var text = new StringBuilder(SrtRunsTable.Header).Append('\n');
        foreach (var row in rows.Where(r => r.RunId != runId)) text.Append(SrtRunsTable.FormatRow(row)).Append('\n');
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, text.ToString(), new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
    }
}
