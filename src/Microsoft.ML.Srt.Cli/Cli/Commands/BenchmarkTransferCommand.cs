using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt benchmark transfer</c>: the paper's section 4.5 on this machine. Pre-trains one model on the source catalogs
/// (or takes a given one), then on the target catalog, each under the same training budget: from scratch, zero-shot
/// (the pre-trained model, no training: its transformer, and its item encoder alone), fine-tuned with progressive unfreezing and EWC, and each of those two
/// removed. Every variant is a resumable step (<see cref="BenchmarkSteps"/>); docs/transfer.md's generated block and
/// its plot are rewritten from the saved results.
/// </summary>
internal sealed class BenchmarkTransferCommand(CliStreams streams) : Command<BenchmarkTransferCommand.Settings>
{
    private static readonly JsonSerializerOptions _indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    // Options the benchmark sets itself for the child srt train runs; --train-args and --pretrain-args may not repeat them.
    private static readonly string[] _setByBenchmark = ["interactions", "items", "model", "metrics-json", "max-minutes", "epochs", "init-from", "fine-tune",
        "ewc", "ewc-interactions", "ewc-items", "text-fields", "checkpoint", "resume", "stage-learning-rate"];
    internal const double DefaultMinutes = 20;
    internal const int DefaultEpochs = 50, DefaultPretrainEpochs = 50;
    internal const double DefaultEwc = 100;
    private readonly TextWriter _progress = streams.Error;

    /// <summary>The options of <c>srt benchmark transfer</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--data-dir <DIR>", isRequired: true)]
        [Description("Folder holding one folder per catalog, each with sequences.txt and items.tsv (../shared/data).")]
        public string DataDir { get; set; } = "";

        [CommandOption("--target <NAME>")]
        [Description("The catalog to fine-tune and evaluate on (a folder of --data-dir).")]
        [DefaultValue("amazon-beauty")]
        public string Target { get; set; } = "amazon-beauty";

        [CommandOption("--sources <NAME,...>")]
        [Description("The catalogs to pre-train on (folders of --data-dir), comma-separated.")]
        [DefaultValue("amazon-games,amazon-toys")]
        public string Sources { get; set; } = "amazon-games,amazon-toys";

        [CommandOption("--pretrained <MODEL.zip>")]
        [Description("Use this pre-trained model instead of running the pre-training step (its file is fingerprinted with the results).")]
        public string? Pretrained { get; set; }

        [CommandOption("--pretrain-epochs <N>")]
        [Description("Epochs of the pre-training step (no time budget, so a killed run resumes to the same model).")]
        [DefaultValue(DefaultPretrainEpochs)]
        public int PretrainEpochs { get; set; }

        [CommandOption("--minutes <M>")]
        [Description("Training budget of every trained variant on the target (srt train --max-minutes); at most 45.")]
        [DefaultValue(DefaultMinutes)]
        public double Minutes { get; set; }

        [CommandOption("--epochs <N>")]
        [Description("Planned epochs of every trained variant on the target (the schedule's length; the budget may end a run first).")]
        [DefaultValue(DefaultEpochs)]
        public int Epochs { get; set; }

        [CommandOption("--ewc <LAMBDA>")]
        [Description("EWC strength of the variants with EWC (the paper: 100).")]
        [DefaultValue(DefaultEwc)]
        public double Ewc { get; set; }

        [CommandOption("--stage-learning-rate <LR>")]
        [Description("Peak learning rate of each layer stage of progressive unfreezing. Default: srt train's learning rate, as the paper's stages use its own training rate (1e-4 there, 1e-3 in srt train's recipe).")]
        [DefaultFrom(typeof(BenchmarkTransferCommand), nameof(DefaultStageLearningRate))]
        public double StageLearningRate { get; set; }

        [CommandOption("--variants <NAME,...>")]
        [Description("Variants to run, comma-separated; the others keep their saved results.")]
        [DefaultFrom(typeof(BenchmarkTransferCommand), nameof(DefaultVariants))]
        public string Variants { get; set; } = "";

        [CommandOption("--out-dir <DIR>")]
        [Description("Folder for the variant results (<variant>.json) and each variant's model and logs.")]
        [DefaultValue("benchmarks/transfer")]
        public string OutDir { get; set; } = "benchmarks/transfer";

