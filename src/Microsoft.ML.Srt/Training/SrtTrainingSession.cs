using System.Diagnostics;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Scoring;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>What a finished training run did.</summary>
public sealed record SrtTrainingSummary
{
    /// <summary>One report per epoch run.</summary>
    public required IReadOnlyList<SrtEpochReport> Epochs { get; init; }

    /// <summary>The epoch whose weights were kept (best validation NDCG@10; the last one without validation).</summary>
    public int BestEpoch { get; init; }

    /// <summary>Wall-clock seconds of the whole run, validation included.</summary>
    public double TotalSeconds { get; init; }

    /// <summary>Why training stopped: <c>epochs</c>, <c>early_stopping</c>, <c>time_budget</c> or <c>cancelled</c>.</summary>
    public required string StopReason { get; init; }

    /// <summary>Training sequences per second over all steps.</summary>
    public double SequencesPerSecond { get; init; }

    /// <summary>Mean wall-clock milliseconds of one optimizer step.</summary>
    public double MillisecondsPerStep { get; init; }
}

/// <summary>
/// The training loop: length-bucketed batches, a loss from the options' <see cref="ITrainingObjective"/>, AdamW with a
/// one-cycle schedule and gradient clipping, validation with early stopping and restore of the best epoch, an optional
/// wall-clock budget.
/// </summary>
internal sealed class SrtTrainingSession
{
    private readonly SrtNetwork _network;
    private readonly SrtTrainer.Options _options;
    private readonly Device _device;
    private readonly Action<string> _log;
    private readonly int[][] _sequences; // training windows: last MaxLength + 1 items of each user
    private readonly ITrainingObjective _objective;
    private ILearningRateSchedule _schedule;
    private bool _tablesFrozen;
    private readonly SerializableRandom _random;
    private readonly InteractionSequences _train;
    private readonly int _seed;
    private readonly Func<bool> _cancelled;

    // seed: the run's seed (the trainer's, which may come from the MLContext); default: the options' or the default seed.
    // cancelled: polled before every step, true stops training (stop reason "cancelled"); default: the options' token.
    public SrtTrainingSession(SrtNetwork network, InteractionSequences train, SrtTrainer.Options options, Device device,
        Action<string> log, int? seed = null, Func<bool>? cancelled = null)
    {
        _network = network;
        _train = train;
        _options = options;
        _device = device;
        _log = log;
        int window = network.Shape.MaxLength + 1;
        _sequences = Enumerable.Range(0, train.UserCount)
            .Where(u => train.GetLength(u) >= 2)
            .Select(u => { var s = train.GetSequence(u); return s[Math.Max(0, s.Length - window)..].ToArray(); })
            .ToArray();
        if (_sequences.Length == 0) throw new InvalidOperationException("No training sequence has two or more items; nothing to learn from.");
        _seed = seed ?? options.Seed ?? SrtTrainer.Options.DefaultSeed;
        // One random source for batching and negatives, in the order the steps ask: a seed fixes both. It draws what
        // new Random(seed) draws, and a checkpoint can save where it stands.
        _random = new SerializableRandom(_seed);
        var sampler = new PopularitySampler(train.ItemCounts(), options.PopularityExponent);
        _objective = TrainingObjectives.Create(network, options, sampler, _random, train.Catalog.Count, device);
        _schedule = new OneCycleSchedule(options.LearningRate, options.WarmupFraction);
        _cancelled = cancelled ?? (() => options.CancellationToken.IsCancellationRequested);
    }

    public int TrainingSequences => _sequences.Length;

    /// <summary>Per-phase step timings, collected when the SRT_PROFILE environment variable is 1.</summary>
    /// <remarks>With a profiler, a shared-negatives step runs its backward in three stages (loss, sequence encoder, item encoder)
    /// through detached cut points, so each is timed on its own; the gradients are the same.</remarks>
    internal StepProfiler? Profile { get; set; } = Environment.GetEnvironmentVariable("SRT_PROFILE") == "1" ? new StepProfiler() : null;

