using System.Text.Json.Serialization;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>What a FLOPs budget buys by a fitted eq. 4 (<see cref="SrtComputePlanner"/>).</summary>
public sealed record SrtComputePlan
{
    /// <summary>The training FLOPs budget planned for.</summary>
    [JsonPropertyName("flops")] public double Flops { get; init; }

    /// <summary>The compute-optimal parameter count under the budget.</summary>
    [JsonPropertyName("n")] public double N { get; init; }

    /// <summary>The compute-optimal number of training interactions under the budget.</summary>
    [JsonPropertyName("t")] public double T { get; init; }

    /// <summary>The metric eq. 4 predicts at (N, T), with a 95% interval from the fit's bootstrap refits.</summary>
    [JsonPropertyName("metric")] public required SrtFitCoefficient Metric { get; init; }

    /// <summary>The preset whose parameter count is nearest N (on a log scale).</summary>
    [JsonPropertyName("preset")] public required string Preset { get; init; }

    /// <summary>That preset's parameter count.</summary>
    [JsonPropertyName("preset_n")] public double PresetN { get; init; }

    /// <summary>Training interactions the budget buys with that preset.</summary>
    [JsonPropertyName("preset_t")] public double PresetT { get; init; }

    /// <summary>The metric eq. 4 predicts for that preset under the budget, with its interval.</summary>
    [JsonPropertyName("preset_metric")] public required SrtFitCoefficient PresetMetric { get; init; }

    /// <summary>Plain-language warnings (for example a plan outside the data the law was fitted on).</summary>
    [JsonPropertyName("warnings")] public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();
}