        [CommandOption("--doc <PATH>")]
        [Description("The document whose generated block is rewritten; the plot goes to transfer/ beside it.")]
        [DefaultValue("docs/transfer.md")]
        public string Doc { get; set; } = "docs/transfer.md";

        [CommandOption("--force")]
        [Description("Run the selected variants again even where a result with the same configuration is saved.")]
        public bool Force { get; set; }

        [CommandOption("--train-args <ARGS>")]
        [Description("Extra options for every srt train on the target, as one value (--train-args=\"--preset 2-2-128\"); the pre-training gets them too, so the shapes match.")]
        public string? TrainArgs { get; set; }

        [CommandOption("--target-args <ARGS>")]
        [Description("Extra options for the srt train runs on the target only, as one value: for example --target-args=\"--attributes ITEM_ATTRIBUTES.json\" (a field the pre-trained model lacks is added when fine-tuning).")]
        public string? TargetArgs { get; set; }

        [CommandOption("--pretrain-args <ARGS>")]
        [Description("Extra options for the pre-training's srt train only.")]
        public string? PretrainArgs { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate()
        {
            var variants = DataSettings.List(Variants) ?? [];
            if (variants.Length == 0) return ValidationResult.Error($"option '--variants' needs at least one of {string.Join(", ", TransferVariants.Names)}.");
            foreach (var v in variants.Where(v => !TransferVariants.Names.Contains(v)))
                return ValidationResult.Error($"option '--variants': unknown variant '{v}'; the variants are {string.Join(", ", TransferVariants.Names)}.");
            if (!(Minutes > 0 && Minutes <= 45)) return ValidationResult.Error($"option '--minutes' must be in (0, 45]; got {Minutes.ToString(CultureInfo.InvariantCulture)}.");
            if (Epochs < 1) return ValidationResult.Error($"option '--epochs' must be at least 1; got {Epochs}.");
            if (PretrainEpochs < 1) return ValidationResult.Error($"option '--pretrain-epochs' must be at least 1; got {PretrainEpochs}.");
            if (!(StageLearningRate > 0) || double.IsInfinity(StageLearningRate))
                return ValidationResult.Error($"option '--stage-learning-rate' must be positive; got {StageLearningRate.ToString(CultureInfo.InvariantCulture)}.");
            if (!(Ewc > 0) || double.IsInfinity(Ewc)) return ValidationResult.Error($"option '--ewc' must be positive; got {Ewc.ToString(CultureInfo.InvariantCulture)}.");
            if ((DataSettings.List(Sources) ?? []).Length == 0) return ValidationResult.Error("option '--sources' needs at least one catalog folder.");
            if (Pretrained is not null && !File.Exists(Pretrained)) return ValidationResult.Error($"option '--pretrained': the model file '{Pretrained}' does not exist.");
            var refused = BenchmarkSteps.Refused("--train-args", TrainArgs, _setByBenchmark) ?? BenchmarkSteps.Refused("--pretrain-args", PretrainArgs, _setByBenchmark)
                ?? BenchmarkSteps.Refused("--target-args", TargetArgs, _setByBenchmark);
            return refused is null ? ValidationResult.Success() : ValidationResult.Error(refused);
        }
    }

    private static string DefaultVariants => string.Join(',', TransferVariants.Names);

    private static double DefaultStageLearningRate => new Training.SrtTrainer.Options().LearningRate;

    /// <summary>A catalog's two files: interactions and items (title as text).</summary>
    private sealed record Catalog(string Name, string Interactions, string Items)
    {
        public string[] DataOptions => ["--interactions", Interactions, "--items", Items];

        public string[] Files => [Interactions, Items];
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var dataDir = Path.GetFullPath(settings.DataDir);
        var target = Find(dataDir, settings.Target, "--target");
        var sources = (DataSettings.List(settings.Sources) ?? []).Select(s => Find(dataDir, s, "--sources")).ToArray();
        var outDir = Path.GetFullPath(settings.OutDir);
        Directory.CreateDirectory(outDir);
        var selected = (DataSettings.List(settings.Variants) ?? []).ToHashSet();
        var trainArgs = BenchmarkSteps.SplitArgs(settings.TrainArgs);
        string[] targetArgs = [.. trainArgs, .. BenchmarkSteps.SplitArgs(settings.TargetArgs)];
        var steps = new BenchmarkSteps(_progress, SrtChildProcess.ForThisExecutable(), settings.Force);
        var benchmarkCommand = CommandLine(settings);
        var status = new JsonObject();
        // Every model reads the title alone: the one text field all these catalogs share, so a pre-trained model can read the target.
        string[] title = ["--text-fields", "title"];

