using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Training;
using Spectre.Console;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt train</c>: loads a data set, splits it leave-one-out, trains SRT on the training part (validating on the
/// validation part), evaluates the test part with full ranking over the whole catalog, and prints one JSON object.
/// Progress lines go to the error stream, so the standard output is only the JSON.
/// </summary>
internal sealed class TrainCommand(TextWriter? progress = null, bool? interactive = null) : ICliCommand
{
    private static readonly string[] _representations = ["text", "id", "text-and-id"];
    private static readonly int[] _ks = [5, 10, 20];
    // The command's defaults are the library's default recipe (docs/training.md), never a copy of it.
    private static readonly SrtTrainer.Options _defaults = new();
    private static string Invariant(double value) => value.ToString(CultureInfo.InvariantCulture);
    private static string RepresentationName(ItemRepresentation r) => r switch
    {
        ItemRepresentation.Id => "id",
        ItemRepresentation.TextAndId => "text-and-id",
        _ => "text",
    };
    private readonly TextWriter _progress = progress ?? Console.Error;
    private readonly bool? _interactive = interactive;

    public string Name => "train";

    public string Description => "Train SRT on a leave-one-out split, evaluate the test split (full ranking), print metrics as JSON.";

    public IReadOnlyList<CliOption> Options { get; } =
    [
        .. DataArguments.Options,
        new("representation", "How items become vectors: text (SRT), id (SASRec-style) or text-and-id.", "KIND", Default: RepresentationName(_defaults.ItemRepresentation), Choices: _representations),
        new("preset", $"Model size: {string.Join(", ", SrtPresets.All.Keys)}.", "NAME", Default: _defaults.Preset),
        new("layers", "Transformer layers (default: the preset's).", "N"),
        new("heads", "Attention heads (default: the preset's).", "N"),
        new("dimension", "Model width d (default: the preset's).", "N"),
        new("negatives", "Sampled negatives per step, or 'all' for the full softmax.", "N|all", Default: _defaults.Negatives == 0 ? "all" : Invariant(_defaults.Negatives)),
        new("negative-sharing", "Negatives shared by the whole batch, or drawn per sequence (the paper's way).", "HOW", Default: _defaults.NegativeSharing == NegativeSharing.PerSequence ? "per-sequence" : "batch", Choices: ["batch", "per-sequence"]),
        new("repeat-bias", "Learn a score offset for items the history already holds (how often users take an item again).", "on|off", Default: _defaults.LearnRepeatBias ? "on" : "off", Choices: ["on", "off"]),
        new("dropout", "Dropout on embeddings, attention weights and block outputs.", "P", Default: Invariant(_defaults.Dropout)),
        new("temperature", "Softmax temperature τ.", "T", Default: Invariant(_defaults.Temperature)),
        new("learning-rate", "Peak learning rate of the one-cycle schedule.", "LR", Default: Invariant(_defaults.LearningRate)),
        new("weight-decay", "AdamW weight decay.", "W", Default: Invariant(_defaults.WeightDecay)),
        new("patience", "Early stopping: validations without improvement (while the learning rate decays) before stopping; 0: off.", "N", Default: Invariant(_defaults.EarlyStoppingPatience)),
        new("epochs", "Training epochs.", "N", Default: Invariant(_defaults.Epochs)),
        new("batch-size", "Sequences per batch.", "N", Default: Invariant(_defaults.BatchSize)),
        new("max-minutes", "Training time budget in minutes (0: none).", "M", Default: Invariant(_defaults.MaxMinutes)),
        new("seed", "Random seed.", "S", Default: Invariant(SrtTrainer.Options.DefaultSeed)),
        new("device", "Torch device: auto, cpu, cuda or cuda:N.", "DEVICE", Default: "auto"),
        new("model", "Save the trained model to this .zip (an SRT model file; load it with SrtModel.Load).", "OUT.zip"),
        new("metrics-json", "Also write the JSON metrics to this file.", "OUT.json"),
    ];

    public int Execute(CliArguments arguments, TextWriter output)
    {
        var loadOptions = DataArguments.Parse(arguments);

        var negatives = arguments.Get("negatives")!;
        var options = new SrtTrainer.Options
        {
            ItemRepresentation = arguments.Get("representation") switch
            {
                "id" => ItemRepresentation.Id,
                "text-and-id" => ItemRepresentation.TextAndId,
                _ => ItemRepresentation.Text,
            },
            Preset = arguments.Get("preset")!,
            Layers = arguments.GetInt("layers", 0),
            Heads = arguments.GetInt("heads", 0),
            Dimension = arguments.GetInt("dimension", 0),
            Negatives = negatives.Equals("all", StringComparison.OrdinalIgnoreCase) ? 0 : arguments.GetInt("negatives", _defaults.Negatives),
            NegativeSharing = arguments.Get("negative-sharing") == "per-sequence" ? NegativeSharing.PerSequence : NegativeSharing.PerBatch,
            LearnRepeatBias = arguments.Get("repeat-bias") == "on",
            Dropout = arguments.GetDouble("dropout", _defaults.Dropout),
            Temperature = arguments.GetDouble("temperature", _defaults.Temperature),
            LearningRate = arguments.GetDouble("learning-rate", _defaults.LearningRate),
            WeightDecay = arguments.GetDouble("weight-decay", _defaults.WeightDecay),
            EarlyStoppingPatience = arguments.GetInt("patience", _defaults.EarlyStoppingPatience),
            Epochs = arguments.GetInt("epochs", _defaults.Epochs),
            BatchSize = arguments.GetInt("batch-size", _defaults.BatchSize),
            MaxMinutes = arguments.GetDouble("max-minutes", _defaults.MaxMinutes),
            Seed = arguments.GetInt("seed", SrtTrainer.Options.DefaultSeed),
            Device = arguments.Get("device")!,
        };
        SrtTrainer trainer;
        try
        {
            trainer = new SrtTrainer(options, line => { if (!line.StartsWith("epoch ", StringComparison.Ordinal)) _progress.WriteLine(line); });
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message);
        }

        var data = DataArguments.Load(loadOptions);
        foreach (var note in data.Report.Notes) _progress.WriteLine(note);
        var split = UserSplits.LeaveOneOut(data);
        _progress.WriteLine($"{data.UserCount} users, {data.Catalog.Count} items, {data.InteractionCount} interactions; " +
                            $"{split.Test.Count} test users, {split.UsersNotEvaluated} too short to evaluate.");
        if (split.Test.Count == 0)
            throw new InvalidOperationException("No user has 3 or more interactions, so the leave-one-out split has nothing to validate or test.");

        var clock = Stopwatch.StartNew();
        bool interactive = _interactive ?? (ReferenceEquals(_progress, Console.Error) && !Console.IsErrorRedirected);
        using var model = EpochProgress.Run(options, () => trainer.Train(split.Train, split.Validation), _progress, interactive,
            interactive ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }) : null);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var metrics = model.Evaluate(split.Test, _ks, maskHistory: false);
        double testSeconds = clock.Elapsed.TotalSeconds;
        var modelPath = arguments.Get("model");
        if (modelPath is not null)
        {
            model.Save(modelPath);
            _progress.WriteLine($"Saved the model to {Path.GetFullPath(modelPath)}.");
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
            WriteOptions(json, options);
            json.WriteEndObject();
        }
        var text = System.Text.Encoding.UTF8.GetString(stream.ToArray());
        if (arguments.Get("metrics-json") is { } path) File.WriteAllText(path, text + Environment.NewLine);
        output.WriteLine(text);
        return 0;
    }

    private static void WriteOptions(Utf8JsonWriter json, SrtTrainer.Options o)
    {
        var preset = SrtPresets.All[o.Preset];
        int layers = o.Layers > 0 ? o.Layers : preset.Layers, heads = o.Heads > 0 ? o.Heads : preset.Heads;
        int dimension = o.Dimension > 0 ? o.Dimension : preset.Dimension;
        json.WriteStartObject("options");
        json.WriteString("item_representation", o.ItemRepresentation.ToString());
        json.WriteString("preset", o.Preset);
        json.WriteNumber("layers", layers);
        json.WriteNumber("heads", heads);
        json.WriteNumber("dimension", dimension);
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
