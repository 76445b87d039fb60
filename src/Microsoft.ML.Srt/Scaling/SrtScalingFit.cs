using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>A fitted coefficient with its 95% interval (bootstrap percentiles over runs).</summary>
public sealed record SrtFitCoefficient
{
    /// <summary>The estimate from all points.</summary>
    [JsonPropertyName("value")] public double Value { get; init; }

    /// <summary>The interval's lower end (2.5th percentile).</summary>
    [JsonPropertyName("low")] public double Low { get; init; }

    /// <summary>The interval's upper end (97.5th percentile).</summary>
    [JsonPropertyName("high")] public double High { get; init; }

    /// <summary>True when <paramref name="x"/> lies inside the interval.</summary>
    public bool Contains(double x) => x >= Low && x <= High;
}

/// <summary>The paper's eq. 4, metric(N, T) = E − A/N^α − B/T^β, fitted by bounded non-linear least squares.</summary>
public sealed record SrtScalingLawFit
{
    /// <summary>E: the metric with unlimited parameters and data.</summary>
    [JsonPropertyName("E")] public required SrtFitCoefficient E { get; init; }

    /// <summary>A: the parameter term's coefficient.</summary>
    [JsonPropertyName("A")] public required SrtFitCoefficient A { get; init; }

    /// <summary>α: the parameter term's exponent.</summary>
    [JsonPropertyName("alpha")] public required SrtFitCoefficient Alpha { get; init; }

    /// <summary>B: the data term's coefficient.</summary>
    [JsonPropertyName("B")] public required SrtFitCoefficient B { get; init; }

    /// <summary>β: the data term's exponent.</summary>
    [JsonPropertyName("beta")] public required SrtFitCoefficient Beta { get; init; }

    /// <summary>Root-mean-square residual of the fit over its points.</summary>
    [JsonPropertyName("rmse")] public double Rmse { get; init; }

    /// <summary>Points fitted.</summary>
    [JsonPropertyName("points")] public int Points { get; init; }

    /// <summary>The bootstrap refits' coefficients, each [E, A, α, B, β]: what a planner's prediction intervals come from.</summary>
    [JsonPropertyName("bootstrap")] public IReadOnlyList<double[]> Bootstrap { get; init; } = Array.Empty<double[]>();

    /// <summary>The law's prediction at (<paramref name="n"/>, <paramref name="t"/>) with the point estimate.</summary>
    public double Predict(double n, double t) => Predict(new[] { E.Value, A.Value, Alpha.Value, B.Value, Beta.Value }, n, t);

    internal static double Predict(double[] c, double n, double t) => c[0] - c[1] * Math.Pow(n, -c[2]) - c[3] * Math.Pow(t, -c[4]);
}

/// <summary>A logistic in ln FLOPs fitted to the envelope: metric = Lower + (Upper − Lower) / (1 + exp(−Slope·(ln C − Midpoint))).</summary>
public sealed record SrtSigmoidFit
{
    /// <summary>The metric at very small compute.</summary>
    [JsonPropertyName("lower")] public required SrtFitCoefficient Lower { get; init; }

    /// <summary>The metric at very large compute (saturation).</summary>
    [JsonPropertyName("upper")] public required SrtFitCoefficient Upper { get; init; }

    /// <summary>Steepness, per unit of ln FLOPs.</summary>
    [JsonPropertyName("slope")] public required SrtFitCoefficient Slope { get; init; }

    /// <summary>ln FLOPs at the midpoint between <see cref="Lower"/> and <see cref="Upper"/>.</summary>
    [JsonPropertyName("midpoint")] public required SrtFitCoefficient Midpoint { get; init; }

    /// <summary>Root-mean-square residual over the envelope points.</summary>
    [JsonPropertyName("rmse")] public double Rmse { get; init; }

    /// <summary>Envelope points fitted.</summary>
    [JsonPropertyName("points")] public int Points { get; init; }

    /// <summary>The sigmoid at <paramref name="flops"/>.</summary>
    public double Predict(double flops) => Predict(new[] { Lower.Value, Upper.Value, Slope.Value, Midpoint.Value }, Math.Log(flops));

