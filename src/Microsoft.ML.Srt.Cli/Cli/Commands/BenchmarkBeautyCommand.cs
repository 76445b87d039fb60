using System.ComponentModel;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Srt.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt benchmark beauty</c>: reproduces the paper's Amazon Beauty table. Each row runs as child <c>srt train</c> /
/// <c>srt evaluate</c> processes; its result is saved (atomically) as soon as it finishes, and a rerun skips rows
/// whose saved result was made with the same configuration. Then the speed step, and docs/benchmarks.md's generated
/// block and plots are rewritten from the saved results (docs/benchmarks.md says how).
/// </summary>
internal sealed class BenchmarkBeautyCommand(CliStreams streams) : Command<BenchmarkBeautyCommand.Settings>
{
    private static readonly string[] _dataFiles = ["sequences.txt", "items.tsv", "item_attributes.json"];
    // Options the benchmark sets itself for every child; --train-args may not repeat them.
    private static readonly string[] _trainOptionsSet = ["interactions", "items", "attributes", "format", "model", "metrics-json", "max-minutes", "negatives", "representation"];
    private static readonly string[] _scoringOptionsSet = ["model", "interactions", "items", "attributes", "format"];
    private static readonly string[] _beautyStepOptionsSet = ["interactions", "items", "attributes", "format", "model", "metrics-json"];

    /// <summary>
    /// The speed step's training run on Beauty's own batches: the model size of the step target in docs/benchmarks.md (d = 64, 2 layers),
    /// the default 1,000 shared negatives and batch 128, for a few epochs. Its JSON's ms_per_step is the mean optimizer step
    /// over length-bucketed batches, as <c>srt train</c> measures it; <c>--beauty-step-args</c> may replace either option.
    /// </summary>
    internal static readonly string[] BeautyStepDefaults = ["--preset", SrtPresets.CpuSmall, "--epochs", "3"];
    private static readonly JsonSerializerOptions _indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private const double DefaultRowMinutes = 25;
    private readonly TextWriter _progress = streams.Error;

    /// <summary>The options of <c>srt benchmark beauty</c>: the data, the rows, where results go, and extra options for the child runs.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--data-dir <DIR>", isRequired: true)]
        [Description("Folder with Beauty's sequences.txt, items.tsv and item_attributes.json (../shared/data/amazon-beauty).")]
        public string DataDir { get; set; } = "";

        [CommandOption("--rows <ROW,...>")]
        [Description("Rows (and the speed step) to run, comma-separated; the others keep their saved results.")]
        [DefaultFrom(typeof(BenchmarkBeautyCommand), nameof(DefaultRows))]
        public string Rows { get; set; } = "";

        [CommandOption("--row-minutes <M>")]
        [Description("Training budget of each trained row (srt train --max-minutes).")]
        [DefaultValue(DefaultRowMinutes)]
        public double RowMinutes { get; set; }

        [CommandOption("--out-dir <DIR>")]
        [Description("Folder for the row results (<row>.json) and each row's model and logs.")]
        [DefaultFrom(typeof(BenchmarkBeautyCommand), nameof(DefaultOutDir))]
        public string OutDir { get; set; } = "";

        [CommandOption("--doc <PATH>")]
        [Description("The document whose generated block is rewritten; the plots go to benchmarks/ beside it.")]
        [DefaultFrom(typeof(BenchmarkBeautyCommand), nameof(DefaultDoc))]
        public string Doc { get; set; } = "";

        [CommandOption("--force")]
        [Description("Run the selected rows again even where a result with the same configuration is saved.")]
        public bool Force { get; set; }

        [CommandOption("--train-args <ARGS>")]
        [Description("Extra options for every srt train, as one value (--train-args=\"--epochs 1 --preset cpu-small\").")]
        public string? TrainArgs { get; set; }

        [CommandOption("--step-args <ARGS>")]
        [Description("Extra options for srt benchmark step (speed step).")]
        public string? StepArgs { get; set; }

        [CommandOption("--scoring-args <ARGS>")]
        [Description("Extra options for srt benchmark scoring (speed step).")]
        public string? ScoringArgs { get; set; }

