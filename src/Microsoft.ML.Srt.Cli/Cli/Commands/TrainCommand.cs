using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Scaling;
using Microsoft.ML.Srt.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt train</c>: loads a data set, splits it leave-one-out, trains SRT on the training part (validating on the
/// validation part), evaluates the test part with full ranking over the whole catalog, and prints one JSON object.
/// Progress lines go to the error stream, so the standard output is only the JSON.
/// </summary>
internal sealed class TrainCommand(CliStreams streams) : Command<TrainCommand.Settings>
{
    private static readonly int[] _ks = [5, 10, 20];
    // The command's defaults are the library's (a fresh SrtTrainer.Options, read when the help is shown or a run starts),
    // never a copy of them; --epochs and --max-minutes are the exceptions (see Settings).
    private static readonly SrtTrainer.Options _defaults = new();
    private static string Invariant(double value) => value.ToString(CultureInfo.InvariantCulture);
    private static string RepresentationName(ItemRepresentation r) => r switch
    {
        ItemRepresentation.Id => "id",
        ItemRepresentation.TextAndId => "text-and-id",
        _ => "text",
    };

    /// <summary>The options of <c>srt train</c>: the data options, then the trainer's.</summary>
    public sealed class Settings : DataSettings
    {
        // The SrtTrainer.Options field behind each option: a library validation error is reported with the option's name.
        private static readonly Dictionary<string, string> _optionOfField = new()
        {
            [nameof(SrtTrainer.Options.Preset)] = "--preset", [nameof(SrtTrainer.Options.Layers)] = "--layers",
            [nameof(SrtTrainer.Options.Heads)] = "--heads", [nameof(SrtTrainer.Options.Dimension)] = "--dimension",
            [nameof(SrtTrainer.Options.Negatives)] = "--negatives", [nameof(SrtTrainer.Options.Dropout)] = "--dropout",
            [nameof(SrtTrainer.Options.Temperature)] = "--temperature", [nameof(SrtTrainer.Options.LearningRate)] = "--learning-rate",
            [nameof(SrtTrainer.Options.WeightDecay)] = "--weight-decay", [nameof(SrtTrainer.Options.EarlyStoppingPatience)] = "--patience",
            [nameof(SrtTrainer.Options.Epochs)] = "--epochs", [nameof(SrtTrainer.Options.BatchSize)] = "--batch-size",
            [nameof(SrtTrainer.Options.MaxMinutes)] = "--max-minutes", [nameof(SrtTrainer.Options.Seed)] = "--seed",
            [nameof(SrtTrainer.Options.InitialModelPath)] = "--init-from", [nameof(SrtTrainer.Options.FineTuning)] = "--fine-tune",
            [nameof(SrtTrainer.Options.StageEpochs)] = "--stage-epochs", [nameof(SrtTrainer.Options.StageLearningRate)] = "--stage-learning-rate",
            [nameof(SrtTrainer.Options.EwcBatches)] = "--ewc-batches",
            [nameof(SrtTrainer.Options.CheckpointPath)] = "--checkpoint", [nameof(SrtTrainer.Options.Resume)] = "--resume",
        };

        /// <inheritdoc/>
        protected override bool ReadsSeveralSources => true;

        [CommandOption("--representation <KIND>")]
        [Description("How items become vectors: text (SRT), id (SASRec-style) or text-and-id.")]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultRepresentation))]
        public string Representation { get; set; } = "";

        [CommandOption("--preset <NAME>")]
        [PresetDescription]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultPreset))]
        public string Preset { get; set; } = "";

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
        [Description("Sampled negatives per step, or 'all' for the full softmax.")]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultNegatives))]
        public string Negatives { get; set; } = "";

        [CommandOption("--negative-sharing <HOW>")]
        [Description("Negatives shared by the whole batch, or drawn per sequence (the paper's way): batch or per-sequence.")]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultNegativeSharing))]
        public string NegativeSharing { get; set; } = "";

        [CommandOption("--repeat-bias <on|off>")]
        [Description("Learn a score offset for items the history already holds (how often users take an item again).")]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultRepeatBias))]
        public string RepeatBias { get; set; } = "";

        [CommandOption("--dropout <P>")]
        [Description("Dropout on embeddings, attention weights and block outputs.")]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultDropout))]
        public double Dropout { get; set; }

        [CommandOption("--temperature <T>")]
        [Description("Softmax temperature τ.")]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultTemperature))]
        public double Temperature { get; set; }

        [CommandOption("--learning-rate <LR>")]
        [Description("Peak learning rate of the one-cycle schedule.")]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultLearningRate))]
        public double LearningRate { get; set; }

        [CommandOption("--weight-decay <W>")]
        [Description("AdamW weight decay.")]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultWeightDecay))]
        public double WeightDecay { get; set; }

        // --patience, --epochs, --max-minutes and --seed are the CLI's own recipe, not the library's: the library's
        // defaults are deterministic (no time budget, early stopping), while srt train keeps the time-budgeted Beauty
        // default that docs/training.md documents (and srt benchmark beauty's rows rely on).
        [CommandOption("--patience <N>")]
        [Description("Early stopping: validations without improvement (while the learning rate decays) before stopping; 0: off (the CLI's Beauty recipe; the library's default differs).")]
        [DefaultValue(0)]
        public int Patience { get; set; }

        [CommandOption("--epochs <N>")]
        [Description("Training epochs (the CLI's Beauty recipe; the library's default differs).")]
        [DefaultValue(200)]
        public int Epochs { get; set; }

        [CommandOption("--batch-size <N>")]
        [Description("Sequences per batch.")]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultBatchSize))]
        public int BatchSize { get; set; }

        [CommandOption("--max-minutes <M>")]
        [Description("Training time budget in minutes; 0: none, epochs and early stopping alone decide (the CLI's Beauty recipe; the library's default is 0).")]
        [DefaultValue(44.0)]
        public double MaxMinutes { get; set; }

        [CommandOption("--seed <S>")]
        [Description("Random seed (the library draws one from the MLContext when none is set; the CLI always sets one).")]
        [DefaultValue(1)]
        public int Seed { get; set; }

        [CommandOption("--device <DEVICE>")]
        [Description("Torch device: auto, cpu, cuda or cuda:N.")]
        [DefaultValue("auto")]
        public string Device { get; set; } = "auto";

        [CommandOption("--tokenizer <DIR>")]
        [Description("Text tokenizer: a folder with vocab.json and merges.txt from 'srt tokenizer train' (default: GPT-2's). The model file stores it.")]
        public string? Tokenizer { get; set; }

        [CommandOption("--init-from <MODEL.zip>")]
        [Description("Fine-tune: start from this pre-trained model (an SRT model file or an ML.NET zip); the catalog is read with its tokenizer and vocabularies, and its size must match the size options given.")]
        public string? InitFrom { get; set; }

        [CommandOption("--fine-tune <SCHEDULE>")]
        [Description("How --init-from's model trains: none (everything from the first step) or progressive (the top layer first, one more each stage, then everything).")]
        [DefaultValue("none")]
        public string FineTune { get; set; } = "none";

        [CommandOption("--stage-epochs <N>")]
        [Description("Epochs per layer stage of --fine-tune progressive; the last stage (everything) gets the epochs left.")]
        [DefaultFrom(typeof(TrainCommand), nameof(DefaultStageEpochs))]
        public int StageEpochs { get; set; }

        [CommandOption("--stage-learning-rate <LR>")]
        [Description("Peak learning rate of each layer stage of --fine-tune progressive (default: --learning-rate's; the last stage uses --learning-rate).")]
        public double? StageLearningRate { get; set; }

        [CommandOption("--ewc <LAMBDA>")]
        [Description("Elastic Weight Consolidation strength against forgetting the pre-training (the paper: 100; 0: off). Needs --init-from and --ewc-interactions.")]
        [DefaultValue(0.0)]
        public double Ewc { get; set; }

        [CommandOption("--ewc-interactions <PATH>")]
        [Description("The pre-training interactions that --ewc's Fisher estimate is computed on (read with --format and --unknown-items, as --interactions); several times for a model pre-trained on several data sets.")]
        public string[] EwcInteractions { get; set; } = [];

        [CommandOption("--ewc-items <PATH>")]
        [Description("The item file of each --ewc-interactions, in the same order (the fields the pre-trained model reads).")]
        public string[] EwcItems { get; set; } = [];

        [CommandOption("--ewc-batches <N>")]
        [Description("Batches of --ewc-interactions the Fisher estimate averages.")]
        [DefaultValue(100)]
        public int EwcBatches { get; set; }

        [CommandOption("--checkpoint <FILE>")]
        [Description("Rewrite this training checkpoint after every epoch (atomically): weights, optimizer moments, random states, epoch reports.")]
        public string? Checkpoint { get; set; }

        [CommandOption("--resume")]
        [Description("Continue from --checkpoint when the file exists (it must come from the same options and data), else start afresh: rerun the same command after a crash. A finished run's checkpoint gives its model at once.")]
        public bool Resume { get; set; }

        [CommandOption("--model <OUT.zip>")]
        [Description("Save the trained model to this .zip (an SRT model file; load it with SrtModel.Load).")]
        public string? Model { get; set; }

        [CommandOption("--metrics-json <OUT.json>")]
        [Description("Also write the JSON metrics to this file.")]
        public string? MetricsJson { get; set; }

        [CommandOption("--runs <RUNS.csv>")]
        [Description("Append the run to this runs table (docs/scaling.md): one row per validation, and a final row with the test metrics.")]
        public string? Runs { get; set; }

        [CommandOption("--run-name <ID>")]
        [Description("The run's id in the runs table (default: dataset, layers-heads-d, negatives, seed and the start time).")]
        public string? RunName { get; set; }

        [CommandOption("--dataset-name <NAME>")]
        [Description("The dataset column of the runs table (default: the interaction file's folder name).")]
        public string? DatasetName { get; set; }

        /// <summary>The trainer options these settings ask for.</summary>
        /// <param name="loadTokenizer">Load the <c>--tokenizer</c> folder (false: leave Options.Tokenizer null, for checks).</param>
        public SrtTrainer.Options ToTrainerOptions(bool loadTokenizer = true) => new()
        {
            ItemRepresentation = Representation switch
            {
                "id" => ItemRepresentation.Id,
                "text-and-id" => ItemRepresentation.TextAndId,
                _ => ItemRepresentation.Text,
            },
            Preset = Preset,
            Layers = Layers ?? 0,
            Heads = Heads ?? 0,
            Dimension = Dimension ?? 0,
            Negatives = Negatives.Equals("all", StringComparison.OrdinalIgnoreCase) ? 0 : int.Parse(Negatives, NumberStyles.Integer, CultureInfo.InvariantCulture),
            NegativeSharing = NegativeSharing == "per-sequence" ? Training.NegativeSharing.PerSequence : Training.NegativeSharing.PerBatch,
            LearnRepeatBias = RepeatBias == "on",
            Dropout = Dropout,
            Temperature = Temperature,
            LearningRate = LearningRate,
            WeightDecay = WeightDecay,
            EarlyStoppingPatience = Patience,
            Epochs = Epochs,
            BatchSize = BatchSize,
            MaxMinutes = MaxMinutes,
            Seed = Seed,
            Device = Device,
            Tokenizer = Tokenizer is null || !loadTokenizer ? null : BpeTokenizerTrainer.Load(Tokenizer),
            InitialModelPath = InitFrom,
            FineTuning = FineTune == "progressive" ? FineTuningSchedule.Progressive : FineTuningSchedule.None,
            StageEpochs = StageEpochs,
            StageLearningRate = StageLearningRate,
            EwcLambda = Ewc,
            EwcBatches = EwcBatches,
            CheckpointPath = Checkpoint,
            Resume = Resume,
        };

        /// <summary>Loader options for each <c>--ewc-interactions</c> and its <c>--ewc-items</c>, by source name; null without them.</summary>
        public IReadOnlyList<KeyValuePair<string, InteractionFileLoader.Options>>? ToEwcLoaderOptions()
        {
            if (EwcInteractions.Length == 0) return null;
            var names = SourceNames(EwcInteractions);
            return names.Select((name, k) =>
            {
                var o = ToLoaderOptions();
                o.InteractionsPath = EwcInteractions[k];
                o.ItemsPath = EwcItems.Length > k ? EwcItems[k] : null;
                o.AttributesPath = null;
                return KeyValuePair.Create(name, o);
            }).ToArray();
        }

        /// <inheritdoc/>
        public override ValidationResult Validate()
        {
            var data = base.Validate();
            if (!data.Successful) return data;
            var choice = Choice("--representation", Representation, ["text", "id", "text-and-id"])
                ?? Choice("--negative-sharing", NegativeSharing, ["batch", "per-sequence"])
                ?? Choice("--repeat-bias", RepeatBias, ["on", "off"])
                ?? Choice("--fine-tune", FineTune, ["none", "progressive"]);
            if (choice is not null) return choice;
            if (!Negatives.Equals("all", StringComparison.OrdinalIgnoreCase) && !int.TryParse(Negatives, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
                return ValidationResult.Error($"option '--negatives' needs an integer or 'all'; got '{Negatives}'.");
            if (Runs is null && (RunName is not null || DatasetName is not null))
                return ValidationResult.Error("options '--run-name' and '--dataset-name' name a row of the runs table: give '--runs' too.");
            if (RunName is not null && RunName.Trim().Length == 0)
                return ValidationResult.Error("option '--run-name' needs a non-empty id.");
            if (Tokenizer is not null && new[] { BpeTokenizerTrainer.VocabularyFileName, BpeTokenizerTrainer.MergesFileName }
                    .FirstOrDefault(f => !File.Exists(Path.Combine(Tokenizer, f))) is { } missing)
                return ValidationResult.Error($"option '--tokenizer': the folder '{Tokenizer}' has no {missing} (write one with 'srt tokenizer train').");
            if (InitFrom is not null && !File.Exists(InitFrom))
                return ValidationResult.Error($"option '--init-from': the model file '{InitFrom}' does not exist.");
            if (Resume && Checkpoint is null)
                return ValidationResult.Error("option '--resume' needs '--checkpoint' (the checkpoint file to resume from).");
            if (!(Ewc >= 0) || double.IsInfinity(Ewc))
                return ValidationResult.Error($"option '--ewc' must be a non-negative number; got {Ewc}.");
            if (Ewc > 0 && InitFrom is null)
                return ValidationResult.Error("option '--ewc' needs '--init-from' (the pre-trained model whose weights it keeps close).");
            if (Ewc > 0 && EwcInteractions.Length == 0)
                return ValidationResult.Error("option '--ewc' needs '--ewc-interactions' (the pre-training data its Fisher estimate is computed on).");
            if (EwcItems.Length > 0 && EwcItems.Length != EwcInteractions.Length)
                return ValidationResult.Error($"option '--ewc-items' needs one file per '--ewc-interactions', in the same order, or none; got {EwcItems.Length} for {EwcInteractions.Length}.");
            if (EwcInteractions.Length > 0 && Ewc == 0)
                return ValidationResult.Error("option '--ewc-interactions' is read only with '--ewc' (give its strength, for example --ewc 100).");
            try
            {
                var check = ToTrainerOptions(loadTokenizer: false);
                check.EwcLambda = 0; // its data is loaded in Execute; the rules that need it are checked above
                _ = new SrtTrainer(check); // the library's own checks, with its messages
            }
            catch (ArgumentException e)
            {
                if (e.ParamName is null || !_optionOfField.TryGetValue(e.ParamName, out var option)) return ValidationResult.Error(e.Message);
                return ValidationResult.Error($"option '{option}': {e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal)}");
            }
            return ValidationResult.Success();
        }
    }

    private static string DefaultRepresentation => RepresentationName(_defaults.ItemRepresentation);

    private static string DefaultPreset => _defaults.Preset;

    private static string DefaultNegatives => _defaults.Negatives == 0 ? "all" : Invariant(_defaults.Negatives);

    private static string DefaultNegativeSharing => _defaults.NegativeSharing == Training.NegativeSharing.PerSequence ? "per-sequence" : "batch";

    private static string DefaultRepeatBias => _defaults.LearnRepeatBias ? "on" : "off";

    private static double DefaultDropout => _defaults.Dropout;

    private static double DefaultTemperature => _defaults.Temperature;

    private static double DefaultLearningRate => _defaults.LearningRate;

    private static double DefaultWeightDecay => _defaults.WeightDecay;

    private static int DefaultBatchSize => _defaults.BatchSize;

    private static int DefaultStageEpochs => _defaults.StageEpochs;

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var sources = settings.ToSourceLoaderOptions();
        var loadOptions = sources[0].Value;
        var options = settings.ToTrainerOptions();
        var progress = streams.Error;
        if (settings.ToEwcLoaderOptions() is { } ewcLoad)
        {
            options.EwcData = DataSettings.Load(ewcLoad);
            progress.WriteLine($"EWC data: {options.EwcData.UserCount} users, {options.EwcData.Catalog.Count} items, {options.EwcData.InteractionCount} interactions.");
        }
        var trainer = new SrtTrainer(options, line => { if (!line.StartsWith("epoch ", StringComparison.Ordinal)) progress.WriteLine(line); });

        var data = DataSettings.Load(sources);
        foreach (var note in data.Report.Notes) progress.WriteLine(note);
        if (sources.Count > 1)
            progress.WriteLine($"Training on {sources.Count} data sets at once: {string.Join(", ", sources.Select(s => s.Key))} (ids are NAME{InteractionSequences.SourceSeparator}id).");
        var split = UserSplits.LeaveOneOut(data);
        progress.WriteLine($"{data.UserCount} users, {data.Catalog.Count} items, {data.InteractionCount} interactions; " +
                            $"{split.Test.Count} test users, {split.UsersNotEvaluated} too short to evaluate.");
        if (split.Test.Count == 0)
            throw new InvalidOperationException("No user has 3 or more interactions, so the leave-one-out split has nothing to validate or test.");

        // The shape trained: a fine-tune's is the pre-trained model's, which the size options need not name.
        var flops = SrtFlops.ForTrainingWithShape(options, split.Train, out var shape);
        SrtRunsRecorder? recorder = null;
        if (settings.Runs is { } runsPath)
        {
            var datasetName = settings.DatasetName ?? (sources.Count > 1 ? string.Join('+', sources.Select(s => s.Key)) : DefaultDatasetName(loadOptions.InteractionsPath));
            recorder = new SrtRunsRecorder(runsPath, settings.RunName?.Trim() ?? DefaultRunName(datasetName, options, shape), datasetName, options, split.Train, flops, shape);
        }

        var clock = Stopwatch.StartNew();
        bool interactive = streams.ErrorIsTerminal;
        using var model = EpochProgress.Run(options, () => trainer.Train(split.Train, split.Validation), progress, interactive,
            interactive ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }) : null, recorder);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var metrics = model.Evaluate(split.Test, _ks, maskHistory: false);
        double testSeconds = clock.Elapsed.TotalSeconds;
        if (recorder is not null)
        {
            recorder.RecordTest(metrics);
            progress.WriteLine($"Appended {recorder.RowsWritten} rows to the runs table {Path.GetFullPath(settings.Runs!)}.");
        }
        var modelPath = settings.Model;
        if (modelPath is not null)
        {
            model.Save(modelPath);
            progress.WriteLine($"Saved the model to {Path.GetFullPath(modelPath)}.");
        }
        var summary = model.TrainingSummary!;
        int epochs = summary.Epochs.Count;

        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            foreach (var k in _ks)
            {
                Number(json, $"ndcg@{k}", metrics.Ndcg[k]);
                Number(json, $"hit@{k}", metrics.Hit[k]);
            }
            Number(json, "mrr", metrics.Mrr);
            json.WriteNumber("users", metrics.Cases);
            json.WriteString("ties", "pessimistic");
            json.WriteBoolean("history_masked", false);
            Number(json, "train_seconds", trainSeconds);
            Number(json, "test_seconds", testSeconds);
            json.WriteNumber("epochs", epochs);
            json.WriteNumber("best_epoch", summary.BestEpoch);
            json.WriteString("stop_reason", summary.StopReason);
            Number(json, "seconds_per_epoch", epochs > 0 ? summary.Epochs.Sum(e => e.TrainSeconds + e.ValidationSeconds) / epochs : 0);
            Number(json, "sequences_per_second", summary.SequencesPerSecond);
            Number(json, "ms_per_step", summary.MillisecondsPerStep);
            json.WriteNumber("parameters", model.ParameterCount);
            json.WriteNumber("non_embedding_parameters", model.NonEmbeddingParameterCount);
            WriteFlops(json, flops, summary);
            Number(json, "repeat_bias", model.RepeatBias);
            if (modelPath is not null) json.WriteString("model_path", Path.GetFullPath(modelPath));
            Number(json, "peak_rss_mb", Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0));
            json.WriteStartArray("validation_ndcg@10");
            foreach (var e in summary.Epochs)
            {
                if (double.IsFinite(e.ValidationNdcg10)) json.WriteNumberValue(Math.Round(e.ValidationNdcg10, 6));
                else json.WriteNullValue();
            }
            json.WriteEndArray();
            json.WriteStartArray("train_loss");
            foreach (var e in summary.Epochs) json.WriteNumberValue(Math.Round(e.TrainLoss, 6));
            json.WriteEndArray();
            json.WriteStartObject("data");
            json.WriteString("interactions_path", loadOptions.InteractionsPath);
            if (sources.Count > 1)
            {
                json.WriteStartArray("sources");
                foreach (var (name, source) in sources)
                {
                    json.WriteStartObject();
                    json.WriteString("name", name);
                    json.WriteString("interactions_path", source.InteractionsPath);
                    if (source.ItemsPath is { } itemsPath) json.WriteString("items_path", itemsPath);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            json.WriteString("format", loadOptions.Format.ToString().ToLowerInvariant());
            json.WriteNumber("users", data.UserCount);
            json.WriteNumber("items", data.Catalog.Count);
            json.WriteNumber("interactions", data.InteractionCount);
            json.WriteNumber("train_interactions", split.Train.InteractionCount);
            json.WriteNumber("validation_cases", split.Validation.Count);
            json.WriteNumber("test_cases", split.Test.Count);
            json.WriteStartArray("text_fields");
            foreach (var f in data.Catalog.TextFields) json.WriteStringValue(f);
            json.WriteEndArray();
            json.WriteStartArray("token_fields");
            foreach (var f in data.Catalog.TokenFields) json.WriteStringValue(f);
            json.WriteEndArray();
            json.WriteEndObject();
            WriteOptions(json, options, shape);
            json.WriteEndObject();
        }
        var text = System.Text.Encoding.UTF8.GetString(stream.ToArray());
        if (settings.MetricsJson is { } path) File.WriteAllText(path, text + Environment.NewLine);
        streams.Output.WriteLine(text);
        return 0;
    }

    /// <summary>
    /// The run's compute (docs/scaling.md, "Accounting"): an epoch cut short counts its share of steps. Achieved FLOP/s is the
    /// training FLOPs over the seconds of training steps (validation excluded), what a matmul peak compares with.
    /// </summary>
    internal static void WriteFlops(Utf8JsonWriter json, SrtTrainingFlops flops, SrtTrainingSummary summary)
    {
        double Epochs(IEnumerable<SrtEpochReport> reports) =>
            reports.Sum(e => flops.StepsPerEpoch == 0 ? 0 : Math.Min(1.0, (double)e.Steps / flops.StepsPerEpoch));
        double atEnd = flops.RunFlops(Epochs(summary.Epochs));
        double atBest = flops.RunFlops(Epochs(summary.Epochs.Where(e => e.Epoch <= summary.BestEpoch)));
        double stepSeconds = summary.Epochs.Sum(e => e.TrainSeconds);
        json.WriteStartObject("flops");
        Scientific(json, "per_step", flops.FlopsPerStep);
        Scientific(json, "per_epoch", flops.FlopsPerEpoch);
        Scientific(json, "best_epoch", atBest);
        Scientific(json, "end", atEnd);
        Scientific(json, "catalog_encoding", flops.CatalogEncodingFlops);
        Scientific(json, "scoring_per_user", flops.ScoringFlopsPerUser);
        json.WriteNumber("steps_per_epoch", flops.StepsPerEpoch);
        json.WriteNumber("positions_per_epoch", flops.PositionsPerEpoch);
        Number(json, "step_seconds", stepSeconds);
        json.WriteEndObject();
        Number(json, "achieved_gflops_per_second", stepSeconds > 0 ? atEnd / stepSeconds / 1e9 : double.NaN);
    }

    /// <summary>A large count with 4 significant digits (FLOPs exceed what Math.Round to 6 decimals is for).</summary>
    private static void Scientific(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value)) json.WriteNumber(name, double.Parse(value.ToString("G4", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
        else json.WriteNull(name);
    }

    /// <summary>The dataset's default name: the interaction file's folder name (amazon-beauty for ../shared/data/amazon-beauty/sequences.txt).</summary>
    internal static string DefaultDatasetName(string interactionsPath)
    {
        var folder = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(interactionsPath)));
        return string.IsNullOrEmpty(folder) ? Path.GetFileNameWithoutExtension(interactionsPath) : folder;
    }

    private static string DefaultRunName(string dataset, SrtTrainer.Options o, SrtNetworkShape shape)
    {
        return string.Create(CultureInfo.InvariantCulture,
            $"{dataset}-{shape.Layers}-{shape.Heads}-{shape.Dimension}-x{(o.Negatives == 0 ? "all" : o.Negatives.ToString(CultureInfo.InvariantCulture))}-s{o.Seed ?? SrtTrainer.Options.DefaultSeed}-{DateTime.UtcNow:yyyyMMddTHHmmss}");
    }

    /// <summary>The options, with the size of the network trained (<paramref name="shape"/>).</summary>
    private static void WriteOptions(Utf8JsonWriter json, SrtTrainer.Options o, SrtNetworkShape shape)
    {
        json.WriteStartObject("options");
        json.WriteString("item_representation", o.ItemRepresentation.ToString());
        json.WriteString("preset", o.Preset);
        json.WriteNumber("layers", shape.Layers);
        json.WriteNumber("heads", shape.Heads);
        json.WriteNumber("dimension", shape.Dimension);
        json.WriteNumber("max_length", o.MaxLength);
        Number(json, "dropout", o.Dropout);
        json.WriteNumber("negatives", o.Negatives);
        json.WriteString("negative_sharing", o.NegativeSharing.ToString());
        Number(json, "popularity_exponent", o.PopularityExponent);
        json.WriteBoolean("logq_correction", o.LogQCorrection);
        Number(json, "temperature", o.Temperature);
        json.WriteBoolean("cosine_similarity", o.CosineSimilarity);
        json.WriteBoolean("learn_repeat_bias", o.LearnRepeatBias);
        json.WriteNumber("planned_epochs", o.Epochs);
        json.WriteNumber("batch_size", o.BatchSize);
        Number(json, "learning_rate", o.LearningRate);
        Number(json, "weight_decay", o.WeightDecay);
        Number(json, "warmup_fraction", o.WarmupFraction);
        Number(json, "gradient_clip_norm", o.GradientClipNorm);
        json.WriteNumber("early_stopping_patience", o.EarlyStoppingPatience);
        Number(json, "max_minutes", o.MaxMinutes);
        json.WriteNumber("text_field_max_tokens", o.TextFieldMaxTokens);
        json.WriteNumber("token_field_max_tokens", o.TokenFieldMaxTokens);
        json.WriteNumber("seed", o.Seed ?? SrtTrainer.Options.DefaultSeed);
        json.WriteString("device", o.Device);
        json.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value)) json.WriteNumber(name, Math.Round(value, 6));
        else json.WriteNull(name);
    }
}
