using System.Diagnostics;
using System.Runtime.InteropServices;
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
/// The training loop: length-bucketed batches, sampled softmax with logQ correction at every position,
/// AdamW with a one-cycle schedule and gradient clipping, validation with early stopping and restore of
/// the best epoch, an optional wall-clock budget.
/// </summary>
internal sealed class SrtTrainingSession
{
    private readonly SrtNetwork _network;
    private readonly SrtTrainer.Options _options;
    private readonly Device _device;
    private readonly Action<string> _log;
    private readonly int _itemCount;
    private readonly int[][] _sequences; // training windows: last MaxLength + 1 items of each user
    private readonly PopularitySampler _sampler;
    private readonly SampledSoftmaxLoss _loss;
    private readonly Random _random;
    private readonly int _seed;
    private readonly Func<bool> _cancelled;
    private readonly int[] _uniqueStamp;
    private readonly int[] _uniqueSlot;
    private int _stamp;

    // seed: the run's seed (the trainer's, which may come from the MLContext); default: the options' or the default seed.
    // cancelled: polled before every step, true stops training (stop reason "cancelled"); default: the options' token.
    public SrtTrainingSession(SrtNetwork network, InteractionSequences train, SrtTrainer.Options options, Device device,
        Action<string> log, int? seed = null, Func<bool>? cancelled = null)
    {
        _network = network;
        _options = options;
        _device = device;
        _log = log;
        _itemCount = train.Catalog.Count;
        int window = network.Shape.MaxLength + 1;
        _sequences = Enumerable.Range(0, train.UserCount)
            .Where(u => train.GetLength(u) >= 2)
            .Select(u => { var s = train.GetSequence(u); return s[Math.Max(0, s.Length - window)..].ToArray(); })
            .ToArray();
        if (_sequences.Length == 0) throw new InvalidOperationException("No training sequence has two or more items; nothing to learn from.");
        _sampler = new PopularitySampler(train.ItemCounts(), options.PopularityExponent);
        Tensor? logQ = null;
        if (options.LogQCorrection && options.Negatives > 0)
            logQ = tensor(new float[] { 0f }.Concat(_sampler.LogProbability()).ToArray(), device: device);
        _loss = new SampledSoftmaxLoss(options.Temperature, options.CosineSimilarity, logQ, _itemCount + 1);
        _seed = seed ?? options.Seed ?? SrtTrainer.Options.DefaultSeed;
        _random = new Random(_seed);
        _cancelled = cancelled ?? (() => options.CancellationToken.IsCancellationRequested);
        _uniqueStamp = new int[_itemCount + 1];
        _uniqueSlot = new int[_itemCount + 1];
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
        long totalSteps = (long)batcher.BatchesPerEpoch * o.Epochs;
        // Dense layers: AdamW. Embedding tables: the same update, applied only to the rows a step used.
        _network.RepeatBias.requires_grad_(o.LearnRepeatBias);
        using var optimizer = new FlatAdamW(_network.parameters().Where(p => p.requires_grad), o.WeightDecay);
        using var lazyOptimizer = new LazyAdamW(_network.Items.Tables, o.WeightDecay);
        var reports = new List<SrtEpochReport>();
        double best = double.NegativeInfinity;
        int bestEpoch = 0, sinceBest = 0;
        double lastLearningRate = 0;
        Dictionary<string, Tensor>? bestWeights = null;
        var total = Stopwatch.StartNew();
        double stepSeconds = 0;
        long steps = 0, sequencesSeen = 0;
        string stop = "epochs";
        var validationRandom = new Random(_seed + 1);
        var validationCases = validation is null ? null : Subsample(validation, o.ValidationMaxUsers, validationRandom);

        for (int epoch = 1; epoch <= o.Epochs && stop == "epochs"; epoch++)
        {
            _network.train();
            double lossSum = 0, lr = 0;
            int epochSteps = 0, epochSequences = 0;
            var epochWatch = Stopwatch.StartNew();
            foreach (var batch in batcher.Epoch(_random))
            {
                if (_cancelled()) { stop = "cancelled"; break; }
                double progress = (double)steps / totalSteps;
                if (o.MaxMinutes > 0) progress = Math.Max(progress, total.Elapsed.TotalMinutes / o.MaxMinutes);
                if (progress >= 1 && o.MaxMinutes > 0) { stop = "time_budget"; break; }
                lr = OneCycle(o.LearningRate, o.WarmupFraction, Math.Min(progress, 1));

                var stepWatch = Stopwatch.StartNew();
                lossSum += Step(optimizer, lazyOptimizer, lr, batch);
                stepSeconds += stepWatch.Elapsed.TotalSeconds;
                steps++;
                epochSteps++;
                epochSequences += batch.Length;
            }
            double trainSeconds = epochWatch.Elapsed.TotalSeconds;
            sequencesSeen += epochSequences;
            if (epochSteps == 0) break;

            double ndcg = double.NaN, hit = double.NaN, ndcg5 = double.NaN, hit5 = double.NaN, validationSeconds = 0;
            bool validate = validationCases is not null && (epoch % Math.Max(1, o.ValidationInterval) == 0 || stop != "epochs" || epoch == o.Epochs);
            if (validate)
            {
                var vw = Stopwatch.StartNew();
                var acc = new NextItemMetricsAccumulator(new[] { 5, 10 });
                new SrtScorer(_network, o.CosineSimilarity, _device).RankFullCatalog(validationCases!, maskHistory: false, acc);
                var m = acc.Result();
                ndcg = m.Ndcg[10];
                hit = m.Hit[10];
                (ndcg5, hit5) = (m.Ndcg[5], m.Hit[5]);
                validationSeconds = vw.Elapsed.TotalSeconds;
            }
            bool isBest = validationCases is null || (validate && ndcg > best);
            if (isBest)
            {
                if (validate) best = ndcg;
                bestEpoch = epoch;
                sinceBest = 0;
                if (validationCases is not null) bestWeights = Snapshot(bestWeights);
            }
            // Patience counts only once the learning rate decays: during warm-up validation plateaus are expected.
            else if (validate && lr < lastLearningRate) sinceBest++;
            lastLearningRate = lr;

            var report = new SrtEpochReport
            {
                Epoch = epoch, PlannedEpochs = o.Epochs, TrainLoss = lossSum / epochSteps,
                ValidationNdcg10 = ndcg, ValidationHit10 = hit, ValidationNdcg5 = ndcg5, ValidationHit5 = hit5, TrainSeconds = trainSeconds,
                ValidationSeconds = validationSeconds, SequencesPerSecond = epochSequences / trainSeconds,
                LearningRate = lr, IsBest = isBest && validate, Steps = epochSteps,
            };
            reports.Add(report);
            _log(report.ToString());
            o.Progress?.Report(report);
            if (stop == "epochs" && o.EarlyStoppingPatience > 0 && sinceBest >= o.EarlyStoppingPatience) stop = "early_stopping";
        }

        if (Profile is not null) _log(Profile.ToString());
        if (bestWeights is not null)
        {
            _network.load_state_dict(bestWeights);
            foreach (var t in bestWeights.Values) t.Dispose();
        }
        return new SrtTrainingSummary
        {
            Epochs = reports, BestEpoch = bestEpoch, TotalSeconds = total.Elapsed.TotalSeconds, StopReason = stop,
            SequencesPerSecond = stepSeconds > 0 ? sequencesSeen / stepSeconds : 0,
            MillisecondsPerStep = steps > 0 ? stepSeconds * 1000 / steps : 0,
        };
    }

