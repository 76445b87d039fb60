using Microsoft.ML.Srt.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Tests.Model;

public class SampledSoftmaxLossTests
{
    // Two positions, d = 2, three shared negatives; item rows 1..4. Dot product, τ = 0.5.
    private static readonly float[] Queries = { 1, 0, 0.5f, 2 };
    private static readonly float[] Targets = { 2, 1, 0, 1 };
    private static readonly long[] TargetRows = { 1, 2 };
    private static readonly float[] Negatives = { 1, 1, 0, 1, -1, 0.5f };
    private static readonly long[] NegativeRows = { 3, 2, 4 }; // row 2 is position 1's target: an accidental hit
    private static readonly float[] LogQ = { 0, -1.0f, -2.0f, -0.5f, -3.0f }; // by row

    private static double Expected(bool logQ)
    {
        double tau = 0.5, total = 0;
        for (int p = 0; p < 2; p++)
        {
            double Dot(float[] m, int i) => Queries[p * 2] * m[i * 2] + Queries[p * 2 + 1] * m[i * 2 + 1];
            double Correction(long row) => logQ ? LogQ[row] : 0;
            double positive = Dot(Targets, p) / tau - Correction(TargetRows[p]);
            var logits = new List<double> { positive };
            for (int n = 0; n < 3; n++)
                if (NegativeRows[n] != TargetRows[p]) logits.Add(Dot(Negatives, n) / tau - Correction(NegativeRows[n]));
            double max = logits.Max();
            total += max + Math.Log(logits.Sum(l => Math.Exp(l - max))) - positive;
        }
        return total / 2;
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, 0)]
    [InlineData(true, 5)] // catalog rows given up front, as training does
    public void SharedNegativesMatchHandComputedLossWithLogQAndAccidentalHitsMasked(bool logQ, long itemRows)
    {
        using var q = tensor(LogQ);
        var loss = new SampledSoftmaxLoss(0.5, normalize: false, logQ ? q : null, itemRows);
        using var value = loss.SharedNegatives(tensor(Queries).view(2, 2), tensor(Targets).view(2, 2), tensor(TargetRows),
            tensor(Negatives).view(3, 2), tensor(NegativeRows));
        Assert.Equal(Expected(logQ), value.item<float>(), 1e-5);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void SharedNegativesHandWrittenGradientsEqualAutogradsOnThePerSequenceForm(bool normalize, bool withHistory)
    {
        // The shared form computes the [P, X] block's gradient by hand; the per-sequence form leaves all of it to autograd.
        // With one sequence and the same negatives they are the same loss, so every gradient must agree.
        const int p = 6, d = 4, x = 5;
        long[] inputRows = { 3, 5, 3, 8, 1, 6 }, targetRows = { 5, 3, 8, 1, 6, 2 }, negativeRows = { 7, 2, 8, 3, 4 }; // 3 hits
        manual_seed(11);
        using var logQ = randn(9).sub_(2);
        using var queries = randn(p, d);
        using var targets = randn(p, d);
        using var negatives = randn(x, d);
        using var history = randn(p, d);
        var loss = new SampledSoftmaxLoss(0.2, normalize, logQ, 9);
        var counts = Srt.Training.SrtTrainingSession.HistoryCounts(inputRows, targetRows, 1, p, out var repeats);

        (float Value, float[][] Gradients) Run(bool shared)
        {
            using var scope = NewDisposeScope();
            var leaves = new[] { queries, targets, negatives, history, tensor(new[] { -0.7f }) }
                .Select(t => t.detach().clone().requires_grad_(true)).ToArray();
            HistoryTerm? term = withHistory
                ? loss.HistoryLogits(leaves[0].view(1, p, d), leaves[3].view(1, p, d), tensor(counts).view(1, p, p), tensor(repeats), leaves[4])
                : null;
            var value = shared
                ? loss.SharedNegatives(leaves[0], leaves[1], tensor(targetRows), leaves[2], tensor(negativeRows), term)
                : loss.PerSequenceNegatives(leaves[0].view(1, p, d), leaves[1].view(1, p, d), tensor(targetRows).view(1, p),
                    leaves[2].view(1, x, d), tensor(negativeRows).view(1, x), term);
            value.backward();
            var used = withHistory ? leaves : leaves.Take(3);
            return (value.item<float>(), used.Select(l => l.grad!.data<float>().ToArray()).ToArray());
        }

        var (sharedValue, sharedGradients) = Run(shared: true);
        var (referenceValue, referenceGradients) = Run(shared: false);
        Assert.Equal(referenceValue, sharedValue, 1e-5);
        for (int i = 0; i < referenceGradients.Length; i++)
        {
            Assert.Contains(referenceGradients[i], g => Math.Abs(g) > 1e-4);   // a gradient that is really there
            for (int k = 0; k < referenceGradients[i].Length; k++)
                Assert.True(Math.Abs(sharedGradients[i][k] - referenceGradients[i][k]) < 1e-7 + 1e-4 * Math.Abs(referenceGradients[i][k]),
                    $"tensor {i}, element {k}: {sharedGradients[i][k]} vs {referenceGradients[i][k]}");
        }
    }

    [Fact]
    public void PerSequenceNegativesIgnorePaddingAndAgreeWithSharedWhenNegativesAreTheSame()
    {
        using var q = tensor(LogQ);
        var loss = new SampledSoftmaxLoss(0.5, normalize: false, q);
        // One sequence with the two positions plus one padded position (target row 0) that must be ignored.
        var queries = tensor(Queries.Concat(new float[] { 9, 9 }).ToArray()).view(1, 3, 2);
        var targets = tensor(Targets.Concat(new float[] { 5, 5 }).ToArray()).view(1, 3, 2);
        var targetRows = tensor(TargetRows.Append(0).ToArray()).view(1, 3);
        using var value = loss.PerSequenceNegatives(queries, targets, targetRows, tensor(Negatives).view(1, 3, 2), tensor(NegativeRows).view(1, 3));
        Assert.Equal(Expected(true), value.item<float>(), 1e-5);
    }

    [Fact]
    public void AllItemsIsFullSoftmaxCrossEntropy()
    {
        var loss = new SampledSoftmaxLoss(1.0, normalize: false, logQ: null);
        var items = tensor(new float[] { 1, 0, 0, 1, 1, 1 }).view(3, 2);   // rows 1..3
        var queries = tensor(new float[] { 2, 0 }).view(1, 2);
        using var value = loss.AllItems(queries, items, tensor(new long[] { 3 }));
        // logits 2, 0, 2; target = third.
        double expected = Math.Log(Math.Exp(2) + Math.Exp(0) + Math.Exp(2)) - 2;
        Assert.Equal(expected, value.item<float>(), 1e-5);
    }

    [Fact]
    public void HistoryCountsEachEarlierItemOnceAndMarksRepeatedTargets()
    {
        // One window of 4 slots: inputs rows 5, 6, 5, 7; targets 6, 5, 8 and padding.
        long[] inputs = { 5, 6, 5, 7 }, targets = { 6, 5, 8, 0 };
        var counts = Srt.Training.SrtTrainingSession.HistoryCounts(inputs, targets, 1, 4, out var repeats);
        bool[] Row(int t) => counts.Skip(t * 4).Take(4).ToArray();
        Assert.Equal(new[] { true, false, false, false }, Row(0));   // target 6 is not in history [5]
        Assert.Equal(new[] { false, true, false, false }, Row(1));   // target 5 repeats slot 0: it is the target, not a history column
        Assert.Equal(new[] { true, true, false, false }, Row(2));    // slot 2 holds 5 again: counted once
        Assert.Equal(new[] { false, false, false, false }, Row(3));  // padding counts nothing
        Assert.Equal(new float[] { 0, 1, 0, 0 }, repeats);
    }

    [Fact]
    public void HistoryTermAddsEachHistoryItemWithTheBiasAndNoLogQAndBiasesARepeatedTarget()
    {
        // Window inputs rows 3, 4 (the vectors of negatives rows 3 and 4); targets rows 1 and 3: position 1's target
        // repeats its history item 3. Dot product, τ = 0.5, logQ by row, bias −1.5.
        const double tau = 0.5, bias = -1.5;
        long[] inputRows = { 3, 4 }, targetRows = { 1, 3 };
        float[] history = { 1, 1, -1, 0.5f }, targets = { 2, 1, 1, 1 };
        using var q = tensor(LogQ);
        var loss = new SampledSoftmaxLoss(tau, normalize: false, q);
        var counts = Srt.Training.SrtTrainingSession.HistoryCounts(inputRows, targetRows, 1, 2, out var repeats);
        using var biasTensor = tensor(new[] { (float)bias });
        var term = loss.HistoryLogits(tensor(Queries).view(1, 2, 2), tensor(history).view(1, 2, 2), tensor(counts).view(1, 2, 2),
            tensor(repeats), biasTensor);
        using var value = loss.SharedNegatives(tensor(Queries).view(2, 2), tensor(targets).view(2, 2), tensor(targetRows),
            tensor(Negatives).view(3, 2), tensor(NegativeRows), term);

        double expected = 0;
        for (int p = 0; p < 2; p++)
        {
            double Dot(float[] m, int i) => Queries[p * 2] * m[i * 2] + Queries[p * 2 + 1] * m[i * 2 + 1];
            bool repeat = p == 1;
            double positive = Dot(targets, p) / tau - LogQ[targetRows[p]] + (repeat ? bias / tau : 0);
            var logits = new List<double> { positive };
            for (int n = 0; n < 3; n++)
                if (NegativeRows[n] != targetRows[p]) logits.Add(Dot(Negatives, n) / tau - LogQ[NegativeRows[n]]);
            for (int j = 0; j <= p; j++)
                if (inputRows[j] != targetRows[p]) logits.Add(Dot(history, j) / tau + bias / tau);   // no logQ
            double max = logits.Max();
            expected += (max + Math.Log(logits.Sum(l => Math.Exp(l - max))) - positive) / 2;
        }
        Assert.Equal(expected, value.item<float>(), 1e-5);

        // The per-sequence form takes the same term over all positions and agrees when the negatives are the same.
        var perSequence = loss.PerSequenceNegatives(tensor(Queries).view(1, 2, 2), tensor(targets).view(1, 2, 2), tensor(targetRows).view(1, 2),
            tensor(Negatives).view(1, 3, 2), tensor(NegativeRows).view(1, 3), term);
        Assert.Equal(expected, perSequence.item<float>(), 1e-5);
    }

    [Fact]
    public void AllItemsAddsTheBiasToHistoryCells()
    {
        var loss = new SampledSoftmaxLoss(1.0, normalize: false, logQ: null);
        var items = tensor(new float[] { 1, 0, 0, 1, 1, 1 }).view(3, 2);   // rows 1..3
        var queries = tensor(new float[] { 2, 0 }).view(1, 2);
        // Position 0's history holds row 1 (column 0): logits 2 − 3, 0, 2; target = third.
        using var bias = tensor(new[] { -3f }).requires_grad_(true);
        using var value = loss.AllItems(queries, items, tensor(new long[] { 3 }), tensor(new long[] { 0 }), bias);
        double z = Math.Exp(-1) + Math.Exp(0) + Math.Exp(2);
        Assert.Equal(Math.Log(z) - 2, value.item<float>(), 1e-5);
        // The bias reaches the loss only through the history cell, so its gradient is that cell's softmax probability.
        value.backward();
        Assert.Equal(Math.Exp(-1) / z, bias.grad!.item<float>(), 1e-5);
    }
}