        string pretrained;
        if (settings.Pretrained is { } given) pretrained = Path.GetFullPath(given);
        else
        {
            var pretrainDir = Path.Combine(outDir, TransferVariants.Pretrain);
            pretrained = Path.Combine(pretrainDir, "model.zip");
            bool wanted = selected.Overlaps(TransferVariants.Names.Where(n => n != TransferVariants.Popularity && n != TransferVariants.Scratch));
            if (wanted || selected.Contains(TransferVariants.Pretrain))
            {
                var commands = new Dictionary<string, string[]>
                {
                    ["train"] = ["train", .. sources.SelectMany(s => s.DataOptions), .. title, "--epochs", Invariant(settings.PretrainEpochs), "--max-minutes", "0",
                        "--checkpoint", Path.Combine(pretrainDir, "checkpoint.bin"), "--resume",
                        "--model", pretrained, "--metrics-json", Path.Combine(pretrainDir, "train.json"), .. trainArgs, .. BenchmarkSteps.SplitArgs(settings.PretrainArgs)],
                };
                status[TransferVariants.Pretrain] = steps.Run(TransferVariants.Pretrain, Path.Combine(outDir, TransferVariants.Pretrain + ".json"), commands,
                    Fingerprint(sources), benchmarkCommand);
            }
        }

        var ewc = new[] { "--ewc", Invariant(settings.Ewc) }
            .Concat(sources.SelectMany(s => new[] { "--ewc-interactions", s.Interactions, "--ewc-items", s.Items })).ToArray();
        foreach (var variant in TransferVariants.Names.Where(n => n != TransferVariants.Pretrain && selected.Contains(n)))
        {
            var dir = Path.Combine(outDir, variant);
            string Out(string step) => Path.Combine(dir, step + ".json");
            string[] budget = ["--epochs", Invariant(settings.Epochs), "--max-minutes", Invariant(settings.Minutes)];
            string[] fineTune = ["--init-from", pretrained, .. budget];
            string[] progressive = ["--fine-tune", "progressive", "--stage-learning-rate", Invariant(settings.StageLearningRate)];
            string[] train = ["train", .. target.DataOptions, .. title, "--model", Path.Combine(dir, "model.zip"), "--metrics-json", Out("run")];
            var commands = new Dictionary<string, string[]>
            {
                ["run"] = variant switch
                {
                    TransferVariants.Popularity => ["evaluate", "--baseline", "popularity", .. target.DataOptions, .. title, "--ks", "5,10,20", "--metrics-json", Out("run")],
                    TransferVariants.ZeroShot => ["evaluate", "--model", pretrained, .. target.DataOptions, .. title, "--catalog", "data", "--ks", "5,10,20", "--metrics-json", Out("run")],
                    TransferVariants.ZeroShotLastItem => ["evaluate", "--model", pretrained, .. target.DataOptions, .. title, "--catalog", "data", "--scorer", "last-item",
                        "--ks", "5,10,20", "--metrics-json", Out("run")],
                    TransferVariants.Scratch => [.. train, .. budget, .. targetArgs],
                    TransferVariants.FineTuned => [.. train, .. fineTune, .. progressive, .. ewc, .. targetArgs],
                    TransferVariants.NoEwc => [.. train, .. fineTune, .. progressive, .. targetArgs],
                    TransferVariants.NoProgressive => [.. train, .. fineTune, "--fine-tune", "none", .. ewc, .. targetArgs],
                    _ => throw new InvalidOperationException($"no commands for variant '{variant}'"),
                },
            };
            var fingerprint = Fingerprint([target]);
            if (variant is not (TransferVariants.Popularity or TransferVariants.Scratch))
            {
                if (!File.Exists(pretrained))
                    throw new InvalidOperationException($"variant '{variant}' needs the pre-trained model {pretrained}, which does not exist: run the '{TransferVariants.Pretrain}' step first (--variants {TransferVariants.Pretrain},{variant}) or give --pretrained.");
                fingerprint["pretrained_model"] = BenchmarkSteps.FileFingerprint(pretrained);
            }
            if (commands["run"].Contains("--ewc-interactions"))
                foreach (var (key, value) in Fingerprint(sources)) fingerprint[key] = value?.DeepClone();
            status[variant] = steps.Run(variant, Path.Combine(outDir, variant + ".json"), commands, fingerprint, benchmarkCommand);
        }

