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
            var refused = Refused("--train-args", TrainArgs, _trainOptionsSet) ?? Refused("--scoring-args", ScoringArgs, _scoringOptionsSet)
                ?? Refused("--beauty-step-args", BeautyStepArgs, _beautyStepOptionsSet);
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
        var trainArgs = SplitArgs(settings.TrainArgs);
        var stepArgs = SplitArgs(settings.StepArgs);
        var scoringArgs = SplitArgs(settings.ScoringArgs);
        var beautyStepArgs = SplitArgs(settings.BeautyStepArgs);
        var outDir = Path.GetFullPath(settings.OutDir);
        var docPath = Path.GetFullPath(settings.Doc);
        bool force = settings.Force;

        var data = DataFiles(dataDir);
        Directory.CreateDirectory(outDir);
        var benchmarkCommand = BenchmarkCommandLine(settings);
        var child = SrtChildProcess.ForThisExecutable();
        var status = new JsonObject();
        foreach (var row in BeautyBenchmarkRows.All.Where(r => selected.Contains(r.Name)))
        {
            var commands = RowCommands(row, data, Path.Combine(outDir, row.Name), rowMinutes, trainArgs);
            status[row.Name] = RunStep(row.Name, Path.Combine(outDir, row.Name + ".json"), commands, Fingerprint(data), benchmarkCommand, child, force);
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
            fingerprint["model.zip"] = FileFingerprint(modelPath);
            status[BeautyBenchmarkRows.Speed] = RunStep(BeautyBenchmarkRows.Speed, Path.Combine(outDir, "speed.json"), commands, fingerprint, benchmarkCommand, child, force);
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

    /// <summary>
    /// Runs one row (or the speed step) unless its result file holds the same configuration: each command as a child
    /// <c>srt</c>, then the result file written atomically. Returns "skipped" or "ran".
    /// </summary>
    private string RunStep(string name, string resultPath, IReadOnlyDictionary<string, string[]> commands, JsonObject data,
        string benchmarkCommand, SrtChildProcess child, bool force)
    {
        var config = new JsonObject
        {
            ["row"] = name,
            ["commands"] = new JsonObject(commands.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)new JsonArray([.. c.Value.Select(a => JsonValue.Create(a))])))),
            ["data"] = data,
        };
        if (File.Exists(resultPath))
        {
            if (!force && SavedConfiguration(resultPath) is { } saved && JsonNode.DeepEquals(saved, config))
            {
                _progress.WriteLine($"{name}: skipped ({Path.GetFileName(resultPath)} was made with the same commands and data; --force runs it again).");
                return "skipped";
            }
            _progress.WriteLine(force ? $"{name}: --force, running it again." : $"{name}: its commands or data changed since {Path.GetFileName(resultPath)} was written; running it again.");
            File.Delete(resultPath); // a stale result must not outlive a failed rerun
        }

        var rowDir = Path.Combine(Path.GetDirectoryName(resultPath)!, name);
        Directory.CreateDirectory(rowDir);
        var started = DateTimeOffset.UtcNow;
        var results = new JsonObject();
        foreach (var (step, args) in commands)
        {
            var metricsPath = Path.Combine(rowDir, step + ".json");
            File.Delete(metricsPath); // never read an earlier run's file
            _progress.WriteLine($"{name}: srt {string.Join(' ', args.Select(SrtChildProcess.Quote))}");
            var result = child.Run(args, line => _progress.WriteLine($"  [{name} {step}] {line}"), Path.Combine(rowDir, step + ".log"));
            if (result.ExitCode != 0)
                throw new InvalidOperationException($"benchmark row '{name}' failed: 'srt {string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')))}' exited with code {result.ExitCode}" +
                    $"{(result.LastErrorLine is null ? "" : $" ({result.LastErrorLine})")}; its log is {Path.Combine(rowDir, step + ".log")}. Finished rows are kept in {Path.GetDirectoryName(resultPath)}.");
            var json = File.Exists(metricsPath) && args.Contains(metricsPath) ? File.ReadAllText(metricsPath) : result.StandardOutput;
            try
            {
                results[step] = JsonNode.Parse(json);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"benchmark row '{name}': 'srt {args[0]}' printed no JSON result ({e.Message}).", e);
            }
            _progress.WriteLine($"{name}: {step} done in {result.Seconds / 60:F1} min.");
        }
        var file = new JsonObject
        {
            ["row"] = name,
            ["config"] = config,
            ["benchmark_command"] = benchmarkCommand,
            ["started_utc"] = started.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            ["finished_utc"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            ["wall_seconds"] = Math.Round((DateTimeOffset.UtcNow - started).TotalSeconds, 1),
            ["machine"] = MachineInfo(),
            ["results"] = results,
        };
        WriteAtomically(resultPath, file.ToJsonString(_indented) + Environment.NewLine);
        _progress.WriteLine($"{name}: saved {resultPath}.");
        return "ran";
    }

    private static JsonNode? SavedConfiguration(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path))?["config"];
        }
        catch (JsonException)
        {
            return null; // unreadable: run the row again
        }
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
    private static JsonObject Fingerprint(string[] files) => new(files.Select(f => KeyValuePair.Create(Path.GetFileName(f), (JsonNode?)FileFingerprint(f))));

    private static JsonObject FileFingerprint(string path)
    {
        using var stream = File.OpenRead(path);
        return new JsonObject { ["bytes"] = stream.Length, ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(stream)) };
    }

    /// <summary>An ARGS option split on white space (no quoting).</summary>
    private static string[] SplitArgs(string? value) => value?.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>An error when the ARGS option <paramref name="option"/> sets an option the benchmark sets itself; null when it does not.</summary>
    private static string? Refused(string option, string? value, string[] setByBenchmark)
    {
        foreach (var a in SplitArgs(value).Where(a => a.StartsWith("--", StringComparison.Ordinal)))
        {
            var name = a[2..].Split('=')[0];
            if (setByBenchmark.Contains(name))
                return $"option '{option}' may not set --{name}: the benchmark sets it for each row.";
        }
        return null;
    }

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
        var parts = new List<string> { "srt benchmark beauty --data-dir", SrtChildProcess.Quote(DisplayPath(Path.GetFullPath(settings.DataDir))) };
        if (settings.RowMinutes != DefaultRowMinutes) parts.Add("--row-minutes " + settings.RowMinutes.ToString(CultureInfo.InvariantCulture));
        foreach (var (name, value) in new[] { ("train-args", settings.TrainArgs), ("step-args", settings.StepArgs), ("scoring-args", settings.ScoringArgs), ("beauty-step-args", settings.BeautyStepArgs) })
            if (value is not null) parts.Add($"--{name}={SrtChildProcess.Quote(value)}");
        return string.Join(' ', parts);
    }

    /// <summary>A path relative to the current folder (as commands in docs are written), or as is when that is shorter.</summary>
    internal static string DisplayPath(string path)
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative.Length < path.Length ? relative : path;
    }

    /// <summary>The CPU model, cores, memory, OS and runtime of this machine.</summary>
    internal static JsonObject MachineInfo()
    {
        string? cpu = null;
        double? memoryGiB = null;
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
            if (File.Exists("/proc/meminfo")
                && File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) is { } line
                && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture, out long kb))
                memoryGiB = Math.Round(kb / (1024.0 * 1024.0), 1);
        }
        catch (IOException)
        {
            // not Linux, or not readable: the facts stay unknown
        }
        return new JsonObject
        {
            ["cpu"] = cpu ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(),
            ["cores"] = Environment.ProcessorCount,
            ["memory_gib"] = memoryGiB,
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        };
    }

    /// <summary>Writes a temporary file beside <paramref name="path"/>, then renames it over: readers never see half a file.</summary>
    internal static void WriteAtomically(string path, string text)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    internal static void WriteAtomically(string path, byte[] bytes)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }
}