    public SrtTrainingSummary Run(EvaluationCases? validation)
    {
        var o = _options;
        var batcher = new LengthBucketBatcher(_sequences.Select(s => s.Length - 1).ToArray(), o.BatchSize);
        var stages = TrainingStages.Plan(o, _network.Shape.Layers);
        try
        {
            return Run(validation, batcher, stages);
        }
        finally
        {
            _optimizer?.Dispose();
            _lazyOptimizer?.Dispose();
            Ewc?.Dispose();
        }
    }

    /// <summary>The EWC penalty to add to every step's loss (fine-tuning with EwcLambda); disposed with the run.</summary>
    internal ElasticWeightConsolidation? Ewc { get; set; }

    /// <summary>
    /// θ* (the weights now) and the mean squared gradient of each dense parameter over <paramref name="batches"/> batches of
    /// this session's data (fewer when an epoch has fewer): the diagonal Fisher estimate of EWC.
    /// </summary>
    internal ElasticWeightConsolidation DiagonalFisher(int batches, double lambda)
    {
        var named = _network.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        var anchor = named.ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var fisher = named.ToDictionary(p => p.name, p => zeros_like(p.parameter));
        var batcher = new LengthBucketBatcher(_sequences.Select(s => s.Length - 1).ToArray(), _options.BatchSize);
        _network.train();
        int n = 0;
        foreach (var batch in batcher.Epoch(_random).Take(batches))
        {
            using var scope = NewDisposeScope();
            foreach (var (_, p) in named) p.grad?.zero_();
            _objective.Loss(TrainingBatch.Of(_sequences, batch), null).Backward(null);
            using (no_grad())
                foreach (var (name, p) in named)
                    if (p.grad is { } g) fisher[name].addcmul_(g, g, Scalars.One);
            foreach (var table in _network.Items.Tables) table.ClearTouched();
            n++;
        }
        using (no_grad())
        {
            using var count = ((double)Math.Max(n, 1)).ToScalar();
            foreach (var f in fisher.Values) f.div_(count);
        }
        foreach (var (_, p) in named) p.grad = null;
        return new ElasticWeightConsolidation(lambda, anchor, fisher, n);
    }

    private FlatAdamW? _optimizer;
    private LazyAdamW? _lazyOptimizer;

    /// <summary>Starts <paramref name="stage"/>: which parameters train, fresh optimizer moments and its own one-cycle schedule.</summary>
    private void BeginStage(TrainingStage stage, bool staged)
    {
        var o = _options;
        _optimizer?.Dispose();
        _lazyOptimizer?.Dispose();
        if (staged)
        {
            TrainingStages.Apply(_network, stage, o.LearnRepeatBias);
            _log($"SRT: fine-tuning stage from epoch {stage.FirstEpoch} to {stage.LastEpoch}, peak learning rate {stage.LearningRate:G3}: " +
                 (stage.All ? "everything trains" : $"the top {stage.TopLayers} of {_network.Shape.Layers} transformer layers train"));
        }
        else _network.RepeatBias.requires_grad_(o.LearnRepeatBias);
        // Dense layers: AdamW. Embedding tables: the same update, applied only to the rows a step used.
        _optimizer = new FlatAdamW(_network.parameters().Where(p => p.requires_grad), o.WeightDecay);
        _lazyOptimizer = new LazyAdamW(_network.Items.Tables, o.WeightDecay);
        Ewc?.Bind(_optimizer, _network.named_parameters().ToDictionary(p => p.parameter.Handle, p => p.name));
        _tablesFrozen = !stage.All;
        _schedule = new OneCycleSchedule(stage.LearningRate, o.WarmupFraction);
    }

