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
    private readonly Random _random;
    private readonly int _seed;
    private readonly Func<bool> _cancelled;

    // seed: the run's seed (the trainer's, which may come from the MLContext); default: the options' or the default seed.
    // cancelled: polled before every step, true stops training (stop reason "cancelled"); default: the options' token.
    public SrtTrainingSession(SrtNetwork network, InteractionSequences train, SrtTrainer.Options options, Device device,
        Action<string> log, int? seed = null, Func<bool>? cancelled = null)
    {
        _network = network;
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
        // One random source for batching and negatives, in the order the steps ask: a seed fixes both.
        _random = new Random(_seed);
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

        for (int epoch = 1; epoch <= o.Epochs && stop == "epochs"; epoch++)
        {
            // With a time budget the schedule follows wall time, and so do the stages: the stage that holds the run's progress.
            int reached = Math.Min(o.Epochs, Math.Max(epoch, (int)Math.Floor(progress.Fraction() * o.Epochs) + 1));
            var current = stages.First(s => reached <= s.LastEpoch);
            bool staged = o.FineTuning != FineTuningSchedule.None;
            if (!ReferenceEquals(current, stage)) BeginStage(stage = current, staged);
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
            _log(report.ToString());
            o.Progress?.Report(report);
            if (stop == "epochs" && stopping.PatienceExhausted) stop = "early_stopping";
        }

        if (Profile is not null) _log(Profile.ToString());
        stopping.RestoreBest();
        return new SrtTrainingSummary
        {
            Epochs = reports, BestEpoch = stopping.BestEpoch, TotalSeconds = progress.ElapsedSeconds, StopReason = stop,
            SequencesPerSecond = progress.StepSeconds > 0 ? progress.Sequences / progress.StepSeconds : 0,
            MillisecondsPerStep = progress.Steps > 0 ? progress.StepSeconds * 1000 / progress.Steps : 0,
        };
    }

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
