using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>
/// Appends a training run to a runs table: set it as <see cref="SrtTrainer.Options.Progress"/> and every validated epoch
/// becomes a row; call <see cref="RecordTest"/> after testing to add the run's final row. FLOPs and interactions seen come
/// from <see cref="SrtFlops.ForTraining"/>; an epoch cut short (time budget, cancellation) counts its share of steps.
/// </summary>
public sealed class SrtRunsRecorder : IProgress<SrtEpochReport>
{
    private readonly string _path;
    private readonly SrtRunsTableRow _run;
    private readonly IProgress<SrtEpochReport>? _next;
    private double _epochs, _trainSeconds;
    private SrtRunsTableRow? _best;

    /// <summary>Creates a recorder for one run of <paramref name="options"/> on <paramref name="train"/>.</summary>
    /// <param name="path">The runs table (created with its header when new).</param>
    /// <param name="runId">The run's id (every row of the run carries it).</param>
    /// <param name="datasetName">The dataset's name, for the <c>dataset</c> column.</param>
    /// <param name="options">The trainer options the run uses (read, not changed).</param>
    /// <param name="train">The training sequences the run trains on.</param>
    /// <param name="next">Another progress receiver to forward each report to (for example the one options had), or null.</param>
    public SrtRunsRecorder(string path, string runId, string datasetName, SrtTrainer.Options options, InteractionSequences train,
        IProgress<SrtEpochReport>? next = null)
        : this(path, runId, datasetName, options, train, SrtFlops.ForTrainingWithShape(options, train, out var shape), shape, next)
    {
    }

    /// <summary>A recorder whose accounting the caller computed already (<see cref="SrtFlops.ForTrainingWithShape"/>).</summary>
    internal SrtRunsRecorder(string path, string runId, string datasetName, SrtTrainer.Options options, InteractionSequences train,
        SrtTrainingFlops flops, SrtNetworkShape shape, IProgress<SrtEpochReport>? next = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        _path = path;
        _next = next;
        Flops = flops;
        _run = new SrtRunsTableRow
        {
            RunId = runId, Dataset = datasetName ?? "", Users = train.UserCount, Items = train.Catalog.Count,
            Interactions = train.InteractionCount, Preset = NamesShape(options, shape) ? options.Preset : "",
            Layers = shape.Layers, Heads = shape.Heads, Dimension = shape.Dimension, Negatives = options.Negatives,
            Parameters = Flops.Parameters, NonEmbeddingParameters = Flops.NonEmbeddingParameters,
        };
    }

    /// <summary>Whether the options' preset alone names the trained shape (no size option set, and not a fine-tune of
    /// another size).</summary>
    private static bool NamesShape(SrtTrainer.Options o, SrtNetworkShape shape) =>
        o.Layers == 0 && o.Heads == 0 && o.Dimension == 0 && SrtPresets.All.TryGetValue(o.Preset, out var p) &&
        p.Layers == shape.Layers && p.Heads == shape.Heads && p.Dimension == shape.Dimension;

    /// <summary>The run's compute accounting.</summary>
    public SrtTrainingFlops Flops { get; }

    /// <summary>Rows appended so far.</summary>
    public int RowsWritten { get; private set; }

    /// <summary>Appends a row when the epoch was validated; forwards the report.</summary>
    public void Report(SrtEpochReport value)
    {
        ArgumentNullException.ThrowIfNull(value);
        _epochs += Flops.StepsPerEpoch == 0 ? 0 : Math.Min(1.0, (double)value.Steps / Flops.StepsPerEpoch);
        _trainSeconds += value.TrainSeconds;
        if (!double.IsNaN(value.ValidationNdcg10))
        {
            var row = _run with
            {
                Epoch = _epochs, // whole epochs, plus the share of a cut one
                Flops = Flops.RunFlops(_epochs),
                InteractionsSeen = _epochs * Flops.PositionsPerEpoch,
                TrainSeconds = _trainSeconds,
                ValidationNdcg5 = Nullable(value.ValidationNdcg5),
                ValidationHit5 = Nullable(value.ValidationHit5),
                ValidationNdcg10 = value.ValidationNdcg10,
            };
            SrtRunsTable.Append(_path, row);
            RowsWritten++;
            if (value.IsBest || _best is null) _best = row;
        }
        _next?.Report(value);
    }

    /// <summary>
    /// Appends the run's final row: the best validated epoch's row (the weights training keeps) with the test metrics
    /// filled in. <paramref name="test"/> must hold cut-offs 5 and 10.
    /// </summary>
    public void RecordTest(NextItemMetrics test)
    {
        ArgumentNullException.ThrowIfNull(test);
        if (!test.Ndcg.ContainsKey(5) || !test.Ndcg.ContainsKey(10))
            throw new ArgumentException("The test metrics must include cut-offs 5 and 10.", nameof(test));
        var row = (_best ?? _run with
        {
            Epoch = _epochs, Flops = Flops.RunFlops(_epochs), InteractionsSeen = _epochs * Flops.PositionsPerEpoch, TrainSeconds = _trainSeconds,
        }) with { TestNdcg5 = test.Ndcg[5], TestHit5 = test.Hit[5], TestNdcg10 = test.Ndcg[10] };
        SrtRunsTable.Append(_path, row);
        RowsWritten++;
    }

    private static double? Nullable(double v) => double.IsNaN(v) ? null : v;
}
