using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt evaluate</c>: loads a saved SRT model (or fits a baseline), splits the interactions leave-one-out exactly as
/// <c>srt train</c> does, evaluates the test split and prints one JSON object. With the data options of the
/// <c>srt train</c> run that saved the model, the full-ranking metrics are the ones that run reported.
/// </summary>
internal sealed class EvaluateCommand(CliStreams streams) : Command<EvaluateCommand.Settings>
{
    private static readonly SrtEvaluationOptions _defaults = new();
    private readonly TextWriter _progress = streams.Error;

    /// <summary>The options of <c>srt evaluate</c>: the data options, what to evaluate and how.</summary>
    public sealed class Settings : DataSettings
    {
        [CommandOption("--model <M.zip>")]
        [Description("The SRT model file to evaluate (srt train --model); ranking is over its catalog, items are matched by id.")]
        public string? Model { get; set; }

        [CommandOption("--catalog <auto|model|data>")]
        [Description("Rank over the model's catalog (items matched by id), or over the data's own catalog read through the model's text featurizer (items the model never saw: zero-shot; text models only). auto: the model's when it holds every item of the data with the same text (or with --unknown-items drop), else the data's.")]
        [DefaultValue("auto")]
        public string Catalog { get; set; } = "auto";

        [CommandOption("--scorer <sequence|last-item>")]
        [Description("How the model scores: sequence (its transformer reads the whole history, as trained) or last-item (cosine similarity of its item vectors to the history's last item: its item encoder alone, which carries over to a catalog it was not trained on).")]
        [DefaultValue("sequence")]
        public string Scorer { get; set; } = "sequence";

        [CommandOption("--baseline <NAME>")]
        [Description("Evaluate a baseline instead of a model: popularity (item counts of the training split).")]
        public string? Baseline { get; set; }

        [CommandOption("--protocol <full|sampled:N>")]
        [ProtocolDescription]
        [DefaultValue("full")]
        public string Protocol { get; set; } = "full";

        [CommandOption("--mask-history")]
        [Description("Leave the user's history items (other than the target) out of the candidates.")]
        public bool MaskHistory { get; set; }

        [CommandOption("--ks <K,K,...>")]
        [Description("Cut-offs K of NDCG@K and HIT@K.")]
        [DefaultFrom(typeof(EvaluateCommand), nameof(DefaultKs))]
        public string Ks { get; set; } = "";

        [CommandOption("--seed <S>")]
        [Description("Seed of the negative sampling.")]
        [DefaultFrom(typeof(EvaluateCommand), nameof(DefaultSeed))]
        public int Seed { get; set; }

        [CommandOption("--device <DEVICE>")]
        [Description("Torch device for the model: auto, cpu, cuda or cuda:N.")]
        [DefaultValue("auto")]
        public string Device { get; set; } = "auto";

        [CommandOption("--metrics-json <OUT.json>")]
        [Description("Also write the JSON metrics to this file.")]
        public string? MetricsJson { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate()
        {
            var data = base.Validate();
            if (!data.Successful) return data;
            if ((Model is null) == (Baseline is null))
                return ValidationResult.Error("give either --model M.zip (a saved SRT model) or --baseline popularity.");
            if (Baseline is not null && Choice("--baseline", Baseline, ["popularity"]) is { } baseline) return baseline;
            if (Choice("--catalog", Catalog, ["auto", "model", "data"]) is { } catalog) return catalog;
            if (Choice("--scorer", Scorer, ["sequence", "last-item"]) is { } scorer) return scorer;
            if (Baseline is not null && Scorer != "sequence")
                return ValidationResult.Error("option '--scorer' chooses how a model scores; give --model with it, not --baseline.");
            if (Baseline is not null && Catalog != "auto")
                return ValidationResult.Error("option '--catalog' chooses the catalog a model ranks over; a baseline ranks over the data's.");
            if (ParseKs(Ks) is null)
                return ValidationResult.Error($"option '--ks' needs positive integers separated by commas; got '{Ks}'.");
            if (!TryParseProtocol(Protocol, new SrtEvaluationOptions()))
                return ValidationResult.Error($"option '--protocol' must be 'full', 'sampled' or 'sampled:N' with N at least 1; got '{Protocol}'.");
            return ValidationResult.Success();
        }

        /// <summary>The evaluation options these settings ask for.</summary>
        public SrtEvaluationOptions ToEvaluationOptions()
        {
            var options = new SrtEvaluationOptions { Ks = ParseKs(Ks)!, MaskHistory = MaskHistory, Seed = Seed };
            TryParseProtocol(Protocol, options);
            return options;
        }
    }

    private static string DefaultKs => string.Join(',', _defaults.Ks);

    private static int DefaultSeed => _defaults.Seed;

