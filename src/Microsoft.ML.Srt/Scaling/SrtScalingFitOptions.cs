namespace Microsoft.ML.Srt.Scaling;

/// <summary>Options of <see cref="SrtScalingFitter"/>. Column defaults are the runs table's names (<see cref="SrtRunsTable"/>).</summary>
public sealed class SrtScalingFitOptions
{
    /// <summary>Column holding N, the parameter count. Default <c>parameters</c> (total, as the paper's eq. 5).</summary>
    public string NColumn = "parameters";

    /// <summary>Column holding T, interactions in the training data. Default <c>interactions</c>.</summary>
    public string TColumn = "interactions";

    /// <summary>Column holding the metric. Default <c>val_ndcg5</c> (every validation row has it; choose <c>test_ndcg5</c> to fit
    /// the runs' final test rows).</summary>
    public string MetricColumn = "val_ndcg5";

    /// <summary>Column holding training FLOPs so far. Default <c>flops</c>.</summary>
    public string FlopsColumn = "flops";

    /// <summary>Column whose value identifies a run; rows of one run share it. Default <c>run_id</c>; a table without it makes
    /// every row its own run.</summary>
    public string RunColumn = "run_id";

    /// <summary>Fit every row instead of each run's best row (the row with the highest metric). Default false.</summary>
    public bool AllPoints;

    /// <summary>Bootstrap resamples of the runs behind each interval. Default 200.</summary>
    public int BootstrapSamples = 200;

    /// <summary>Seed of the bootstrap resampling. Default 1.</summary>
    public int Seed = 1;

    /// <summary>Envelope bins per decade of FLOPs (log-spaced). Default 4.</summary>
    public int BinsPerDecade = 4;
}

/// <summary>One point of a scaling study: a run's (or a row's) N, T, metric and training FLOPs.</summary>
/// <param name="Run">The run it belongs to.</param>
/// <param name="N">Parameters.</param>
/// <param name="T">Interactions in the training data.</param>
/// <param name="Metric">The metric (for example NDCG@5).</param>
/// <param name="Flops">Training FLOPs spent to reach it; NaN when unknown (the envelope then leaves the point out).</param>
public sealed record SrtScalingPoint(string Run, double N, double T, double Metric, double Flops);
