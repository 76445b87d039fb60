using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Srt.Scaling;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt scaling plan</c>: the compute-optimal (N, T) for a training budget under a fitted eq. 4 (<see cref="SrtComputePlanner"/>),
/// the nearest preset, and the predicted metric with its 95% interval. A budget in minutes becomes FLOPs through this
/// machine's measured training throughput: the <c>achieved_gflops_per_second</c> of an <c>srt train</c> JSON, or <c>--gflops</c>.
/// </summary>
internal sealed class ScalingPlanCommand(CliStreams streams) : Command<ScalingPlanCommand.Settings>
{
    private static readonly SrtComputePlanOptions _defaults = new();

    /// <summary>The options of <c>srt scaling plan</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--fit <FIT.json>", isRequired: true)]
        [Description("A fit written by srt scaling fit --out.")]
        public string Fit { get; set; } = "";

        [CommandOption("--flops <F>")]
        [Description("The training budget in FLOPs (1e15 or 1000000000000000).")]
        public double? Flops { get; set; }

        [CommandOption("--minutes <M>")]
        [Description("The training budget in minutes of training steps; needs --train-json or --gflops.")]
        public double? Minutes { get; set; }

        [CommandOption("--train-json <TRAIN.json>")]
        [Description("An srt train JSON (--metrics-json) from this machine: its achieved_gflops_per_second converts --minutes.")]
        public string? TrainJson { get; set; }

        [CommandOption("--gflops <G>")]
        [Description("Training throughput in GFLOP/s that converts --minutes (instead of --train-json).")]
        public double? Gflops { get; set; }

        [CommandOption("--epochs <E>")]
        [Description("Passes over the training data the plan assumes.")]
        [DefaultFrom(typeof(ScalingPlanCommand), nameof(DefaultEpochs))]
        public double Epochs { get; set; }

        [CommandOption("--flops-per-parameter <K>")]
        [Description("k in C = k·N·T·epochs: training FLOPs per parameter per interaction (take flops / (parameters · interactions_seen) from your runs table).")]
        [DefaultFrom(typeof(ScalingPlanCommand), nameof(DefaultK))]
        public double FlopsPerParameter { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate()
        {
            if ((Flops is null) == (Minutes is null)) return ValidationResult.Error("give the budget as one of '--flops' or '--minutes'.");
            if (Flops is { } f && !(f > 0 && double.IsFinite(f))) return ValidationResult.Error($"option '--flops' must be a positive number; got {Invariant(f)}.");
            if (Minutes is { } m)
            {
                if (!(m > 0 && double.IsFinite(m))) return ValidationResult.Error($"option '--minutes' must be a positive number; got {Invariant(m)}.");
                if ((TrainJson is null) == (Gflops is null)) return ValidationResult.Error("option '--minutes' needs the machine's throughput: one of '--train-json' or '--gflops'.");
            }
            else if (TrainJson is not null || Gflops is not null) return ValidationResult.Error("options '--train-json' and '--gflops' convert '--minutes'; give '--minutes' too.");
            if (Gflops is { } g && !(g > 0 && double.IsFinite(g))) return ValidationResult.Error($"option '--gflops' must be a positive number; got {Invariant(g)}.");
            if (!(Epochs > 0)) return ValidationResult.Error($"option '--epochs' must be positive; got {Invariant(Epochs)}.");
            if (!(FlopsPerParameter > 0)) return ValidationResult.Error($"option '--flops-per-parameter' must be positive; got {Invariant(FlopsPerParameter)}.");
            return ValidationResult.Success();
        }
    }

    private static string Invariant(double x) => x.ToString(CultureInfo.InvariantCulture);

    private static double DefaultEpochs => _defaults.Epochs;

    private static double DefaultK => _defaults.FlopsPerParameterInteraction;

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (!File.Exists(settings.Fit)) throw new CliUsageException($"option '--fit': no such file '{settings.Fit}'.");
        SrtScalingFit fit;
        try
        {
            fit = SrtScalingFit.FromJson(File.ReadAllText(settings.Fit));
        }
        catch (JsonException e)
        {
            throw new Data.SrtDataException(settings.Fit, (int)(e.LineNumber ?? 0) + 1, null, $"not a fit written by srt scaling fit: {e.Message}");
        }
        if (fit.Eq4 is null)
            throw new InvalidOperationException($"{settings.Fit} holds no eq. 4 fit (its warnings: {string.Join(" ", fit.Warnings)}); nothing to plan with.");
        double? gflops = settings.Gflops;
        if (settings.TrainJson is { } trainJson) gflops = ReadGflops(trainJson);
        double flops = settings.Flops ?? settings.Minutes!.Value * 60 * gflops!.Value * 1e9;
        var plan = SrtComputePlanner.Plan(fit, flops, new SrtComputePlanOptions { Epochs = settings.Epochs, FlopsPerParameterInteraction = settings.FlopsPerParameter });
        var json = JsonSerializer.SerializeToNode(plan)!.AsObject();
        var budget = new JsonObject { ["flops"] = flops, ["epochs"] = settings.Epochs, ["flops_per_parameter_interaction"] = settings.FlopsPerParameter };
        if (settings.Minutes is { } minutes)
        {
            budget["minutes"] = minutes;
            budget["gflops_per_second"] = gflops;
            budget["gflops_from"] = settings.TrainJson is null ? "--gflops" : Path.GetFullPath(settings.TrainJson);
        }
        json.Insert(0, "budget", budget);
        var warnings = plan.Warnings.ToList();
        if (fit.Envelope.Count > 0)
        {
            // The fit JSON keeps the FLOPs its runs spent (the envelope): a budget far outside them is an extrapolation.
            double low = fit.Envelope.Min(e => e.Flops), high = fit.Envelope.Max(e => e.Flops);
            if (flops > 10 * high || flops < low / 10)
                warnings.Add(string.Create(CultureInfo.InvariantCulture,
                    $"the budget ({flops:G3} FLOPs) is more than 10 times outside the compute of the fitted runs ({low:G3} to {high:G3} FLOPs): the plan extrapolates the law."));
            json["warnings"] = new JsonArray(warnings.Select(w => (JsonNode)JsonValue.Create(w)!).ToArray());
        }
        foreach (var warning in warnings) streams.Error.WriteLine($"warning: {warning}");
        streams.Output.WriteLine(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    /// <summary>The <c>achieved_gflops_per_second</c> of an <c>srt train</c> JSON.</summary>
    private static double ReadGflops(string path)
    {
        if (!File.Exists(path)) throw new CliUsageException($"option '--train-json': no such file '{path}'.");
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("achieved_gflops_per_second", out var value)
                && value.ValueKind == JsonValueKind.Number && value.GetDouble() > 0)
                return value.GetDouble();
        }
        catch (JsonException e)
        {
            throw new Data.SrtDataException(path, (int)(e.LineNumber ?? 0) + 1, null, $"not JSON: {e.Message}");
        }
        throw new Data.SrtDataException(path, 1, "achieved_gflops_per_second",
            "this srt train JSON has no positive achieved_gflops_per_second (made by an older srt?); pass --gflops instead.");
    }
}