        [CommandOption("--beauty-step-args <ARGS>")]
        [BeautyStepArgsDescription]
        public string? BeautyStepArgs { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate()
        {
            var rows = DataSettings.List(Rows) ?? [];
            if (rows.Length == 0) return ValidationResult.Error($"option '--rows' needs at least one of {string.Join(", ", BeautyBenchmarkRows.Names)}.");
            foreach (var row in rows.Where(r => !BeautyBenchmarkRows.Names.Contains(r)))
                return ValidationResult.Error($"option '--rows': unknown row '{row}'; the rows are {string.Join(", ", BeautyBenchmarkRows.Names)}.");
            if (!(RowMinutes > 0)) return ValidationResult.Error($"option '--row-minutes' must be positive; got {RowMinutes.ToString(CultureInfo.InvariantCulture)}.");
            var refused = BenchmarkSteps.Refused("--train-args", TrainArgs, _trainOptionsSet) ?? BenchmarkSteps.Refused("--scoring-args", ScoringArgs, _scoringOptionsSet)
                ?? BenchmarkSteps.Refused("--beauty-step-args", BeautyStepArgs, _beautyStepOptionsSet);
            return refused is null ? ValidationResult.Success() : ValidationResult.Error(refused);
        }
    }

    private static string DefaultRows => string.Join(',', BeautyBenchmarkRows.Names);

    private static string DefaultOutDir => Path.Combine("benchmarks", "beauty");

    private static string DefaultDoc => Path.Combine("docs", "benchmarks.md");

    /// <summary>The description of <c>--beauty-step-args</c>, with the speed step's own defaults.</summary>
    [AttributeUsage(AttributeTargets.Property)]
    private sealed class BeautyStepArgsDescriptionAttribute : DescriptionAttribute
    {
        public override string Description => $"Extra options for the speed step's srt train on Beauty's own batches (default: {string.Join(' ', BeautyStepDefaults)}).";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var dataDir = Path.GetFullPath(settings.DataDir);
        var selected = (DataSettings.List(settings.Rows) ?? []).ToHashSet();
        double rowMinutes = settings.RowMinutes;
        var trainArgs = BenchmarkSteps.SplitArgs(settings.TrainArgs);
        var stepArgs = BenchmarkSteps.SplitArgs(settings.StepArgs);
        var scoringArgs = BenchmarkSteps.SplitArgs(settings.ScoringArgs);
        var beautyStepArgs = BenchmarkSteps.SplitArgs(settings.BeautyStepArgs);
        var outDir = Path.GetFullPath(settings.OutDir);
        var docPath = Path.GetFullPath(settings.Doc);
        bool force = settings.Force;

        var data = DataFiles(dataDir);
        Directory.CreateDirectory(outDir);
        var benchmarkCommand = BenchmarkCommandLine(settings);
        var steps = new BenchmarkSteps(_progress, SrtChildProcess.ForThisExecutable(), force);
        var status = new JsonObject();
        foreach (var row in BeautyBenchmarkRows.All.Where(r => selected.Contains(r.Name)))
        {
            var commands = RowCommands(row, data, Path.Combine(outDir, row.Name), rowMinutes, trainArgs);
            status[row.Name] = steps.Run(row.Name, Path.Combine(outDir, row.Name + ".json"), commands, Fingerprint(data), benchmarkCommand);
        }
        if (selected.Contains(BeautyBenchmarkRows.Speed))
        {
            var modelPath = Path.Combine(outDir, BeautyBenchmarkRows.DefaultRecipe, "model.zip");
            if (!File.Exists(Path.Combine(outDir, BeautyBenchmarkRows.DefaultRecipe + ".json")) || !File.Exists(modelPath))
                throw new InvalidOperationException($"the speed step times the {BeautyBenchmarkRows.DefaultRecipe} row's model, and {outDir} has no finished " +
                    $"{BeautyBenchmarkRows.DefaultRecipe} row with its model.zip: run that row first (--rows {BeautyBenchmarkRows.DefaultRecipe},{BeautyBenchmarkRows.Speed}).");
            var commands = new Dictionary<string, string[]>
            {
                ["step"] = ["benchmark", "step", .. stepArgs],
                ["scoring"] = ["benchmark", "scoring", "--model", modelPath, .. DataOptions(data), .. scoringArgs],
                ["beauty_step"] = ["train", .. DataOptions(data), "--metrics-json", Path.Combine(outDir, BeautyBenchmarkRows.Speed, "beauty_step.json"),
                    .. WithDefaults(BeautyStepDefaults, beautyStepArgs)],
            };
            var fingerprint = Fingerprint(data);
            fingerprint["model.zip"] = BenchmarkSteps.FileFingerprint(modelPath);
            status[BeautyBenchmarkRows.Speed] = steps.Run(BeautyBenchmarkRows.Speed, Path.Combine(outDir, "speed.json"), commands, fingerprint, benchmarkCommand);
        }