    /// <summary>Linear warm-up to the peak, then cosine decay to zero (the paper's one-cycle schedule).</summary>
    internal static double OneCycle(double peak, double warmupFraction, double progress)
    {
        if (warmupFraction > 0 && progress < warmupFraction) return peak * Math.Max(progress / warmupFraction, 0.01);
        double decay = warmupFraction >= 1 ? 0 : (progress - warmupFraction) / (1 - warmupFraction);
        return peak * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(decay, 0, 1)));
    }

    /// <summary>One optimizer step on a batch of training windows; returns the loss.</summary>
    internal double Step(FlatAdamW optimizer, LazyAdamW lazyOptimizer, double lr, int[] batch)
    {
        using var scope = NewDisposeScope();
        Profile?.Mark(null);
        var o = _options;
        int b = batch.Length;
        int width = batch.Max(i => _sequences[i].Length) - 1;
        // Item rows (catalog index + 1; 0 = padding) of inputs and next-item targets, right-padded.
        var inputRows = new long[b * width];
        var targetRows = new long[b * width];
        for (int i = 0; i < b; i++)
        {
            var s = _sequences[batch[i]];
            for (int t = 0; t + 1 < s.Length; t++)
            {
                inputRows[i * width + t] = s[t] + 1;
                targetRows[i * width + t] = s[t + 1] + 1;
            }
        }

        bool allItems = o.Negatives <= 0;
        int perSet = allItems ? 0 : o.Negatives;
        int sets = allItems ? 0 : o.NegativeSharing == NegativeSharing.PerSequence ? b : 1;
        var negatives = new int[perSet * sets];
        _sampler.Sample(_random, negatives);

        Tensor loss;
        StagedBackward? stages = null;
        if (allItems)
        {
            // Every catalog item is a candidate: encode the whole catalog once per step.
            using Scalar firstRow = 1L.ToScalar(), endRow = (_itemCount + 1L).ToScalar();
            var vectors = cat(new[] { zeros(1, _network.Shape.Dimension, device: _device),
                _network.Items.forward(arange(firstRow, endRow, ScalarType.Int64, _device)) }, 0);
            var hidden = _network.Encode(vectors.index_select(0, tensor(inputRows, device: _device)).view(b, width, -1));
            var valid = Enumerable.Range(0, b * width).Where(k => targetRows[k] > 0).ToArray();
            var positions = tensor(valid.Select(k => (long)k).ToArray(), device: _device);
            var queries = hidden.view(b * width, -1).index_select(0, positions);
            Tensor? cells = null;
            if (o.LearnRepeatBias)
            {
                // The bias goes on every (position, history item) cell of the [P, N] logits, each item once.
                var first = FirstPlaces(inputRows, b, width);
                var flat = new List<long>();
                for (int p = 0; p < valid.Length; p++)
                {
                    int k = valid[p], i = k / width, t = k % width;
                    for (int j = 0; j <= t; j++)
                        if (first[i * width + j]) flat.Add((long)p * _itemCount + inputRows[i * width + j] - 1);
                }
                cells = tensor(flat.ToArray(), device: _device);
            }
            loss = _loss.AllItems(queries, vectors.narrow(0, 1, _itemCount), tensor(targetRows, device: _device).index_select(0, positions),
                cells, o.LearnRepeatBias ? _network.RepeatBias : null);
        }
        else
        {
            // Encode only the distinct items this step needs; slot 0 is the zero padding vector.
            var unique = new List<long> { 0 };
            _stamp++;
            long[] Local(long[] rows)
            {
                var local = new long[rows.Length];
                for (int k = 0; k < rows.Length; k++)
                {
                    long r = rows[k];
                    if (r == 0) continue;
                    if (_uniqueStamp[r] != _stamp) { _uniqueStamp[r] = _stamp; _uniqueSlot[r] = unique.Count; unique.Add(r); }
                    local[k] = _uniqueSlot[r];
                }
                return local;
            }
            var negativeRows = negatives.Select(n => (long)n + 1).ToArray();
            var inputLocal = Local(inputRows);
            var targetLocal = Local(targetRows);
            var negativeLocal = Local(negativeRows);
            Profile?.Mark("prepare");
            var encoded = _network.Items.forward(tensor(unique.Skip(1).ToArray(), device: _device));
            var vectors = cat(new[] { zeros(1, encoded.shape[1], device: _device), encoded }, 0);
            Profile?.Mark("items");
            var inputLocalT = tensor(inputLocal, device: _device);
            // Profiling cuts the graph between the encoders and the loss (see Profile); otherwise these are the same tensors.
            bool staged = Profile is not null && sets == 1;
            var vectorsForSequences = staged ? vectors.detach().requires_grad_(true) : vectors;
            var sequenceInput = vectorsForSequences.index_select(0, inputLocalT).view(b, width, -1);
            var encoderOutput = _network.Encode(sequenceInput);
            Profile?.Mark("sequences");
            var hidden = staged ? encoderOutput.detach().requires_grad_(true) : encoderOutput;
            var vectorsForLoss = staged ? vectors.detach().requires_grad_(true) : vectors;
            var inputVectors = staged ? vectorsForLoss.index_select(0, inputLocalT).view(b, width, -1) : sequenceInput;
            if (staged) stages = new StagedBackward(vectors, vectorsForSequences, encoderOutput, hidden, vectorsForLoss);
            vectors = vectorsForLoss; // from here on the loss reads item vectors through its own cut point
            var targetRowsT = tensor(targetRows, device: _device);
            HistoryTerm? history = null;
            if (o.LearnRepeatBias)
            {
                // Filled in place in CPU tensors: no [B·W·W] managed array per step.
                var counts = zeros(new long[] { b, width, width }, ScalarType.Bool);
                var repeats = zeros(b * width);
                HistoryCounts(inputRows, targetRows, b, width, MemoryMarshal.Cast<byte, bool>(counts.bytes), MemoryMarshal.Cast<byte, float>(repeats.bytes));
                history = _loss.HistoryLogits(hidden, inputVectors, counts.to(_device), repeats.to(_device), _network.RepeatBias);
            }
            if (sets == 1)
            {
                var positions = tensor(Enumerable.Range(0, b * width).Where(k => targetRows[k] > 0).Select(k => (long)k).ToArray(), device: _device);
                var queries = hidden.view(b * width, -1).index_select(0, positions);
                var targets = vectors.index_select(0, tensor(targetLocal, device: _device).index_select(0, positions));
                if (history is not null)
                    history = new HistoryTerm(history.Logits.index_select(0, positions), history.TargetOffset.index_select(0, positions));
                loss = _loss.SharedNegatives(queries, targets, targetRowsT.index_select(0, positions),
                    vectors.index_select(0, tensor(negativeLocal, device: _device)), tensor(negativeRows, device: _device), history);
            }
            else
            {
                var targets = vectors.index_select(0, tensor(targetLocal, device: _device)).view(b, width, -1);
                var negativeVectors = vectors.index_select(0, tensor(negativeLocal, device: _device)).view(b, perSet, -1);
                loss = _loss.PerSequenceNegatives(hidden, targets, targetRowsT.view(b, width),
                    negativeVectors, tensor(negativeRows, device: _device).view(b, perSet), history);
            }
        }

        double value = loss.item<float>();
        Profile?.Mark("loss");
        optimizer.ZeroGrad();
        loss.backward();
        if (stages is not null)
        {
            Profile!.Mark("backward loss");
            stages.EncoderOutput.backward([stages.Hidden.grad!]);
            Profile.Mark("backward sequences");
            stages.Vectors.backward([stages.VectorsForLoss.grad! + stages.VectorsForSequences.grad!]);
            Profile.Mark("backward items");
        }
        else Profile?.Mark("backward");
        var tableGradients = lazyOptimizer.CollectGradients();
        var denseGradient = optimizer.Gradient;
        if (o.GradientClipNorm > 0) ClipGradients(tableGradients.Select(g => g.Grad).Prepend(denseGradient), o.GradientClipNorm);
        Profile?.Mark("clip");
        optimizer.Step(lr, denseGradient);
        lazyOptimizer.Step(lr, tableGradients);
        Profile?.Mark("optimizer");
        return value;
    }

    /// <summary>The cut points of a profiled step: the loss reads detached copies of the encoders' outputs, whose gradients
    /// are then passed on by hand, one encoder at a time.</summary>
    private sealed record StagedBackward(Tensor Vectors, Tensor VectorsForSequences, Tensor EncoderOutput, Tensor Hidden, Tensor VectorsForLoss);

    /// <summary>
    /// For the repeat bias: counts[(i·W + t)·W + j] is true where window item j of sequence i is in the history of position t
    /// (j ≤ t), is that item's first place in the window (each item counts once) and is not position t's target;
    /// repeats[i·W + t] is 1 where the target is one of those history items. Padding positions count nothing.
    /// </summary>
    internal static bool[] HistoryCounts(long[] inputRows, long[] targetRows, int b, int width, out float[] repeats)
    {
        var counts = new bool[(long)b * width * width];
        repeats = new float[b * width];
        HistoryCounts(inputRows, targetRows, b, width, counts, repeats);
        return counts;
    }

    /// <summary>As above, into <paramref name="counts"/> [B·W·W] and <paramref name="repeats"/> [B·W], which must hold zeros.</summary>
    internal static void HistoryCounts(long[] inputRows, long[] targetRows, int b, int width, Span<bool> counts, Span<float> repeats)
    {
        if (counts.Length != (long)b * width * width || repeats.Length != b * width)
            throw new ArgumentException("counts must hold B·W·W and repeats B·W elements.");
        var first = FirstPlaces(inputRows, b, width);
        for (int i = 0; i < b; i++)
            for (int t = 0; t < width; t++)
            {
                long target = targetRows[i * width + t];
                if (target == 0) continue;
                long at = ((long)i * width + t) * width;
                for (int j = 0; j <= t; j++)
                {
                    if (!first[i * width + j]) continue;
                    if (inputRows[i * width + j] == target) repeats[i * width + t] = 1;
                    else counts[(int)(at + j)] = true;
                }
            }
    }

    /// <summary>True where a window slot holds a real item that no earlier slot of the same window holds.</summary>
    private static bool[] FirstPlaces(long[] rows, int b, int width)
    {
        var first = new bool[b * width];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < width; j++)
            {
                long item = rows[i * width + j];
                if (item == 0) continue;
                bool seen = false;
                for (int k = 0; k < j && !seen; k++) seen = rows[i * width + k] == item;
                first[i * width + j] = !seen;
            }
        return first;
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

    private Dictionary<string, Tensor> Snapshot(Dictionary<string, Tensor>? previous)
    {
        if (previous is not null) foreach (var t in previous.Values) t.Dispose();
        using var _ = no_grad();
        return _network.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
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
