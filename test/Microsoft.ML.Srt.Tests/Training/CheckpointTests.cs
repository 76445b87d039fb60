using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Tests.Training;

/// <summary>
/// Options.CheckpointPath and Options.Resume: a run stopped after an epoch, or part way through one, and resumed from its
/// checkpoint ends with the same weights and reports as the run that never stopped. Both runs are the same computation on
/// the same bytes in one process (the resumed one starts from the saved weights, moments and random states), so weights
/// are compared for exact equality.
/// </summary>
public sealed class CheckpointTests
{
    private static readonly Lazy<LeaveOneOutSplit> Split = new(() =>
        UserSplits.LeaveOneOut(new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = 150, UserCount = 160, Seed = 4 }).Generate().Sequences));

    private static SrtTrainer.Options Tiny(string? checkpoint = null, bool resume = false) => new()
    {
        Dimension = 16, Layers = 1, Heads = 2, MaxLength = 12, BatchSize = 24, Epochs = 4, LearningRate = 3e-3, Negatives = 25,
        EarlyStoppingPatience = 0, Seed = 9, Device = "cpu", CheckpointPath = checkpoint, Resume = resume,
    };

    private static Dictionary<string, float[]> Weights(SrtModel model) =>
        model.Network.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().cpu().data<float>().ToArray());

    private static void AssertSameRun(SrtModel expected, SrtModel actual)
    {
        var a = Weights(expected);
        var b = Weights(actual);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, values) in a) Assert.True(values.AsSpan().SequenceEqual(b[name]), $"{name} differs");
        var x = expected.TrainingSummary!;
        var y = actual.TrainingSummary!;
        Assert.Equal(x.Epochs.Select(e => e.TrainLoss), y.Epochs.Select(e => e.TrainLoss));
        Assert.Equal(x.Epochs.Select(e => e.ValidationNdcg10), y.Epochs.Select(e => e.ValidationNdcg10));
        Assert.Equal(x.Epochs.Select(e => e.LearningRate), y.Epochs.Select(e => e.LearningRate));
        Assert.Equal(x.Epochs.Select(e => e.Steps), y.Epochs.Select(e => e.Steps));
        Assert.Equal(x.BestEpoch, y.BestEpoch);
        Assert.Equal(x.StopReason, y.StopReason);
    }

    /// <summary>IProgress that reports on the training thread.</summary>
    private sealed class Synchronous(Action<SrtEpochReport> report) : IProgress<SrtEpochReport>
    {
        public void Report(SrtEpochReport value) => report(value);
    }

    [Fact]
    public void ARunCancelledAfterAnEpochAndResumedEndsAsTheUninterruptedRun()
    {
        using var t = new TempFiles();
        var split = Split.Value;
        using var uninterrupted = new SrtTrainer(Tiny()).Train(split.Train, split.Validation);
        // Writing checkpoints changes nothing.
        using (var checkpointed = new SrtTrainer(Tiny(Path.Combine(t.Folder, "all.ckpt"))).Train(split.Train, split.Validation))
            AssertSameRun(uninterrupted, checkpointed);

        var path = Path.Combine(t.Folder, "run.ckpt");
        using var source = new CancellationTokenSource();
        var first = Tiny(path, resume: true);
        first.CancellationToken = source.Token;
        first.Progress = new Synchronous(r => { if (r.Epoch == 2) source.Cancel(); });
        var log = new List<string>();
        using (var stopped = new SrtTrainer(first, log.Add).Train(split.Train, split.Validation))
            Assert.Equal("cancelled", stopped.TrainingSummary!.StopReason);
        Assert.Contains(log, l => l.Contains("no checkpoint at", StringComparison.Ordinal) && l.Contains("starts afresh", StringComparison.Ordinal));

        log.Clear();
        var reported = new List<int>();
        var second = Tiny(path, resume: true);
        second.Progress = new Synchronous(r => reported.Add(r.Epoch));
        using var resumed = new SrtTrainer(second, log.Add).Train(split.Train, split.Validation);
        Assert.Contains(log, l => l.Contains("resuming from the checkpoint", StringComparison.Ordinal) && l.Contains("after epoch 2 of 4", StringComparison.Ordinal));
        Assert.Equal([3, 4], reported);
        AssertSameRun(uninterrupted, resumed);
        Assert.Equal(4, resumed.TrainingSummary!.Epochs.Count);

        // Resuming the finished run trains nothing and gives the same model and reports.
        log.Clear();
        reported.Clear();
        using var again = new SrtTrainer(second, log.Add).Train(split.Train, split.Validation);
        Assert.Empty(reported);
        Assert.Contains(log, l => l.Contains("holds a finished run (epochs after epoch 4)", StringComparison.Ordinal));
        AssertSameRun(uninterrupted, again);
    }

    /// <summary>The same run through the session with a stop after <paramref name="steps"/> optimizer steps (null: none), as SrtTrainer.Train starts it.</summary>
    private static (SrtModel Model, SrtTrainingSummary Summary) Session(SrtTrainer.Options o, int? steps, EvaluationCases? validation)
    {
        var split = Split.Value;
        var trainer = new SrtTrainer(o);
        TorchSharp.torch.random.manual_seed(trainer.Seed);
        var network = trainer.CreateNetwork(split.Train.Catalog, CPU, out var featurizer);
        int polls = 0;
        var summary = new SrtTrainingSession(network, split.Train, o, CPU, _ => { }, trainer.Seed, steps is { } n ? () => ++polls > n : null).Run(validation);
        return (new SrtModel(network, featurizer, split.Train.Catalog, o.CosineSimilarity, CPU, summary, split.Train.ItemCounts()), summary);
    }

    [Fact]
    public void ARunKilledInTheMiddleOfAnEpochResumesFromTheLastWholeEpochWithEarlyStopping()
    {
        using var t = new TempFiles();
        var split = Split.Value;
        SrtTrainer.Options Options(string? path)
        {
            var o = Tiny(path, resume: path is not null);
            o.Epochs = 6;
            o.EarlyStoppingPatience = 1;
            o.LearningRate = 1e-2; // overshoots, so validation stops improving and patience runs out
            return o;
        }
        var (expected, expectedSummary) = Session(Options(null), null, split.Validation);
        using var _ = expected;
        Assert.Equal("early_stopping", expectedSummary.StopReason); // the run exercises early stopping and the kept best weights
        Assert.True(expectedSummary.BestEpoch < expectedSummary.Epochs.Count, "the best epoch should be before the last");

        // Stopped 10 steps into epoch 3 (5 steps an epoch here): the checkpoint stays at epoch 2.
        var path = Path.Combine(t.Folder, "killed.ckpt");
        int perEpoch = expectedSummary.Epochs[0].Steps;
        var (killed, killedSummary) = Session(Options(path), 2 * perEpoch + perEpoch / 2, split.Validation);
        killed.Dispose();
        Assert.Equal("cancelled", killedSummary.StopReason);
        Assert.Equal(3, killedSummary.Epochs.Count);
        Assert.Equal(perEpoch / 2, killedSummary.Epochs[2].Steps);

        var (resumed, _) = Session(Options(path), null, split.Validation);
        using (resumed) AssertSameRun(expected, resumed);
    }

    [Fact]
    public void AProgressiveFineTuningResumesAcrossAStageBoundaryAndInsideAStage()
    {
        using var t = new TempFiles();
        var split = Split.Value;
        var pre = Tiny();
        pre.Layers = 2;
        pre.Epochs = 2;
        using var pretrained = new SrtTrainer(pre).Train(split.Train);
        SrtTrainer.Options Options(string? path)
        {
            var o = Tiny(path, resume: path is not null);
            o.Layers = 2;
            o.Epochs = 4; // stages: epoch 1 the top layer, epoch 2 both layers, epochs 3-4 everything
            o.InitialModel = pretrained;
            o.FineTuning = FineTuningSchedule.Progressive;
            o.StageEpochs = 1;
            o.StageLearningRate = 1e-3;
            return o;
        }
        using var uninterrupted = new SrtTrainer(Options(null)).Train(split.Train, split.Validation);

        var path = Path.Combine(t.Folder, "fine.ckpt");
        foreach (int stopAfter in new[] { 1, 3 }) // a stop before a new stage, then one inside the last stage
        {
            using var source = new CancellationTokenSource();
            var o = Options(path);
            o.CancellationToken = source.Token;
            o.Progress = new Synchronous(r => { if (r.Epoch == stopAfter) source.Cancel(); });
            using var stopped = new SrtTrainer(o).Train(split.Train, split.Validation);
            Assert.Equal("cancelled", stopped.TrainingSummary!.StopReason);
            Assert.Equal(stopAfter, stopped.TrainingSummary.Epochs.Count);
        }
        using var resumed = new SrtTrainer(Options(path)).Train(split.Train, split.Validation);
        AssertSameRun(uninterrupted, resumed);
    }

    [Fact]
    public void ARunEndedByItsTimeBudgetIsFinishedAndResumingItReturnsTheSameModel()
    {
        using var t = new TempFiles();
        var split = Split.Value;
        var path = Path.Combine(t.Folder, "budget.ckpt");
        var o = Tiny(path, resume: true);
        o.MaxMinutes = 0.05;
        // Time runs out during the pause after epoch 1, so epoch 2 stops before its first step and the checkpoint, written
        // as epoch 1 ended, is marked finished afterwards (on a host too slow for epoch 1 in 3 s, the budget ends inside
        // epoch 1 instead: the run is just as finished).
        o.Progress = new Synchronous(_ => Thread.Sleep(3100));
        using var budgeted = new SrtTrainer(o).Train(split.Train, split.Validation);
        Assert.Equal("time_budget", budgeted.TrainingSummary!.StopReason);

        var log = new List<string>();
        var again = Tiny(path, resume: true);
        again.MaxMinutes = 0.05;
        using var resumed = new SrtTrainer(again, log.Add).Train(split.Train, split.Validation);
        Assert.Contains(log, l => l.Contains("holds a finished run (time_budget after epoch", StringComparison.Ordinal));
        AssertSameRun(budgeted, resumed);
        Assert.True(resumed.TrainingSummary!.TotalSeconds >= 3, $"the budget's seconds were not carried over: {resumed.TrainingSummary.TotalSeconds}");
    }

    [Fact]
    public void ACheckpointOfOtherOptionsOrDataIsRefusedNamingWhatDiffers()
    {
        using var t = new TempFiles();
        var split = Split.Value;
        var path = Path.Combine(t.Folder, "a.ckpt");
        var o = Tiny(path);
        o.Epochs = 1;
        new SrtTrainer(o).Train(split.Train).Dispose();

        var other = Tiny(path, resume: true);
        other.Epochs = 3;
        other.Seed = 10;
        var e = Assert.Throws<InvalidOperationException>(() => new SrtTrainer(other).Train(split.Train));
        Assert.Contains(Path.GetFullPath(path), e.Message);
        Assert.Contains("epochs: 1 in the checkpoint, 3 now", e.Message);
        Assert.Contains("seed: 9 in the checkpoint, 10 now", e.Message);
        Assert.DoesNotContain("batch_size", e.Message);

        // Other training data of the same options.
        var fewer = UserSplits.LeaveOneOut(new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = 150, UserCount = 120, Seed = 4 }).Generate().Sequences);
        var same = Tiny(path, resume: true);
        same.Epochs = 1;
        var data = Assert.Throws<InvalidOperationException>(() => new SrtTrainer(same).Train(fewer.Train));
        Assert.Contains("users: 160 in the checkpoint, 120 now", data.Message);

        // A truncated checkpoint, and a file that is no checkpoint.
        var whole = File.ReadAllBytes(path);
        File.WriteAllBytes(path, whole[..(whole.Length / 2)]);
        var truncated = Assert.Throws<InvalidDataException>(() => new SrtTrainer(same).Train(split.Train));
        Assert.Contains(Path.GetFullPath(path), truncated.Message);
        Assert.Contains("Delete it to start afresh", truncated.Message);
        File.WriteAllText(path, "not a zip");
        var bad = Assert.Throws<InvalidDataException>(() => new SrtTrainer(same).Train(split.Train));
        Assert.Contains(Path.GetFullPath(path), bad.Message);

        // Resume needs a checkpoint path.
        var noPath = Assert.Throws<ArgumentOutOfRangeException>(() => new SrtTrainer(new SrtTrainer.Options { Resume = true }));
        Assert.Equal(nameof(SrtTrainer.Options.Resume), noPath.ParamName);
    }

    [Fact]
    public void AFailedCheckpointWriteLeavesThePreviousCheckpointWhole()
    {
        using var t = new TempFiles();
        var split = Split.Value;
        var path = Path.Combine(t.Folder, "c.ckpt");
        int writes = 0;
        SrtTrainingSession.CheckpointWriteHook = s => ++writes == 2 ? new FailingStream(s, limit: 4096) : s;
        try
        {
            var e = Assert.Throws<IOException>(() => new SrtTrainer(Tiny(path)).Train(split.Train));
            Assert.Contains("simulated", e.Message);
        }
        finally
        {
            SrtTrainingSession.CheckpointWriteHook = null;
        }
        Assert.Equal(2, writes);
        Assert.Equal([path], Directory.GetFiles(t.Folder)); // no temporary file left behind

        // The file is epoch 1's, whole: a resumed run continues from it to the uninterrupted run's end.
        var log = new List<string>();
        using var resumed = new SrtTrainer(Tiny(path, resume: true), log.Add).Train(split.Train);
        Assert.Contains(log, l => l.Contains("after epoch 1 of 4", StringComparison.Ordinal));
        using var uninterrupted = new SrtTrainer(Tiny()).Train(split.Train);
        AssertSameRun(uninterrupted, resumed);
    }
}
