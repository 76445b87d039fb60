using System.Reflection;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Api;
using Microsoft.ML.Srt.Training;
using TorchSharp;

namespace Microsoft.ML.Srt.Tests.Training;

/// <summary>Library defaults that make a fit repeatable, the MLContext's seed, and ML.NET's cancellation.</summary>
public sealed class DeterminismTests
{
    private static SrtTrainer.Options Tiny(MLContext ml, int? seed = null)
    {
        var o = TinyData.TinyOptions(ml);
        o.Seed = seed;
        return o;
    }

    private static Dictionary<string, float[]> Weights(SrtTransformer transformer) =>
        transformer.Model.Network.state_dict().ToDictionary(p => p.Key, p => p.Value.cpu().to_type(torch.ScalarType.Float32).data<float>().ToArray());

    private static SrtTransformer Fit(MLContext ml, SrtTrainer.Options options) =>
        ml.Recommendation().Srt(options).Fit(ml.Data.LoadFromEnumerable(TinyData.Interactions()));

    [Fact]
    public void TheLibraryDefaultsHaveNoTimeBudget()
    {
        var defaults = new SrtTrainer.Options();
        Assert.Equal(0, defaults.MaxMinutes);
        Assert.Null(defaults.Seed);
        Assert.Equal(SrtTrainer.Options.DefaultEpochs, defaults.Epochs);
        Assert.Equal(SrtTrainer.Options.DefaultEarlyStoppingPatience, defaults.EarlyStoppingPatience);
    }

    [Fact]
    public void TwoFitsFromTheSameMLContextSeedGiveIdenticalWeights()
    {
        // Options.Seed is not set: each fit draws its seed from a new MLContext(seed: 3). Same process, same bytes: exact.
        var a = new MLContext(seed: 3);
        var b = new MLContext(seed: 3);
        using var first = Fit(a, Tiny(a));
        using var second = Fit(b, Tiny(b));
        var wa = Weights(first);
        var wb = Weights(second);
        Assert.Equal(wa.Keys, wb.Keys);
        foreach (var (name, values) in wa) Assert.True(values.AsSpan().SequenceEqual(wb[name]), $"{name} differs");
        Assert.Equal("epochs", first.Model.TrainingSummary!.StopReason);

        // Another context seed gives another model: the context's seed is what decided.
        var c = new MLContext(seed: 4);
        using var third = Fit(c, Tiny(c));
        Assert.Contains(Weights(third), p => !p.Value.AsSpan().SequenceEqual(wa[p.Key]));
    }

    [Fact]
    public void OptionsSeedWinsOverTheMLContextSeed()
    {
        var a = new MLContext(seed: 3);
        var b = new MLContext(seed: 4);
        using var first = Fit(a, Tiny(a, seed: 7));
        using var second = Fit(b, Tiny(b, seed: 7));
        var wb = Weights(second);
        foreach (var (name, values) in Weights(first)) Assert.True(values.AsSpan().SequenceEqual(wb[name]), $"{name} differs");
    }

    [Fact]
    public void CancellingTheMLContextStopsAFitAsTheTokenDoes()
    {
        // ML.NET 6 keeps MLContext.CancelExecution internal (its AutoML calls it); call it as ML.NET would.
        var cancel = typeof(MLContext).GetMethod("CancelExecution", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!;
        var ml = new MLContext(seed: 1);
        var options = Tiny(ml);
        options.Epochs = 20;
        options.Progress = new Synchronous(r => { if (r.Epoch == 2) cancel.Invoke(ml, null); });
        using var cancelled = Fit(ml, options);
        Assert.Equal("cancelled", cancelled.Model.TrainingSummary!.StopReason);
        Assert.Equal(2, cancelled.Model.TrainingSummary.Epochs.Count);

        var tokenContext = new MLContext(seed: 1);
        using var source = new CancellationTokenSource();
        var byToken = Tiny(tokenContext);
        byToken.Epochs = 20;
        byToken.CancellationToken = source.Token;
        byToken.Progress = new Synchronous(r => { if (r.Epoch == 2) source.Cancel(); });
        using var stopped = Fit(tokenContext, byToken);
        Assert.Equal("cancelled", stopped.Model.TrainingSummary!.StopReason);
        Assert.Equal(2, stopped.Model.TrainingSummary.Epochs.Count);
    }

    /// <summary>IProgress that reports on the training thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Synchronous(Action<SrtEpochReport> report) : IProgress<SrtEpochReport>
    {
        public void Report(SrtEpochReport value) => report(value);
    }
}