        var results = BeautyBenchmarkResults.Load(outDir);
        var written = BeautyBenchmarkReport.Write(results, docPath, _progress);
        var summary = new JsonObject
        {
            ["rows"] = status,
            ["out_dir"] = outDir,
            ["doc"] = docPath,
            ["plots"] = new JsonArray([.. written.Select(p => JsonValue.Create(p))]),
        };
        streams.Output.WriteLine(summary.ToJsonString(_indented));
        return 0;
    }

    /// <summary>The child commands of a row: train (or, for popularity, evaluate) and the history-masked evaluation.</summary>
    private static Dictionary<string, string[]> RowCommands(BeautyBenchmarkRow row, string[] data, string rowDir, double minutes, string[] trainArgs)
    {
        string Out(string step) => Path.Combine(rowDir, step + ".json");
        if (!row.IsTrained)
        {
            return new()
            {
                ["evaluate"] = ["evaluate", "--baseline", "popularity", .. DataOptions(data), "--metrics-json", Out("evaluate")],
                ["evaluate_masked"] = ["evaluate", "--baseline", "popularity", .. DataOptions(data), "--mask-history", "--metrics-json", Out("evaluate_masked")],
            };
        }
        var model = Path.Combine(rowDir, "model.zip");
        return new()
        {
            ["train"] = ["train", .. DataOptions(data), "--max-minutes", minutes.ToString(CultureInfo.InvariantCulture),
                "--model", model, "--metrics-json", Out("train"), .. row.TrainOptions!, .. trainArgs],
            ["evaluate_masked"] = ["evaluate", "--model", model, .. DataOptions(data), "--mask-history", "--metrics-json", Out("evaluate_masked")],
        };
    }

    private static string[] DataOptions(string[] data) => ["--interactions", data[0], "--items", data[1], "--attributes", data[2]];

    /// <summary>The three Beauty files, checked to exist (an error names the missing one).</summary>
    private static string[] DataFiles(string dataDir)
    {
        if (!Directory.Exists(dataDir))
            throw new DirectoryNotFoundException($"the data folder '{dataDir}' (--data-dir) does not exist; it should hold Beauty's {string.Join(", ", _dataFiles)}.");
        var files = _dataFiles.Select(f => Path.Combine(dataDir, f)).ToArray();
        foreach (var file in files.Where(f => !File.Exists(f)))
            throw new FileNotFoundException($"the data folder '{dataDir}' (--data-dir) has no {Path.GetFileName(file)}; the benchmark reads {string.Join(", ", _dataFiles)} from it.", file);
        return files;
    }

    /// <summary>Size and SHA-256 of each data file: a result made from other data is not reused.</summary>
    private static JsonObject Fingerprint(string[] files) => BenchmarkSteps.Fingerprint(files);

    /// <summary>The extra options, after each default option (a name and its value) that they do not set themselves.</summary>
    private static string[] WithDefaults(string[] defaults, string[] extra)
    {
        var given = extra.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=')[0]).ToHashSet();
        var result = new List<string>();
        for (int k = 0; k + 1 < defaults.Length; k += 2)
            if (!given.Contains(defaults[k])) result.AddRange([defaults[k], defaults[k + 1]]);
        return [.. result, .. extra];
    }

    /// <summary>The benchmark's own command line, as recorded with each result (options at their defaults left out).</summary>
    private static string BenchmarkCommandLine(Settings settings)
    {
        var parts = new List<string> { "srt benchmark beauty --data-dir", SrtChildProcess.Quote(BenchmarkSteps.DisplayPath(Path.GetFullPath(settings.DataDir))) };
        if (settings.RowMinutes != DefaultRowMinutes) parts.Add("--row-minutes " + settings.RowMinutes.ToString(CultureInfo.InvariantCulture));
        foreach (var (name, value) in new[] { ("train-args", settings.TrainArgs), ("step-args", settings.StepArgs), ("scoring-args", settings.ScoringArgs), ("beauty-step-args", settings.BeautyStepArgs) })
            if (value is not null) parts.Add($"--{name}={SrtChildProcess.Quote(value)}");
        return string.Join(' ', parts);
    }

}