    /// <summary>The description of <c>--protocol</c>, with the library's default number of sampled negatives.</summary>
    [AttributeUsage(AttributeTargets.Property)]
    private sealed class ProtocolDescriptionAttribute : DescriptionAttribute
    {
        public override string Description =>
            $"Rank the target against the whole catalog, or against N uniformly sampled negatives per case ('sampled' alone: {_defaults.SampledNegatives}).";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var loadOptions = settings.ToLoaderOptions();
        var modelPath = settings.Model;
        var baseline = settings.Baseline;
        var options = settings.ToEvaluationOptions();
        var protocol = options.Protocol == RankingProtocol.SampledNegatives ? $"sampled:{options.SampledNegatives}" : "full";

        using var loaded = modelPath is null ? null : LoadModel(modelPath, settings.Device);
        var data = DataSettings.Load(loadOptions);
        foreach (var note in data.Report.Notes) _progress.WriteLine(note);
        long droppedUnknown = 0;
        using var rebound = loaded is not null && RanksDataCatalog(settings.Catalog, loaded, data, loadOptions.UnknownItems) ? OnDataCatalog(loaded, data.Catalog) : null;
        var model = rebound ?? loaded;
        var sequences = model is null || rebound is not null ? data : OnModelCatalog(data, model.Catalog, loadOptions, out droppedUnknown);
        var split = UserSplits.LeaveOneOut(sequences);
        if (split.Test.Count == 0)
            throw new InvalidOperationException("No user has 3 or more interactions, so the leave-one-out split has no test case.");
        IItemScorer scorer = model is null ? PopularityRecommender.Fit(split.Train)
            : settings.Scorer == "last-item" ? new ItemSimilarityScorer(model) : model;
        _progress.WriteLine($"Evaluating {(model is not null ? Path.GetFullPath(modelPath!) : baseline)} on {split.Test.Count} test users " +
                            $"({protocol}, history {(options.MaskHistory ? "" : "not ")}masked) over {scorer.Catalog.Count} items.");

        var clock = Stopwatch.StartNew();
        var metrics = NextItemEvaluator.Evaluate(scorer, split.Test, options);
        double seconds = clock.Elapsed.TotalSeconds;

        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            foreach (var k in metrics.Ks)
            {
                Number(json, $"ndcg@{k}", metrics.Ndcg[k]);
                Number(json, $"hit@{k}", metrics.Hit[k]);
            }
            Number(json, "mrr", metrics.Mrr);
            json.WriteNumber("users", metrics.Cases);
            json.WriteString("protocol", protocol);
            if (options.Protocol == RankingProtocol.SampledNegatives)
            {
                json.WriteNumber("negatives", options.SampledNegatives);
                json.WriteNumber("seed", options.Seed);
            }
            json.WriteBoolean("history_masked", options.MaskHistory);
            json.WriteString("ties", "pessimistic");
            Number(json, "seconds", seconds);
            if (model is not null)
            {
                json.WriteString("model_path", Path.GetFullPath(modelPath!));
                json.WriteString("catalog", rebound is not null ? "data" : "model");
                json.WriteString("scorer", settings.Scorer);
            }
            else json.WriteString("baseline", baseline);
            json.WriteString("interactions_path", loadOptions.InteractionsPath);
            json.WriteNumber("items", scorer.Catalog.Count);
            json.WriteNumber("users_not_evaluated", split.UsersNotEvaluated);
            if (droppedUnknown > 0) json.WriteNumber("dropped_unknown_item_interactions", droppedUnknown);
            json.WriteEndObject();
        }
        var text = System.Text.Encoding.UTF8.GetString(stream.ToArray());
        if (settings.MetricsJson is { } path) File.WriteAllText(path, text + Environment.NewLine);
        streams.Output.WriteLine(text);
        return 0;
    }

    private static SrtModel LoadModel(string path, string device)
    {
        try
        {
            return SrtModel.Load(path, device);
        }
        catch (InvalidDataException e)
        {
            throw new IOException(e.Message, e); // the tool reports read errors as one line (exit code 1)
        }
    }

    /// <summary>
    /// Whether the model ranks over the data's own catalog: <c>--catalog data</c>; with <c>auto</c>, when the data has the
    /// item text the model reads and its catalog is not the model's: some item id is not in the model's catalog, or an
    /// id that is has other text there (two catalogs numbered alike). With <c>--unknown-items drop</c>, <c>auto</c> keeps
    /// the model's catalog and drops the data's unknown items, as that option asks.
    /// </summary>
    private static bool RanksDataCatalog(string choice, SrtModel model, InteractionSequences data, UnknownItemPolicy unknownItems)
    {
        if (choice == "data") return true;
        if (choice == "model" || unknownItems == UnknownItemPolicy.Drop) return false;
        var fields = model.Featurizer.Fields;
        if (!fields.All(f => data.Catalog.TextFields.Contains(f) || data.Catalog.TokenFields.Contains(f))) return false;
        var texts = fields.Select(f => (Data: IndexOf(data.Catalog.TextFields, f), Model: IndexOf(model.Catalog.TextFields, f)))
            .Where(p => p.Data >= 0 && p.Model >= 0).ToArray();
        for (int i = 0; i < data.Catalog.Count; i++)
        {
            if (!model.Catalog.TryGetIndex(data.Catalog.GetId(i), out int m)) return true;
            foreach (var (d, t) in texts)
                if (!string.Equals(data.Catalog.GetText(i, d), model.Catalog.GetText(m, t), StringComparison.Ordinal)) return true;
        }
        return false;
    }

