using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt quickstart</c>: the first run. Generates the embedded default data (seeded), splits it leave-one-out,
/// trains a small SRT model, evaluates it next to the popularity baseline (same protocol), saves the model file,
/// and shows one user's recent history and top-10 recommendations with titles. Progress is a Spectre.Console bar
/// on a terminal and plain lines when the output is redirected (or captured, as in tests).
/// </summary>
internal sealed class QuickstartCommand(CliStreams streams) : Command<QuickstartCommand.Settings>
{
    private static readonly int[] _ks = [5, 10, 20];

    /// <summary>The options of <c>srt quickstart</c>: the size of the data and of the model.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--users <N>")]
        [Description("Users to generate.")]
        [DefaultValue(5000)]
        public int Users { get; set; }

        [CommandOption("--items <N>")]
        [Description("Items to generate.")]
        [DefaultValue(2000)]
        public int Items { get; set; }

        [CommandOption("--epochs <N>")]
        [Description("Training epochs.")]
        [DefaultValue(15)]
        public int Epochs { get; set; }

        [CommandOption("--dimension <N>")]
        [Description("Model width d.")]
        [DefaultValue(64)]
        public int Dimension { get; set; }

        [CommandOption("--layers <N>")]
        [Description("Transformer layers.")]
        [DefaultValue(2)]
        public int Layers { get; set; }

        [CommandOption("--seed <S>")]
        [Description("Seed of the data and of training.")]
        [DefaultValue(42)]
        public int Seed { get; set; }

        [CommandOption("--model <PATH>")]
        [Description("Where to save the model file (default: quickstart-model.zip in --out, or in the current folder).")]
        public string? Model { get; set; }

        [CommandOption("--out <DIR>")]
        [Description("Folder for the model file and quickstart-metrics.json (created when missing).")]
        public string? Out { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate() =>
            AtLeast("--users", Users, 10) ?? AtLeast("--items", Items, 20) ?? AtLeast("--epochs", Epochs, 1)
            ?? AtLeast("--dimension", Dimension, 2) ?? AtLeast("--layers", Layers, 1) ?? AtLeast("--seed", Seed, 0)
            ?? ValidationResult.Success();

        private static ValidationResult? AtLeast(string option, int value, int minimum) =>
            value >= minimum ? null : ValidationResult.Error($"option '{option}' must be at least {minimum}; got {value}.");
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        int users = settings.Users, items = settings.Items, epochs = settings.Epochs;
        int dimension = settings.Dimension, layers = settings.Layers, seed = settings.Seed;
        var outDir = settings.Out;
        var modelPath = Path.GetFullPath(settings.Model ?? Path.Combine(outDir ?? ".", "quickstart-model.zip"));
        var output = streams.Output;
        bool fancy = streams.OutputIsTerminal;
        var total = Stopwatch.StartNew();

        // 1. Data: the embedded generator, seeded, so every run sees the same set.
        SyntheticDataGenerator generator;
        try
        {
            generator = new SyntheticDataGenerator(new SyntheticDataOptions { Seed = (ulong)seed, UserCount = users, ItemCount = items });
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message);
        }
        var (catalog, sequences) = generator.Generate();
        var split = UserSplits.LeaveOneOut(sequences);
        output.WriteLine($"SRT quickstart: synthetic shop data (seed {seed}): {sequences.UserCount:N0} users, {catalog.Count:N0} items, " +
                         $"{sequences.InteractionCount:N0} interactions; items have a title, a brand and categories.");
        output.WriteLine($"Split leave-one-out: last item of each user = test, second to last = validation; {split.Test.Count:N0} test users.");
        if (split.Test.Count == 0) throw new InvalidOperationException("No user has 3 or more interactions: nothing to evaluate.");

        // 2. Train a small, fast model: the cpu-small size with a short, brisk schedule (higher peak learning rate, lighter
        // dropout and 500 negatives than the default recipe, which is tuned for a 40-minute run on Beauty), validation each epoch, best epoch kept.
        var options = new SrtTrainer.Options
        {
            Dimension = dimension, Layers = layers, Heads = dimension % 2 == 0 ? 2 : 1, Epochs = epochs, Seed = seed,
            BatchSize = 128, Negatives = Math.Min(500, Math.Max(1, catalog.Count - 1)), LearningRate = 3e-3, Dropout = 0.2,
            EarlyStoppingPatience = 0, Device = "auto",
        };
        output.WriteLine($"Training SRT: d={dimension}, {layers} layers, {epochs} epochs, {options.Negatives} sampled negatives, items embedded from their text ...");
        var model = EpochProgress.Run(options, () => new SrtTrainer(options).Train(split.Train, split.Validation), output, fancy);
        using var _ = model;
        var summary = model.TrainingSummary!;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Trained in {summary.TotalSeconds:F1} s; kept epoch {summary.BestEpoch} (best validation NDCG@10); {model.ParameterCount:N0} parameters."));