    private SrtTrainingSummary Run(EvaluationCases? validation, LengthBucketBatcher batcher, IReadOnlyList<TrainingStage> stages)
    {
        var o = _options;
        TrainingStage? stage = null;
        var progress = new TrainingProgress((long)batcher.BatchesPerEpoch * o.Epochs, o.MaxMinutes);
        var validationCases = validation is null ? null : Subsample(validation, o.ValidationMaxUsers, new Random(_seed + 1));
        using var stopping = new EarlyStopping(_network, o.EarlyStoppingPatience, validationCases is not null);
        var reports = new List<SrtEpochReport>();
        string stop = "epochs";
        bool staged = o.FineTuning != FineTuningSchedule.None;
        var fingerprint = o.CheckpointPath is null ? null
            : TrainingCheckpoint.Fingerprint(o, _seed, _network, _train, _sequences, validationCases?.Count ?? 0);
        using var resumed = Resume(fingerprint, stopping, progress, reports);
        int first = (resumed?.State.Epoch ?? 0) + 1;
        if (resumed is { State.Finished: true }) stop = resumed.State.StopReason;
        bool finishedSaved = resumed?.State.Finished ?? false;
        int lastStage = resumed?.State.Stage ?? 0;

        for (int epoch = first; epoch <= o.Epochs && stop == "epochs"; epoch++)
        {
            // With a time budget the schedule follows wall time, and so do the stages: the stage that holds the run's progress.
            int reached = Math.Min(o.Epochs, Math.Max(epoch, (int)Math.Floor(progress.Fraction() * o.Epochs) + 1));
            int stageIndex = stages.Count(s => s.LastEpoch < reached);
            var current = stages[stageIndex];
            if (!ReferenceEquals(current, stage))
            {
                BeginStage(stage = current, staged);
                // A run resumed inside a stage continues its optimizers; a stage that begins now begins them afresh.
                if (resumed is not null && resumed.State.Stage == stageIndex) resumed.RestoreOptimizers(_optimizer!, _lazyOptimizer!);
            }
            lastStage = stageIndex;
            // libtorch's dropout on other devices draws from the device's generator, whose state TorchSharp cannot save:
            // a seed per epoch makes a resumed epoch draw what the uninterrupted one drew. (The CPU's masks are saved.)
            if (_device.type == DeviceType.CUDA) cuda.manual_seed_all(_seed * 1_000_003L + epoch);
            var trained = TrainEpoch(batcher.Epoch(_random), _optimizer!, _lazyOptimizer!, progress, staged ? stage : null);
            stop = trained.StopReason ?? stop;
            if (trained.Steps == 0) break;
            bool validate = validationCases is not null && (epoch % Math.Max(1, o.ValidationInterval) == 0 || stop != "epochs" || epoch == o.Epochs);
            var (metrics, validationSeconds) = validate ? Validate(validationCases!) : (null, 0);
            bool isBest = stopping.Observe(epoch, metrics?.Ndcg[10], trained.LearningRate);
            var report = new SrtEpochReport
            {
                Epoch = epoch, PlannedEpochs = o.Epochs, TrainLoss = trained.LossSum / trained.Steps,
                ValidationNdcg10 = metrics?.Ndcg[10] ?? double.NaN, ValidationHit10 = metrics?.Hit[10] ?? double.NaN,
                ValidationNdcg5 = metrics?.Ndcg[5] ?? double.NaN, ValidationHit5 = metrics?.Hit[5] ?? double.NaN,
                TrainSeconds = trained.Seconds, ValidationSeconds = validationSeconds, SequencesPerSecond = trained.Sequences / trained.Seconds,
                LearningRate = trained.LearningRate, IsBest = isBest && validate, Steps = trained.Steps,
            };
            reports.Add(report);
            if (stop == "epochs" && stopping.PatienceExhausted) stop = "early_stopping";
            // A cancelled epoch is cut short: the checkpoint stays at the last whole epoch, which a resumed run repeats from.
            if (fingerprint is not null && stop != "cancelled")
            {
                bool finished = stop != "epochs" || epoch == o.Epochs;
                SaveCheckpoint(fingerprint, epoch, stageIndex, finished, stop, stopping, progress, reports);
                finishedSaved = finished;
            }
            _log(report.ToString());
            o.Progress?.Report(report);
        }
        // The time ran out before an epoch's first step: the run is over, and its checkpoint says so.
        if (fingerprint is not null && stop == "time_budget" && !finishedSaved && reports.Count > 0)
            SaveCheckpoint(fingerprint, reports[^1].Epoch, lastStage, true, stop, stopping, progress, reports);

        if (Profile is not null) _log(Profile.ToString());
        stopping.RestoreBest();
        return new SrtTrainingSummary
        {
            Epochs = reports, BestEpoch = stopping.BestEpoch, TotalSeconds = progress.ElapsedSeconds, StopReason = stop,
            SequencesPerSecond = progress.StepSeconds > 0 ? progress.Sequences / progress.StepSeconds : 0,
            MillisecondsPerStep = progress.Steps > 0 ? progress.StepSeconds * 1000 / progress.Steps : 0,
        };
    }