    internal static double Predict(double[] p, double x) => p[0] + (p[1] - p[0]) / (1 + Math.Exp(-p[2] * (x - p[3])));
}

/// <summary>A straight line in ln FLOPs fitted to the envelope: metric = Intercept + Slope · ln C (to compare with the sigmoid).</summary>
public sealed record SrtLinearFit
{
    /// <summary>The metric at ln C = 0.</summary>
    [JsonPropertyName("intercept")] public required SrtFitCoefficient Intercept { get; init; }

    /// <summary>Metric per unit of ln FLOPs.</summary>
    [JsonPropertyName("slope")] public required SrtFitCoefficient Slope { get; init; }

    /// <summary>Root-mean-square residual over the envelope points.</summary>
    [JsonPropertyName("rmse")] public double Rmse { get; init; }

    /// <summary>Envelope points fitted.</summary>
    [JsonPropertyName("points")] public int Points { get; init; }
}

/// <summary>One envelope point: the best metric of a FLOPs bin, at that run's FLOPs.</summary>
public sealed record SrtEnvelopePoint
{
    /// <summary>Training FLOPs of the best point of the bin.</summary>
    [JsonPropertyName("flops")] public double Flops { get; init; }

    /// <summary>Its metric.</summary>
    [JsonPropertyName("metric")] public double Metric { get; init; }
}

/// <summary>The columns a fit read, and how.</summary>
public sealed record SrtScalingColumns
{
    /// <summary>Parameters column (N).</summary>
    [JsonPropertyName("n")] public required string N { get; init; }

    /// <summary>Training-data column (T).</summary>
    [JsonPropertyName("t")] public required string T { get; init; }

    /// <summary>Metric column.</summary>
    [JsonPropertyName("metric")] public required string Metric { get; init; }

    /// <summary>FLOPs column.</summary>
    [JsonPropertyName("flops")] public required string Flops { get; init; }

    /// <summary>Run id column (rows with the same id are one run).</summary>
    [JsonPropertyName("run")] public required string Run { get; init; }

    /// <summary>True when every row was a point; false when each run contributed its best row.</summary>
    [JsonPropertyName("all_points")] public bool AllPoints { get; init; }
}

/// <summary>
/// The scaling study's fits (docs/scaling.md, "Fitting"): eq. 4 over (N, T), the envelope of metric against FLOPs with a
/// sigmoid and a line in ln FLOPs, and plain warnings where a fit is ill-conditioned. Serializes to the JSON of
/// <c>srt scaling fit</c>.
/// </summary>
public sealed record SrtScalingFit
{
    /// <summary>Eq. 4, or null when it could not be fitted (see <see cref="Warnings"/>).</summary>
    [JsonPropertyName("eq4")] public SrtScalingLawFit? Eq4 { get; init; }

    /// <summary>The envelope's sigmoid, or null when it could not be fitted.</summary>
    [JsonPropertyName("sigmoid")] public SrtSigmoidFit? Sigmoid { get; init; }

    /// <summary>The envelope's straight line, or null when it could not be fitted.</summary>
    [JsonPropertyName("linear")] public SrtLinearFit? Linear { get; init; }

    /// <summary>The envelope: per log-spaced FLOPs bin, its best point.</summary>
    [JsonPropertyName("envelope")] public IReadOnlyList<SrtEnvelopePoint> Envelope { get; init; } = Array.Empty<SrtEnvelopePoint>();

    /// <summary>The columns read.</summary>
    [JsonPropertyName("columns")] public required SrtScalingColumns Columns { get; init; }

    /// <summary>Plain-language warnings: too few distinct N or T, coefficients at their bounds, wide intervals.</summary>
    [JsonPropertyName("warnings")] public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The fit as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a fit written by <see cref="ToJson"/>.</summary>
    public static SrtScalingFit FromJson(string json) =>
        JsonSerializer.Deserialize<SrtScalingFit>(json, JsonOptions) ?? throw new JsonException("The JSON holds no scaling fit.");
}
