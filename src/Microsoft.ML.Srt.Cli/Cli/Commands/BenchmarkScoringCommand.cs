using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Scoring;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt benchmark scoring</c>: loads an SRT model file, builds the test histories of a data set (leave-one-out: each user's
/// items but the last) and prints JSON: model file size and load time, single-user top-K latency (SrtModel.Recommend and a
/// PredictionEngine; p50 / p99 / mean), and batched throughput (Transform and SrtModel.Recommend on many histories).
/// </summary>
internal sealed class BenchmarkScoringCommand(CliStreams streams) : Command<BenchmarkScoringCommand.Settings>
{
    /// <summary>The options of <c>srt benchmark scoring</c>: the model, the data options of its test users, and what to time.</summary>
    public sealed class Settings : DataSettings
    {
        [CommandOption("--model <M.zip>", isRequired: true)]
        [Description("The SRT model file (.zip) to load.")]
        public string Model { get; set; } = "";

        [CommandOption("-k <K>")]
        [Description("Recommendations per user, over the whole catalog.")]
        [DefaultValue(10)]
        public int K { get; set; }

        [CommandOption("--users <N>")]
        [Description("Test users to score (first in file order); 0: all.")]
        [DefaultValue(0)]
        public int Users { get; set; }

        [CommandOption("--latency-samples <N>")]
        [Description("Single-user calls timed per method (after 50 untimed), cycling through the users.")]
        [DefaultValue(2000)]
        public int LatencySamples { get; set; }

        [CommandOption("--batch-size <N>")]
        [Description("Histories per forward pass in Transform.")]
        [DefaultValue(256)]
        public int BatchSize { get; set; }

        [CommandOption("--device <DEVICE>")]
        [Description("Torch device: auto, cpu, cuda or cuda:N.")]
        [DefaultValue("auto")]
        public string Device { get; set; } = "auto";

        [CommandOption("--threads <N>")]
        [Description("libtorch intra-op threads (default: libtorch's own choice, usually the core count).")]
        public int? Threads { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate()
        {
            var data = base.Validate();
            if (!data.Successful) return data;
            if (Users < 0) return ValidationResult.Error($"option '--users' must be 0 (all) or positive; got {Users}.");
            return Positive("-k", K) ?? Positive("--latency-samples", LatencySamples) ?? Positive("--batch-size", BatchSize)
                ?? (Threads is { } threads ? Positive("--threads", threads) : null) ?? ValidationResult.Success();
        }

        private static ValidationResult? Positive(string option, int value) =>
            value >= 1 ? null : ValidationResult.Error($"option '{option}' must be at least 1; got {value}.");
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var modelPath = settings.Model;
        int k = settings.K, userLimit = settings.Users, samples = settings.LatencySamples, batchSize = settings.BatchSize;
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"The model file '{modelPath}' does not exist.", modelPath);
        if (settings.Threads is { } threads) TorchSharp.torch.set_num_threads(threads);

        var clock = Stopwatch.StartNew();
        var model = SrtModel.Load(modelPath, settings.Device);
        double loadSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        model.Recommend([0], 1); // builds the cached item vectors
        double vectorsSeconds = clock.Elapsed.TotalSeconds;

        var (histories, skipped) = TestHistories(DataSettings.Load(settings.ToLoaderOptions()), model.Catalog, userLimit);
        if (histories.Count == 0) throw new InvalidOperationException("No test user has a history in the model's catalog (users need at least 3 interactions).");
        var ids = histories.Select(h => h.Select(model.Catalog.GetId).ToArray()).ToList();

        var ml = new MLContext(seed: 1);
        using var transformer = new SrtTransformer(model, new SrtTransformer.Options { TopK = k, ScoringBatchSize = batchSize });
        var engine = ml.Model.CreatePredictionEngine<SrtHistoryInput, SrtRecommendationOutput>(transformer);
        var input = new SrtHistoryInput();
        var recommend = Latencies(samples, i => model.Recommend(histories[i % histories.Count], k));
        var predict = Latencies(samples, i => { input.History = ids[i % ids.Count]; engine.Predict(input); });

        var view = ml.Data.LoadFromEnumerable(ids.Select(h => new SrtHistoryInput { History = h }));
        ReadAll(transformer.Transform(view), Math.Min(ids.Count, 2 * batchSize)); // warm-up
        clock.Restart();
        int rows = ReadAll(transformer.Transform(view), int.MaxValue);
        double transformSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        model.Recommend(histories, k);
        double batchSeconds = clock.Elapsed.TotalSeconds;

        streams.Output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = modelPath,
            ["model_file_mb"] = Math.Round(new FileInfo(modelPath).Length / 1e6, 2),
            ["load_seconds"] = Math.Round(loadSeconds, 3),
            ["catalog_vectors_seconds"] = Math.Round(vectorsSeconds, 3),
            ["catalog_items"] = model.Catalog.Count,
            ["parameters"] = model.ParameterCount,
            ["users"] = histories.Count,
            ["skipped_history_items"] = skipped,
            ["k"] = k,
            ["threads"] = TorchSharp.torch.get_num_threads(),
            ["single_user"] = new Dictionary<string, object> { ["recommend"] = recommend, ["prediction_engine"] = predict },
            ["batched"] = new Dictionary<string, object>
            {
                ["batch_size"] = batchSize,
                ["transform_users_per_second"] = Math.Round(rows / transformSeconds, 0),
                ["recommend_users_per_second"] = Math.Round(histories.Count / batchSeconds, 0),
            },
        }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    /// <summary>Each test user's history (all items but the last) as indices of <paramref name="catalog"/>; ids it lacks are skipped and counted.</summary>
    private static (List<int[]> Histories, long Skipped) TestHistories(InteractionSequences data, ItemCatalog catalog, int limit)
    {
        var test = UserSplits.LeaveOneOut(data).Test;
        var map = new int[data.Catalog.Count];
        for (int i = 0; i < map.Length; i++) map[i] = catalog.TryGetIndex(data.Catalog.GetId(i), out int j) ? j : -1;
        var histories = new List<int[]>();
        long skipped = 0;
        for (int c = 0; c < test.Count && (limit == 0 || histories.Count < limit); c++)
        {
            var history = new List<int>();
            foreach (var item in test.GetHistory(c))
                if (map[item] >= 0) history.Add(map[item]);
                else skipped++;
            if (history.Count > 0) histories.Add(history.ToArray());
        }
        return (histories, skipped);
    }

    /// <summary>Times <paramref name="samples"/> calls after 50 untimed ones: p50, p99 and mean in milliseconds.</summary>
    private static Dictionary<string, object> Latencies(int samples, Action<int> call)
    {
        for (int i = 0; i < 50; i++) call(i);
        var ms = new double[samples];
        for (int i = 0; i < samples; i++)
        {
            long start = Stopwatch.GetTimestamp();
            call(i);
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(ms);
        double Percentile(double p) => ms[Math.Clamp((int)Math.Ceiling(p * samples) - 1, 0, samples - 1)];
        return new Dictionary<string, object>
        {
            ["p50_ms"] = Math.Round(Percentile(0.50), 3),
            ["p99_ms"] = Math.Round(Percentile(0.99), 3),
            ["mean_ms"] = Math.Round(ms.Average(), 3),
            ["samples"] = samples,
        };
    }

    /// <summary>Reads both output columns of up to <paramref name="limit"/> rows, as an application would; returns the rows read.</summary>
    private static int ReadAll(IDataView view, int limit)
    {
        var items = view.Schema["RecommendedItems"];
        var scores = view.Schema["RecommendationScores"];
        using var cursor = view.GetRowCursor([items, scores]);
        var getItems = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(items);
        var getScores = cursor.GetGetter<VBuffer<float>>(scores);
        VBuffer<ReadOnlyMemory<char>> i = default;
        VBuffer<float> s = default;
        int rows = 0;
        while (rows < limit && cursor.MoveNext())
        {
            getItems(ref i);
            getScores(ref s);
            rows++;
        }
        return rows;
    }
}
