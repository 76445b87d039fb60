using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt evaluate</c>: loads a saved SRT model (or fits a baseline), splits the interactions leave-one-out exactly as
/// <c>srt train</c> does, evaluates the test split and prints one JSON object. With the data options of the
/// <c>srt train</c> run that saved the model, the full-ranking metrics are the ones that run reported.
/// </summary>
internal sealed class EvaluateCommand(TextWriter? progress = null) : ICliCommand
{
    private static readonly SrtEvaluationOptions _defaults = new();
    private readonly TextWriter _progress = progress ?? Console.Error;

    public string Name => "evaluate";

    public string Description => "Evaluate a saved model (or a baseline) on the leave-one-out test split; print metrics as JSON.";

    public IReadOnlyList<CliOption> Options { get; } =
    [
        .. DataArguments.Options,
        new("model", "The SRT model file to evaluate (srt train --model); ranking is over its catalog, items are matched by id.", "M.zip"),
        new("baseline", "Evaluate a baseline instead of a model: popularity (item counts of the training split).", "NAME", Choices: ["popularity"]),
        new("protocol", $"Rank the target against the whole catalog, or against N uniformly sampled negatives per case ('sampled' alone: {_defaults.SampledNegatives}).",
            "full|sampled:N", Default: "full"),
        new("mask-history", "Leave the user's history items (other than the target) out of the candidates.", null),
        new("ks", "Cut-offs K of NDCG@K and HIT@K.", "K,K,...", Default: string.Join(',', _defaults.Ks)),
        new("seed", "Seed of the negative sampling.", "S", Default: _defaults.Seed.ToString(CultureInfo.InvariantCulture)),
        new("device", "Torch device for the model: auto, cpu, cuda or cuda:N.", "DEVICE", Default: "auto"),
        new("metrics-json", "Also write the JSON metrics to this file.", "OUT.json"),
    ];

    public int Execute(CliArguments arguments, TextWriter output)
    {
        var loadOptions = DataArguments.Parse(arguments);
        var modelPath = arguments.Get("model");
        var baseline = arguments.Get("baseline");
        if ((modelPath is null) == (baseline is null))
            throw new CliUsageException("give either --model M.zip (a saved SRT model) or --baseline popularity.");
        var options = new SrtEvaluationOptions
        {
            Ks = ParseKs(arguments),
            MaskHistory = arguments.Has("mask-history"),
            Seed = arguments.GetInt("seed", _defaults.Seed),
        };
        ParseProtocol(arguments.Get("protocol")!, options);
        var protocol = options.Protocol == RankingProtocol.SampledNegatives ? $"sampled:{options.SampledNegatives}" : "full";

        using var model = modelPath is null ? null : LoadModel(modelPath, arguments.Get("device")!);
        var data = DataArguments.Load(loadOptions);
        foreach (var note in data.Report.Notes) _progress.WriteLine(note);
        long droppedUnknown = 0;
        var sequences = model is null ? data : OnModelCatalog(data, model.Catalog, loadOptions, out droppedUnknown);
        var split = UserSplits.LeaveOneOut(sequences);
        if (split.Test.Count == 0)
            throw new InvalidOperationException("No user has 3 or more interactions, so the leave-one-out split has no test case.");
        IItemScorer scorer = model is not null ? model : PopularityRecommender.Fit(split.Train);
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
            if (model is not null) json.WriteString("model_path", Path.GetFullPath(modelPath!));
            else json.WriteString("baseline", baseline);
            json.WriteString("interactions_path", loadOptions.InteractionsPath);
            json.WriteNumber("items", scorer.Catalog.Count);
            json.WriteNumber("users_not_evaluated", split.UsersNotEvaluated);
            if (droppedUnknown > 0) json.WriteNumber("dropped_unknown_item_interactions", droppedUnknown);
            json.WriteEndObject();
        }
        var text = System.Text.Encoding.UTF8.GetString(stream.ToArray());
        if (arguments.Get("metrics-json") is { } path) File.WriteAllText(path, text + Environment.NewLine);
        output.WriteLine(text);
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

    private static int[] ParseKs(CliArguments arguments)
    {
        var ks = arguments.GetList("ks") ?? [];
        return ks.Select(k => int.TryParse(k, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 1
            ? v : throw new CliUsageException($"option '--ks' needs positive integers separated by commas; got '{arguments.Get("ks")}'.")).ToArray();
    }

    private static void ParseProtocol(string value, SrtEvaluationOptions options)
    {
        if (value == "full") return;
        options.Protocol = RankingProtocol.SampledNegatives;
        if (value == "sampled") return;
        if (value.StartsWith("sampled:", StringComparison.Ordinal)
            && int.TryParse(value["sampled:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1)
        {
            options.SampledNegatives = n;
            return;
        }
        throw new CliUsageException($"option '--protocol' must be 'full', 'sampled' or 'sampled:N' with N at least 1; got '{value}'.");
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