        // 3. Evaluate the test split, SRT and the popularity baseline, same protocol.
        var srt = model.Evaluate(split.Test, _ks, maskHistory: false);
        var popularity = PopularityRecommender.Fit(split.Train);
        var baseline = CatalogRankingEvaluator.Evaluate(split.Test, popularity.Score, maskHistory: false, ks: _ks);
        output.WriteLine();
        output.WriteLine($"Test ({srt.Cases:N0} users; full ranking over all {catalog.Count:N0} items; history not masked; ties pessimistic):");
        output.WriteLine($"  {"model",-12} {"NDCG@10",8} {"HIT@10",8} {"MRR",8}");
        output.WriteLine(Row("SRT", srt));
        output.WriteLine(Row("popularity", baseline));

        // 4. Save the model file.
        model.Save(modelPath);
        output.WriteLine();
        output.WriteLine($"Saved the model to {modelPath} ({new FileInfo(modelPath).Length / 1024.0 / 1024.0:F1} MB); load it with SrtModel.Load.");
        if (outDir is not null) WriteMetrics(Path.Combine(outDir, "quickstart-metrics.json"), srt, baseline, summary, modelPath, total.Elapsed.TotalSeconds);

        // 5. A sample user: their last few items, then what the model recommends next (items they have not had).
        int user = split.Test.Users[0];
        var history = sequences.GetSequence(user);
        output.WriteLine();
        output.WriteLine($"User {sequences.UserIds[user]} recently bought (oldest first):");
        for (int k = Math.Max(0, history.Length - 5); k < history.Length; k++) output.WriteLine($"      {Describe(catalog, history[k])}");
        output.WriteLine("Top-10 recommendations:");
        int rank = 1;
        foreach (var (item, score) in model.Recommend(history, 10, excludeHistory: true))
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {rank++,2}. {Describe(catalog, item)}  (score {score:F3})"));
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Done in {total.Elapsed.TotalSeconds:F0} s. Next: srt train --interactions YOUR_FILE --items YOUR_ITEMS --model model.zip"));
        return 0;
    }

    private static string Describe(ItemCatalog catalog, int item)
    {
        int brand = IndexOf(catalog.TextFields, SyntheticDataGenerator.BrandField);
        var title = catalog.GetTitle(item);
        return brand >= 0 && catalog.GetText(item, brand).Length > 0 ? $"{title} [{catalog.GetText(item, brand)}]" : title;
    }

    private static int IndexOf(IReadOnlyList<string> fields, string name)
    {
        for (int i = 0; i < fields.Count; i++) if (fields[i] == name) return i;
        return -1;
    }

    private static string Row(string name, NextItemMetrics m) =>
        string.Create(CultureInfo.InvariantCulture, $"  {name,-12} {m.Ndcg[10],8:F4} {m.Hit[10],8:F4} {m.Mrr,8:F4}");

    private static void WriteMetrics(string path, NextItemMetrics srt, NextItemMetrics baseline, SrtTrainingSummary summary, string modelPath, double seconds)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        object Metrics(NextItemMetrics m) => new Dictionary<string, double>
        {
            ["ndcg@5"] = m.Ndcg[5], ["hit@5"] = m.Hit[5], ["ndcg@10"] = m.Ndcg[10], ["hit@10"] = m.Hit[10],
            ["ndcg@20"] = m.Ndcg[20], ["hit@20"] = m.Hit[20], ["mrr"] = m.Mrr,
        };
        var document = new Dictionary<string, object>
        {
            ["srt"] = Metrics(srt), ["popularity"] = Metrics(baseline), ["users"] = srt.Cases, ["ties"] = "pessimistic",
            ["history_masked"] = false, ["best_epoch"] = summary.BestEpoch, ["train_seconds"] = summary.TotalSeconds,
            ["total_seconds"] = seconds, ["model_path"] = modelPath,
        };
        File.WriteAllText(path, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }) + Environment.NewLine);
    }
}