        var results = TransferBenchmarkReport.Load(outDir, pretrained);
        var written = TransferBenchmarkReport.Write(results, Path.GetFullPath(settings.Doc), settings.Minutes, _progress);
        var summary = new JsonObject
        {
            ["variants"] = status,
            ["out_dir"] = outDir,
            ["pretrained_model"] = pretrained,
            ["doc"] = Path.GetFullPath(settings.Doc),
            ["plots"] = new JsonArray([.. written.Select(p => JsonValue.Create(p))]),
        };
        streams.Output.WriteLine(summary.ToJsonString(_indented));
        return 0;
    }

    /// <summary>Size and SHA-256 of each catalog's files, by <c>catalog/file</c>.</summary>
    private static JsonObject Fingerprint(IEnumerable<Catalog> catalogs) => new(catalogs.SelectMany(c => c.Files.Select(f =>
        KeyValuePair.Create($"{c.Name}/{Path.GetFileName(f)}", (JsonNode?)BenchmarkSteps.FileFingerprint(f)))));

    private static string Invariant(double value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A catalog folder of <paramref name="dataDir"/> with its sequences.txt and items.tsv; errors name the option and the missing file.</summary>
    private static Catalog Find(string dataDir, string name, string option)
    {
        var folder = Path.Combine(dataDir, name);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"option '{option}': the data folder '{dataDir}' (--data-dir) has no folder '{name}'.");
        var files = new[] { "sequences.txt", "items.tsv" }.Select(f => Path.Combine(folder, f)).ToArray();
        foreach (var file in files.Where(f => !File.Exists(f)))
            throw new FileNotFoundException($"option '{option}': the catalog folder '{folder}' has no {Path.GetFileName(file)}; the benchmark reads sequences.txt and items.tsv from it.", file);
        return new Catalog(name, files[0], files[1]);
    }

    /// <summary>The benchmark's own command line, as recorded with each result (options at their defaults left out).</summary>
    private static string CommandLine(Settings s)
    {
        var parts = new List<string> { "srt benchmark transfer --data-dir", SrtChildProcess.Quote(BenchmarkSteps.DisplayPath(Path.GetFullPath(s.DataDir))) };
        if (s.Target != "amazon-beauty") parts.Add("--target " + s.Target);
        if (s.Sources != "amazon-games,amazon-toys") parts.Add("--sources " + s.Sources);
        if (s.Pretrained is not null) parts.Add("--pretrained " + SrtChildProcess.Quote(BenchmarkSteps.DisplayPath(Path.GetFullPath(s.Pretrained))));
        if (s.PretrainEpochs != DefaultPretrainEpochs) parts.Add("--pretrain-epochs " + s.PretrainEpochs);
        if (s.Minutes != DefaultMinutes) parts.Add("--minutes " + Invariant(s.Minutes));
        if (s.Epochs != DefaultEpochs) parts.Add("--epochs " + s.Epochs);
        if (s.Ewc != DefaultEwc) parts.Add("--ewc " + Invariant(s.Ewc));
        if (s.StageLearningRate != DefaultStageLearningRate) parts.Add("--stage-learning-rate " + Invariant(s.StageLearningRate));
        foreach (var (name, value) in new[] { ("train-args", s.TrainArgs), ("target-args", s.TargetArgs), ("pretrain-args", s.PretrainArgs) })
            if (value is not null) parts.Add($"--{name}={SrtChildProcess.Quote(value)}");
        return string.Join(' ', parts);
    }
}

/// <summary>The variants of <c>srt benchmark transfer</c>, in table order.</summary>
internal static class TransferVariants
{
    public const string Pretrain = "pretrain", Popularity = "popularity", ZeroShot = "zero-shot", ZeroShotLastItem = "zero-shot-last-item",
        Scratch = "scratch", FineTuned = "fine-tuned",
        NoEwc = "fine-tuned-no-ewc", NoProgressive = "fine-tuned-no-progressive";

    /// <summary>Every step name, the pre-training first.</summary>
    public static readonly string[] Names = [Pretrain, Popularity, ZeroShot, ZeroShotLastItem, Scratch, FineTuned, NoEwc, NoProgressive];
}