    private static int IndexOf(IReadOnlyList<string> fields, string field)
    {
        for (int k = 0; k < fields.Count; k++)
            if (fields[k] == field) return k;
        return -1;
    }

    /// <summary>The model bound to the data's catalog (item vectors computed from the data's item text, no training).</summary>
    private SrtModel OnDataCatalog(SrtModel model, ItemCatalog catalog)
    {
        try
        {
            var bound = model.WithCatalog(catalog);
            _progress.WriteLine($"Ranking over the data's own catalog of {catalog.Count} items, read through the model's text featurizer " +
                                $"({string.Join(", ", model.Featurizer.Fields)}); the model was trained on a catalog of {model.Catalog.Count} items.");
            return bound;
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException)
        {
            throw new InvalidOperationException($"--catalog data: {e.Message}", e);
        }
    }

    /// <summary>The cut-offs of a <c>--ks</c> value; null when one is not a positive integer.</summary>
    private static int[]? ParseKs(string value)
    {
        var ks = DataSettings.List(value) ?? [];
        var parsed = ks.Select(k => int.TryParse(k, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 1 ? v : 0).ToArray();
        return parsed.Length > 0 && parsed.All(k => k >= 1) ? parsed : null;
    }

    /// <summary>Reads <c>full</c>, <c>sampled</c> or <c>sampled:N</c> into <paramref name="options"/>; false when it is none of them.</summary>
    private static bool TryParseProtocol(string value, SrtEvaluationOptions options)
    {
        if (value == "full") return true;
        options.Protocol = RankingProtocol.SampledNegatives;
        if (value == "sampled") return true;
        if (value.StartsWith("sampled:", StringComparison.Ordinal)
            && int.TryParse(value["sampled:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1)
        {
            options.SampledNegatives = n;
            return true;
        }
        return false;
    }

    /// <summary>
    /// The interactions re-indexed to the model's catalog by item id (the ranking is over the items the model was saved
    /// with). Items the model lacks are an error, or dropped with <c>--unknown-items drop</c>.
    /// </summary>
    private InteractionSequences OnModelCatalog(InteractionSequences data, ItemCatalog catalog, InteractionFileLoader.Options load, out long dropped)
    {
        dropped = 0;
        var map = new int[data.Catalog.Count];
        int missing = 0;
        for (int i = 0; i < map.Length; i++)
        {
            if (catalog.TryGetIndex(data.Catalog.GetId(i), out map[i])) continue;
            map[i] = -1;
            missing++;
        }
        if (missing > 0 || catalog.Count != data.Catalog.Count)
            _progress.WriteLine($"note: the data's catalog has {data.Catalog.Count} items, {missing} of them not in the model's; ranking is over the model's {catalog.Count} items.");
        var users = new List<string>(data.UserCount);
        var offsets = new List<long>(data.UserCount + 1) { 0 };
        var items = new List<int>((int)data.InteractionCount);
        for (int u = 0; u < data.UserCount; u++)
        {
            foreach (var i in data.GetSequence(u))
            {
                if (map[i] >= 0) { items.Add(map[i]); continue; }
                if (load.UnknownItems != UnknownItemPolicy.Drop)
                    throw new SrtDataException(load.InteractionsPath, null, null,
                        $"item '{data.Catalog.GetId(i)}' (user '{data.UserIds[u]}') is not in the model's catalog ({catalog.Count} items); evaluate on " +
                        "data over the items the model was trained with, or pass --unknown-items drop to leave such interactions out.");
                dropped++;
            }
            if (items.Count == offsets[^1]) continue; // every interaction of this user was dropped
            users.Add(data.UserIds[u]);
            offsets.Add(items.Count);
        }
        if (dropped > 0) _progress.WriteLine($"Dropped {dropped} interactions with items missing from the model's catalog.");
        return new InteractionSequences(catalog, users.ToArray(), offsets.ToArray(), items.ToArray(), data.Report);
    }

    private static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value)) json.WriteNumber(name, Math.Round(value, 6));
        else json.WriteNull(name);
    }
}
