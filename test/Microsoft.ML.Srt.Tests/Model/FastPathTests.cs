using Microsoft.ML.Srt.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Tests.Model;

/// <summary>The CPU fast paths (dropout masks, written-out attention, pooled lookups) compute what the plain ops do.</summary>
public class FastPathTests
{
    [Theory]
    [InlineData(0.5)]
    [InlineData(0.1)]
    [InlineData(0.9)]
    public void DropoutMaskDropsAboutPAndScalesTheRest(double p)
    {
        var masks = new DropoutMaskSource(7);
        using var mask = masks.Next(new long[] { 1000, 301 }, p); // odd size: the tail after whole 4-element groups
        float keep = (float)(1 / (1 - p));
        long dropped = mask.eq(0).sum().item<long>();
        long kept = mask.eq(keep).sum().item<long>();
        Assert.Equal(mask.numel(), dropped + kept);
        double fraction = (double)dropped / mask.numel();
        Assert.InRange(fraction, p - 0.01, p + 0.01);
        Assert.InRange(mask.mean().item<float>(), 0.97f, 1.03f); // inverted dropout keeps the expectation
    }

    [Fact]
    public void DropoutMasksRepeatForASeedAndDifferAcrossDraws()
    {
        using var a = new DropoutMaskSource(11).Next(new long[] { 64, 64 }, 0.5);
        using var b = new DropoutMaskSource(11).Next(new long[] { 64, 64 }, 0.5);
        var source = new DropoutMaskSource(11);
        source.Next(new long[] { 64, 64 }, 0.5).Dispose();
        using var c = source.Next(new long[] { 64, 64 }, 0.5);
        Assert.True(a.allclose(b, 0, 0));
        Assert.False(a.allclose(c, 0, 0));
    }

    [Fact]
    public void DropoutIsIdentityInEvaluationAndScalesGradientsInTraining()
    {
        var masks = new DropoutMaskSource(3);
        using var x = ones(8, 16).requires_grad_(true);
        using (var y = FastDropout.Apply(x, 0.5, training: false, masks)) Assert.True(y.allclose(x, 0, 0));
        using var z = FastDropout.Apply(x, 0.5, training: true, masks);
        z.sum().backward();
        // d(x * mask)/dx = mask: the gradient is the same 0 / 2 pattern as the output.
        Assert.True(x.grad!.allclose(z.detach(), 0, 0));
    }

    [Fact]
    public void TrainingAttentionPathMatchesLibtorchAttentionWhenNothingIsDropped()
    {
        // p below 1 / 65,536 drops nothing (scale 1 + 1e-7), so the written-out causal attention used in training
        // must give what scaled_dot_product_attention gives in evaluation.
        var shape = new SrtNetworkShape(Dimension: 16, Layers: 2, Heads: 2, MaxLength: 12, Dropout: 1e-7, FeedForwardMultiplier: 2,
            UsesText: false, UsesIds: true, TextVocabularySize: 1, TextFieldCount: 0, TokenFieldTableSizes: Array.Empty<int>(), IdTableSize: 40);
        random.manual_seed(5);
        using var encoder = new SequenceEncoder(shape);
        using var input = randn(3, 9, 16);
        using var _ = no_grad();
        encoder.train();
        using var trained = encoder.forward(input);
        encoder.eval();
        using var evaluated = encoder.forward(input);
        Assert.True(trained.allclose(evaluated, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void MeanPoolMatchesAPlainMeanInTrainingAndEvaluation()
    {
        random.manual_seed(9);
        using var table = new LazyEmbedding("t", 30, 8);
        var rows = new long[,] { { 3, 5, 5, 0 }, { 0, 0, 0, 0 }, { 29, 1, 0, 0 }, { 7, 0, 0, 0 } };
        using var tokens = tensor(rows);
        var expected = new float[4, 8];
        for (int i = 0; i < 4; i++)
        {
            var present = Enumerable.Range(0, 4).Select(k => rows[i, k]).Where(r => r != 0).ToArray();
            for (int c = 0; c < 8; c++)
                expected[i, c] = present.Length == 0 ? 0 : present.Average(r => table.Weight[r, c].item<float>());
        }
        using var want = tensor(expected);
        table.eval();
        using (no_grad()) Assert.True(table.MeanPool(tokens).allclose(want, atol: 1e-6));
        table.train();
        using var pooled = table.MeanPool(tokens);
        Assert.True(pooled.allclose(want, atol: 1e-6));
        pooled.sum().backward();
        // One leaf of the distinct rows (padding first); row 5 appears twice in a bag of 3: gradient 2/3.
        var (leafRows, leaf) = Assert.Single(table.Touched);
        Assert.Equal(new long[] { 0, 1, 3, 5, 7, 29 }, leafRows.data<long>().ToArray());
        Assert.Equal(2f / 3, leaf.grad![3, 0].item<float>(), 1e-6);
        Assert.Equal(1f, leaf.grad![4, 0].item<float>(), 1e-6);
        Assert.Equal(0f, leaf.grad![0, 0].item<float>(), 1e-6);
        Assert.False(table.Weight.requires_grad);
        table.ClearTouched();
    }
}