    /// <summary>
    /// With <see cref="SrtTrainer.Options.Resume"/> and an existing checkpoint: reads it (refusing one of another run), puts
    /// back the weights, early stopping, counters, random states and epoch reports, and returns it for the optimizer states,
    /// which the first epoch's stage restores. Null when there is nothing to resume.
    /// </summary>
    private TrainingCheckpoint? Resume(IReadOnlyDictionary<string, string>? fingerprint, EarlyStopping stopping, TrainingProgress progress, List<SrtEpochReport> reports)
    {
        var o = _options;
        if (fingerprint is null || !o.Resume) return null;
        var path = Path.GetFullPath(o.CheckpointPath!);
        if (!File.Exists(path))
        {
            _log($"SRT: no checkpoint at {path} yet; training starts afresh.");
            return null;
        }
        var checkpoint = TrainingCheckpoint.Read(path, fingerprint);
        try
        {
            var state = checkpoint.State;
            checkpoint.RestoreWeights(_network);
            stopping.Restore(state.EarlyStopping, checkpoint.BestWeights(_network, _device));
            progress.Resume(state.Steps, state.Sequences, state.StepSeconds, state.ElapsedSeconds);
            reports.AddRange(state.Epochs);
            _random.SetState(state.Random);
            _network.Sequences.Masks.State = state.DropoutStream;
            random.set_rng_state(checkpoint.Saved("torch/rng"));
            _log(state.Finished
                ? $"SRT: the checkpoint {path} holds a finished run ({state.StopReason} after epoch {state.Epoch}); nothing is left to train."
                : $"SRT: resuming from the checkpoint {path} after epoch {state.Epoch} of {o.Epochs}.");
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Writes the checkpoint of the run as it stands after <paramref name="epoch"/> (atomically: the previous one stays until the new one is whole).</summary>
    private void SaveCheckpoint(SortedDictionary<string, string> fingerprint, int epoch, int stageIndex, bool finished, string stop,
        EarlyStopping stopping, TrainingProgress progress, List<SrtEpochReport> reports)
    {
        var early = stopping.State;
        bool bestIsCurrent = stopping.KeptWeights is not null && early.BestEpoch == epoch;
        var manifest = new TrainingCheckpoint.Manifest
        {
            Fingerprint = fingerprint, Epoch = epoch, Stage = stageIndex, Finished = finished, StopReason = stop,
            Steps = progress.Steps, Sequences = progress.Sequences, StepSeconds = progress.StepSeconds, ElapsedSeconds = progress.ElapsedSeconds,
            EarlyStopping = early, BestIsCurrent = bestIsCurrent, DenseSteps = _optimizer!.State.Steps, TableSteps = _lazyOptimizer!.State.Steps,
            Random = _random.GetState(), DropoutStream = _network.Sequences.Masks.State, Epochs = [.. reports],
        };
        using var torchRandom = random.get_rng_state();
        TrainingCheckpoint.Write(_options.CheckpointPath!, manifest,
            TrainingCheckpoint.TensorsOf(_network, bestIsCurrent ? null : stopping.KeptWeights, _optimizer, _lazyOptimizer, torchRandom), CheckpointWriteHook);
    }

    /// <summary>Test hook, per thread: wraps the checkpoint's temporary file stream (for example to make a write fail part way).</summary>
    internal static Func<Stream, Stream>? CheckpointWriteHook { get => _checkpointWriteHook; set => _checkpointWriteHook = value; }

    [ThreadStatic] private static Func<Stream, Stream>? _checkpointWriteHook;

    /// <summary>What one epoch's steps did; <see cref="StopReason"/> is set when training must stop before the epoch's end.</summary>
    private sealed record EpochTotals(double LossSum, int Steps, int Sequences, double LearningRate, double Seconds, string? StopReason);

    /// <summary>Steps through one epoch's batches until they run out, the run is cancelled or its time is up.</summary>
    // stage: the fine-tuning stage the epoch belongs to, whose schedule runs over its own epochs; null: one schedule over the run.
    private EpochTotals TrainEpoch(IEnumerable<int[]> batches, FlatAdamW optimizer, LazyAdamW lazyOptimizer, TrainingProgress progress, TrainingStage? stage)
    {
        var watch = Stopwatch.StartNew();
        _network.train();
        double lossSum = 0, lr = 0;
        int steps = 0, sequences = 0;
        string? stop = null;
        foreach (var batch in batches)
        {
            if (_cancelled()) { stop = "cancelled"; break; }
            double fraction = progress.Fraction();
            if (progress.OutOfTime(fraction)) { stop = "time_budget"; break; }
            lr = _schedule.At(stage is null ? Math.Min(fraction, 1) : stage.Progress(fraction, _options.Epochs));
            var stepWatch = Stopwatch.StartNew();
            lossSum += Step(optimizer, lazyOptimizer, lr, batch);
            progress.Record(batch.Length, stepWatch.Elapsed.TotalSeconds);
            steps++;
            sequences += batch.Length;
        }
        return new EpochTotals(lossSum, steps, sequences, lr, watch.Elapsed.TotalSeconds, stop);
    }

    /// <summary>Full-ranking NDCG and HIT at 5 and 10 on the validation users, and the seconds it took.</summary>
    private (NextItemMetrics Metrics, double Seconds) Validate(EvaluationCases cases)
    {
        var watch = Stopwatch.StartNew();
        var accumulator = new NextItemMetricsAccumulator(new[] { 5, 10 });
        new SrtScorer(_network, _options.CosineSimilarity, _device).RankFullCatalog(cases, maskHistory: false, accumulator);
        return (accumulator.Result(), watch.Elapsed.TotalSeconds);
    }

    /// <summary>One optimizer step on a batch of training windows; returns the loss.</summary>
    internal double Step(FlatAdamW optimizer, LazyAdamW lazyOptimizer, double lr, int[] batch)
    {
        using var scope = NewDisposeScope();
        Profile?.Mark(null);
        var loss = _objective.Loss(TrainingBatch.Of(_sequences, batch), Profile);
        double value = loss.Value.item<float>();
        Profile?.Mark("loss");
        optimizer.ZeroGrad();
        loss.Backward(Profile);
        var tableGradients = lazyOptimizer.CollectGradients();
        // Frozen tables: their gathered rows are dropped (the step below only forgets them), so they neither move nor count in the clip.
        if (_tablesFrozen) tableGradients.Clear();
        var denseGradient = optimizer.Gradient;
        if (Ewc is not null) value += Ewc.AddGradient(optimizer.Weights, denseGradient);
        if (_options.GradientClipNorm > 0) ClipGradients(tableGradients.Select(g => g.Grad).Prepend(denseGradient), _options.GradientClipNorm);
        Profile?.Mark("clip");
        optimizer.Step(lr, denseGradient);
        lazyOptimizer.Step(lr, tableGradients);
        Profile?.Mark("optimizer");
        return value;
    }

    /// <summary>Scales all gradients (the dense parameters' flat one and the gathered table rows) to a joint L2 norm of at most <paramref name="maxNorm"/>.</summary>
    private static void ClipGradients(IEnumerable<Tensor> gradients, double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var grads = gradients.ToList();
        if (grads.Count == 0) return;
        double norm = stack(grads.Select(g => g.norm()).ToArray()).norm().item<float>();
        if (norm <= maxNorm || !double.IsFinite(norm)) return;
        using var scale = (maxNorm / (norm + 1e-6)).ToScalar();
        foreach (var g in grads) g.mul_(scale);
    }

    private static EvaluationCases Subsample(EvaluationCases cases, int maxUsers, Random random)
    {
        if (maxUsers <= 0 || cases.Count <= maxUsers) return cases;
        var pick = Enumerable.Range(0, cases.Count).ToArray();
        random.Shuffle(pick);
        pick = pick.Take(maxUsers).Order().ToArray();
        return new EvaluationCases(cases.Source, pick.Select(k => cases.Users[k]).ToArray(),
            pick.Select(k => cases.HistoryLengths[k]).ToArray(), pick.Select(k => cases.Targets[k]).ToArray());
    }
}
