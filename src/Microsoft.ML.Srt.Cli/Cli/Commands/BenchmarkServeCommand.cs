using System.ComponentModel;
using System.Text.Json;
using Microsoft.ML.Srt.Cli.Serving;
using Microsoft.ML.Srt.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt benchmark serve</c>: starts <c>srt serve</c>'s server in this process on 127.0.0.1 (a free port), drives
/// <c>POST /recommendations</c> at each concurrency level with a fixed request count and a time limit, prints requests/s
/// and latency per level with the server's micro-batch counters as JSON, and stops the server.
/// </summary>
internal sealed class BenchmarkServeCommand(CliStreams streams) : AsyncCommand<BenchmarkServeCommand.Settings>
{
    /// <summary>The options of <c>srt benchmark serve</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <M.zip>", isRequired: true)]
        [Description("The SRT model file to serve.")]
        public string Model { get; set; } = "";

        [CommandOption("--concurrency <N,N,...>")]
        [Description("Concurrent clients, one level each.")]
        [DefaultValue("1,8,64")]
        public string Concurrency { get; set; } = "1,8,64";

        [CommandOption("--requests <N>")]
        [Description("Requests per level (after 20 untimed per client).")]
        [DefaultValue(2000)]
        public int Requests { get; set; }

        [CommandOption("--seconds <S>")]
        [Description("Time limit per level: a level stops at its request count or its time limit, whichever comes first.")]
        [DefaultValue(30.0)]
        public double Seconds { get; set; }

        [CommandOption("-k <K>")]
        [Description("Recommendations per request.")]
        [DefaultValue(10)]
        public int K { get; set; }

        [CommandOption("--history-length <N>")]
        [Description("Longest history sent: histories are 1 to N random catalog ids (seeded).")]
        [DefaultValue(20)]
        public int HistoryLength { get; set; }

        [CommandOption("--disrupt")]
        [Description("During each timed level, also swap the catalog and reload the model in turn and send bad requests of 10 kinds; report how they were answered.")]
        public bool Disrupt { get; set; }

        [CommandOption("--device <DEVICE>")]
        [Description("Torch device: auto, cpu, cuda or cuda:N.")]
        [DefaultValue("auto")]
        public string Device { get; set; } = "auto";

        /// <inheritdoc/>
        public override ValidationResult Validate()
        {
            if (Levels() is null) return ValidationResult.Error($"option '--concurrency' needs positive integers separated by commas; got '{Concurrency}'.");
            if (Requests < 1) return ValidationResult.Error($"option '--requests' must be at least 1; got {Requests}.");
            if (!(Seconds > 0)) return ValidationResult.Error($"option '--seconds' must be positive; got {Seconds}.");
            if (K < 1) return ValidationResult.Error($"option '-k' must be at least 1; got {K}.");
            if (HistoryLength < 1) return ValidationResult.Error($"option '--history-length' must be at least 1; got {HistoryLength}.");
            return ValidationResult.Success();
        }

        internal int[]? Levels()
        {
            var parts = Concurrency.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var levels = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!int.TryParse(parts[i], System.Globalization.CultureInfo.InvariantCulture, out levels[i]) || levels[i] < 1 || levels[i] > 1024) return null;
            return levels.Length == 0 ? null : levels;
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (!File.Exists(settings.Model)) throw new FileNotFoundException($"The model file '{settings.Model}' does not exist.", settings.Model);
        var levels = settings.Levels()!;
        var options = new ServeOptions { ModelPath = Path.GetFullPath(settings.Model), Urls = "http://127.0.0.1:0", Device = settings.Device, MaxK = Math.Max(1000, settings.K) };
        await using var app = await SrtServer.StartAsync(options, cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = levels.Max(), PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var client = new HttpClient(handler) { BaseAddress = new Uri(app.Urls.Single()), Timeout = TimeSpan.FromSeconds(Math.Max(30, settings.Seconds)) };
            var catalog = app.Services.GetService(typeof(Scoring.SrtRecommender)) is Scoring.SrtRecommender r ? r.Catalog : throw new InvalidOperationException("No recommender.");
            var histories = Histories(catalog, settings.HistoryLength, 4096);
            var results = new List<LoadGenerator.Level>();
            var disruptions = new List<Dictionary<string, long>>();
            foreach (int level in levels)
            {
                // Untimed warm-up: connections opened, code paths jitted.
                await LoadGenerator.RunAsync(client, histories, settings.K, level, 20 * level, TimeSpan.FromSeconds(settings.Seconds)).ConfigureAwait(false);
                var disruptor = settings.Disrupt ? new Disruptor(client, catalog) : null;
                using var stop = new CancellationTokenSource();
                var disrupting = disruptor?.RunAsync(stop.Token) ?? Task.CompletedTask;
                var result = await LoadGenerator.RunAsync(client, histories, settings.K, level, settings.Requests, TimeSpan.FromSeconds(settings.Seconds)).ConfigureAwait(false);
                await stop.CancelAsync().ConfigureAwait(false);
                await disrupting.ConfigureAwait(false);
                if (disruptor is not null) disruptions.Add(disruptor.Counts());
                await streams.Error.WriteLineAsync($"concurrency {level}: {result.RequestsPerSecond} requests/s, p50 {result.P50Ms} ms, p99 {result.P99Ms} ms, {result.Failed} failed").ConfigureAwait(false);
                results.Add(result);
            }
            var metrics = JsonDocument.Parse(await client.GetStringAsync("/metrics", cancellationToken).ConfigureAwait(false)).RootElement;
            await streams.Output.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["model"] = options.ModelPath,
                ["catalog_items"] = catalog.Count,
                ["k"] = settings.K,
                ["history_length_max"] = settings.HistoryLength,
                ["threads"] = TorchSharp.torch.get_num_threads(),
                ["levels"] = results.Select(l => new Dictionary<string, object>
                {
                    ["concurrency"] = l.Concurrency, ["requests"] = l.Requests, ["failed"] = l.Failed, ["seconds"] = l.Seconds,
                    ["stopped_by_time_limit"] = l.StoppedByTime, ["requests_per_second"] = l.RequestsPerSecond,
                    ["p50_ms"] = l.P50Ms, ["p99_ms"] = l.P99Ms, ["max_ms"] = l.MaxMs,
                }).ToList(),
                ["disruptions"] = disruptions,
                ["server_batches"] = metrics.GetProperty("batches"),
            }, new JsonSerializerOptions { WriteIndented = true })).ConfigureAwait(false);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        return 0;
    }

    /// <summary>Seeded random histories of 1 to <paramref name="maxLength"/> catalog ids.</summary>
    private static List<string[]> Histories(ItemCatalog catalog, int maxLength, int count)
    {
        var random = new Random(1);
        var histories = new List<string[]>(count);
        for (int i = 0; i < count; i++)
            histories.Add(Enumerable.Range(0, random.Next(1, maxLength + 1)).Select(_ => catalog.GetId(random.Next(catalog.Count))).ToArray());
        return histories;
    }
}
