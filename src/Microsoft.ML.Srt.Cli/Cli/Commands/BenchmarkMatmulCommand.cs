using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt benchmark matmul</c>: the machine's fp32 matrix-multiply peak with libtorch, the number a training run's
/// <c>achieved_gflops_per_second</c> compares with. Square n × n products (2n³ FLOPs each) at several sizes, after
/// untimed warm-up products; per size the best and median GFLOP/s over the timed repeats. Prints JSON.
/// </summary>
internal sealed class BenchmarkMatmulCommand(CliStreams streams) : Command<BenchmarkMatmulCommand.Settings>
{
    /// <summary>The options of <c>srt benchmark matmul</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--sizes <N,...>")]
        [Description("Matrix sizes n (square n × n products), comma-separated.")]
        [DefaultValue("128,256,512,1024,2048")]
        public string Sizes { get; set; } = "128,256,512,1024,2048";

        [CommandOption("--repeats <N>")]
        [Description("Timed products per size (at least this many, and at least 0.3 s of them).")]
        [DefaultValue(10)]
        public int Repeats { get; set; } = 10;

        [CommandOption("--warmup <N>")]
        [Description("Untimed products per size before timing.")]
        [DefaultValue(3)]
        public int Warmup { get; set; } = 3;

        [CommandOption("--threads <N>")]
        [Description("libtorch intra-op threads (default: libtorch's own choice).")]
        public int? Threads { get; set; }

        [CommandOption("--device <DEVICE>")]
        [Description("Torch device: cpu, cuda or cuda:N.")]
        [DefaultValue("cpu")]
        public string Device { get; set; } = "cpu";

        /// <summary>The sizes, parsed.</summary>
        public int[] ParsedSizes() => Sizes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture)).ToArray();

        /// <inheritdoc/>
        public override ValidationResult Validate()
        {
            foreach (var s in Sizes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n < 1 || n > 16384)
                    return ValidationResult.Error($"option '--sizes' needs whole numbers from 1 to 16384; got '{s}'.");
            if (ParsedSizes().Length == 0) return ValidationResult.Error("option '--sizes' needs at least one size.");
            if (Repeats < 1) return ValidationResult.Error($"option '--repeats' must be at least 1; got {Repeats}.");
            if (Warmup < 0) return ValidationResult.Error($"option '--warmup' must be 0 or more; got {Warmup}.");
            if (Threads is < 1) return ValidationResult.Error($"option '--threads' must be at least 1; got {Threads}.");
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Threads is { } threads) torch.set_num_threads(threads);
        var device = new torch.Device(settings.Device);
        var rows = new List<Dictionary<string, object>>();
        double peak = 0;
        foreach (int n in settings.ParsedSizes())
        {
            using var scope = torch.NewDisposeScope();
            var generator = new torch.Generator((ulong)n);
            var a = torch.randn([n, n], dtype: torch.float32, device: device, generator: generator);
            var b = torch.randn([n, n], dtype: torch.float32, device: device, generator: generator);
            for (int w = 0; w < settings.Warmup; w++) Multiply(a, b, device);
            var seconds = new List<double>();
            var total = Stopwatch.StartNew();
            while (seconds.Count < settings.Repeats || (total.Elapsed.TotalSeconds < 0.3 && seconds.Count < 10_000))
            {
                var clock = Stopwatch.StartNew();
                Multiply(a, b, device);
                seconds.Add(clock.Elapsed.TotalSeconds);
            }
            double flops = 2.0 * n * n * n;
            var sorted = seconds.Order().ToArray();
            double best = flops / sorted[0] / 1e9, median = flops / sorted[sorted.Length / 2] / 1e9;
            peak = Math.Max(peak, best);
            streams.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  n = {n,5}: best {best,8:F1} GFLOP/s, median {median,8:F1} GFLOP/s ({sorted.Length} products)"));
            rows.Add(new Dictionary<string, object>
            {
                ["n"] = n, ["repeats"] = sorted.Length, ["best_gflops_per_second"] = Math.Round(best, 2),
                ["median_gflops_per_second"] = Math.Round(median, 2), ["best_ms"] = Math.Round(sorted[0] * 1e3, 4),
            });
        }
        streams.Output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["dtype"] = "float32", ["device"] = settings.Device, ["threads"] = torch.get_num_threads(),
            ["processors"] = Environment.ProcessorCount,
            ["peak_gflops_per_second"] = Math.Round(peak, 2), ["sizes"] = rows,
        }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static void Multiply(torch.Tensor a, torch.Tensor b, torch.Device device)
    {
        using var c = a.mm(b); // allocating the n × n result is O(n²) against the product's O(n³)
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
    }
}
