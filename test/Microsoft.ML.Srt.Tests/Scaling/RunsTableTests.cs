using System.Globalization;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scaling;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Tests.Scaling;

public sealed class RunsTableTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("srt-runs-");

    public void Dispose() => _dir.Delete(true);

    private static SrtRunsTableRow Row(string id, double epoch) => new()
    {
        RunId = id, Dataset = "beauty, 10% \"sample\"", Users = 100, Items = 50, Interactions = 1234, InteractionsSeen = 1134 * epoch,
        Preset = "2-2-128", Layers = 2, Heads = 2, Dimension = 128, Negatives = 1000, Parameters = 6_500_000, NonEmbeddingParameters = 400_000,
        Epoch = epoch, Flops = 1.25e13 * epoch, TrainSeconds = 3.5 * epoch, ValidationNdcg5 = 0.0312, ValidationHit5 = 0.05, ValidationNdcg10 = 0.04,
    };

    [Fact]
    public void RowsRoundTripWithOneHeaderWhateverTheCulture()
    {
        var path = Path.Combine(_dir.FullName, "sub", "runs.csv");
        var culture = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("de-DE"); // decimal comma: the table must not care
            SrtRunsTable.Append(path, Row("r1", 1));
            SrtRunsTable.Append(path, Row("r1", 2), Row("r1", 2) with { TestNdcg5 = 0.03, TestHit5 = 0.049, TestNdcg10 = 0.038 });
        }
        finally { CultureInfo.CurrentCulture = culture; }
        var lines = File.ReadAllLines(path);
        Assert.Equal(4, lines.Length);
        Assert.Equal(SrtRunsTable.Header, lines[0]);
        Assert.Contains(",12500000000000,", lines[1]);
        Assert.Contains(",0.0312,", lines[1]);
        var rows = SrtRunsTable.Read(path);
        Assert.Equal(new[] { Row("r1", 1), Row("r1", 2), Row("r1", 2) with { TestNdcg5 = 0.03, TestHit5 = 0.049, TestNdcg10 = 0.038 } }, rows);
    }

    [Fact]
    public void ABadValueIsReportedByLineAndColumn()
    {
        var path = Path.Combine(_dir.FullName, "runs.csv");
        SrtRunsTable.Append(path, Row("r1", 1), Row("r2", 1));
        var lines = File.ReadAllLines(path);
        lines[2] = lines[2].Replace(",12500000000000,", ",lots,");
        File.WriteAllLines(path, lines);
        var e = Assert.Throws<SrtDataException>(() => SrtRunsTable.Read(path));
        Assert.Equal(3, e.Line);
        Assert.Equal("flops", e.Field);
        Assert.Contains("'lots'", e.Message);

        File.WriteAllText(path, "run_id,users\nr1,3\n");
        var missing = Assert.Throws<SrtDataException>(() => SrtRunsTable.Read(path));
        Assert.Equal("items", missing.Field);
        var foreign = Assert.Throws<SrtDataException>(() => SrtRunsTable.Append(path, Row("r3", 1)));
        Assert.Equal(1, foreign.Line);
    }

    [Fact]
    public void TheRecorderAppendsEachValidationAndTheTestRow()
    {
        var generator = new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = 200, UserCount = 300, Seed = 5 });
        var split = UserSplits.LeaveOneOut(generator.Generate().Sequences);
        var options = new SrtTrainer.Options
        {
            Dimension = 16, Layers = 1, Heads = 1, MaxLength = 8, Negatives = 20, Epochs = 2, BatchSize = 64, MaxMinutes = 0, Device = "cpu",
        };
        var path = Path.Combine(_dir.FullName, "runs.csv");
        var recorder = new SrtRunsRecorder(path, "tiny-1", "synthetic", options, split.Train);
        options.Progress = recorder;
        using var model = new SrtTrainer(options).Train(split.Train, split.Validation);
        recorder.RecordTest(NextItemEvaluator.Evaluate(model, split.Test));

        var rows = SrtRunsTable.Read(path);
        Assert.Equal(3, rows.Count);
        Assert.Equal(new[] { 1.0, 2.0 }, rows.Take(2).Select(r => r.Epoch));
        Assert.Equal(recorder.Flops.FlopsPerEpoch, rows[0].Flops, 1e-9 * rows[0].Flops);
        Assert.Equal(2 * recorder.Flops.FlopsPerEpoch, rows[1].Flops, 1e-9 * rows[1].Flops);
        Assert.Equal(2.0 * recorder.Flops.PositionsPerEpoch, rows[1].InteractionsSeen);
        Assert.All(rows, r => Assert.Equal(split.Train.InteractionCount, r.Interactions));
        Assert.All(rows.Take(2), r => { Assert.NotNull(r.ValidationNdcg5); Assert.Null(r.TestNdcg5); });
        Assert.NotNull(rows[2].TestNdcg5);
        Assert.Equal(model.TrainingSummary!.BestEpoch, rows[2].Epoch);
        Assert.True(rows[0].ValidationNdcg5 <= rows[0].ValidationNdcg10);
    }
}
