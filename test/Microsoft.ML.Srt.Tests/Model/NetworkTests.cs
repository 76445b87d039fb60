using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Tests.Model;

public class NetworkTests
{
    private static SrtNetworkShape SmallShape(int layers = 2) =>
        new(Dimension: 16, Layers: layers, Heads: 2, MaxLength: 12, Dropout: 0.2, FeedForwardMultiplier: 2,
            UsesText: false, UsesIds: true, TextVocabularySize: 1, TextFieldCount: 0, TokenFieldTableSizes: Array.Empty<int>(), IdTableSize: 40);

    [Fact]
    public void ChangingALaterItemNeverChangesAnEarlierOutput()
    {
        random.manual_seed(3);
        using var network = new SrtNetwork(SmallShape());
        network.eval();
        using var _ = no_grad();
        var rows = new long[] { 5, 9, 2, 17, 30, 4, 8 };
        var changed = (long[])rows.Clone();
        changed[4] = 33; // position 4 and later may change; 0..3 must not
        using var a = network.Encode(network.Items.forward(tensor(rows)).unsqueeze(0));
        using var b = network.Encode(network.Items.forward(tensor(changed)).unsqueeze(0));
        for (int t = 0; t < 4; t++)
            Assert.True(a[0, t].allclose(b[0, t], rtol: 0, atol: 1e-6), $"output at position {t} changed");
        Assert.False(a[0, 4].allclose(b[0, 4], rtol: 0, atol: 1e-6), "the changed position's output should change");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    [InlineData(0)]
    public void ForwardLastEqualsTheFullForwardAtEachRowsLastPosition(int layers)
    {
        random.manual_seed(5);
        using var network = new SrtNetwork(SmallShape(layers));
        network.eval();
        using var _ = no_grad();
        using var items = randn(4, 9, 16);
        var last = new long[] { 8, 0, 4, 6 };
        using var full = network.Sequences.forward(items);
        using var at = network.Sequences.ForwardLast(items, last);
        Assert.Equal(new long[] { 4, 16 }, at.shape);
        for (int r = 0; r < last.Length; r++)
            Assert.True(at[r].allclose(full[r, last[r]], rtol: 1e-5, atol: 1e-5), $"row {r} (last position {last[r]}) differs");
        using var ends = network.Sequences.ForwardLast(items, [8, 8, 8, 8]); // every row at the end: the unmasked path
        for (int r = 0; r < 4; r++) Assert.True(ends[r].allclose(full[r, 8], rtol: 1e-5, atol: 1e-5), $"row {r} at the end differs");
        Assert.Throws<ArgumentException>(() => network.Sequences.ForwardLast(items, [9, 0, 0, 0]));
        network.train();
        Assert.Throws<InvalidOperationException>(() => network.Sequences.ForwardLast(items, last));
    }

    [Fact]
    public void RightPaddingDoesNotChangeRealPositions()
    {
        random.manual_seed(4);
        using var network = new SrtNetwork(SmallShape());
        network.eval();
        using var _ = no_grad();
        using var short_ = network.Encode(network.Items.forward(tensor(new long[] { 3, 7, 11 })).unsqueeze(0));
        using var padded = network.Encode(network.Items.forward(tensor(new long[] { 3, 7, 11, 0, 0, 0 })).unsqueeze(0));
        Assert.True(short_[0].allclose(padded[0].narrow(0, 0, 3), rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void EveryTensorIsInTheStateDictOnceUnderItsOwnName()
    {
        var shape = new SrtNetworkShape(16, 2, 2, 12, 0.1, 2, UsesText: true, UsesIds: true, TextVocabularySize: 50, TextFieldCount: 1,
            TokenFieldTableSizes: new[] { 20 }, IdTableSize: 40);
        using var network = new SrtNetwork(shape);
        var state = network.state_dict();
        // TorchSharp registers module fields under their C# names unless the module opts out: no such aliases here.
        Assert.DoesNotContain(state.Keys, name => name.Split('.') is [_, var child, ..] && child.StartsWith('_'));
        Assert.Equal(network.parameters().Count(), state.Count);
        Assert.Contains("items.text_tokens.weight", state.Keys);
        Assert.Contains("items.ids.weight", state.Keys);
        Assert.Contains("sequences.blocks.1._qkv.weight", state.Keys);
        Assert.Contains(SrtNetwork.RepeatBiasName, state.Keys);
    }

    [Fact]
    public void ParameterCountDoesNotDependOnCatalogSize()
    {
        long Count(int items)
        {
            var generator = new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = items, UserCount = 10, Seed = 5 });
            var catalog = generator.CreateCatalog();
            var options = new SrtTrainer.Options { Dimension = 32, Layers = 1, Heads = 2 };
            var featurizer = SrtTrainer.CreateFeaturizer(options, catalog, usesText: true);
            var shape = new SrtNetworkShape(32, 1, 2, 50, 0.1, 4, true, false, featurizer.TextVocabularySize,
                featurizer.TextFieldCaps.Count, featurizer.TokenFieldVocabularies.Values.Select(v => v.TableSize).ToArray(), catalog.Count + 1);
            using var network = new SrtNetwork(shape);
            Assert.Equal(items, catalog.Count);
            return network.ParameterCount();
        }
        Assert.Equal(Count(1_000), Count(1_000_000));
    }

    [Fact]
    public void LazyAdamWMatchesDenseAdamWOnTouchedRowsAndLeavesOthersAlone()
    {
        random.manual_seed(11);
        using var table = new LazyEmbedding("t", 6, 3);
        table.train();
        using var dense = new TorchSharp.Modules.Parameter(table.Weight.detach().clone());
        using var untouchedBefore = table.Weight[4].clone();
        using var adam = optim.AdamW(new[] { dense }, lr: 0.1, weight_decay: 0.01);
        using var lazy = new LazyAdamW(new[] { table }, weightDecay: 0.01);
        var ids = tensor(new long[] { 1, 2, 2, 3, 5 });
        var target = tensor(new float[] { 1, -2, 0.5f, 3, 1, -1, 0, 2, 1, -3, 1, 0.5f, 2, 2, -1 }).view(5, 3);
        for (int step = 0; step < 3; step++)
        {
            var lazyLoss = (table.Lookup(ids) - target).pow(2).sum();
            lazyLoss.backward();
            lazy.Step(0.1, lazy.CollectGradients());

            adam.zero_grad();
            var denseLoss = (dense.index_select(0, ids) - target).pow(2).sum();
            denseLoss.backward();
            adam.step();
        }
        foreach (var row in new[] { 1L, 2, 3, 5 })
            Assert.True(table.Weight[row].allclose(dense[row], rtol: 1e-5, atol: 1e-6), $"row {row} differs from AdamW");
        Assert.True(table.Weight[4].allclose(untouchedBefore, rtol: 0, atol: 0), "an untouched row changed");
    }

    [Fact]
    public void FlatAdamWTrainsModulesExactlyAsTorchSharpsAdamW()
    {
        // Two copies of the same small network; one trained by TorchSharp's AdamW, one by FlatAdamW, which re-points the
        // parameters into its own buffer. Forward passes must keep reading the re-pointed parameters, steps must match.
        random.manual_seed(5);
        static nn.Module<Tensor, Tensor> Net() => nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.Linear(6, 2));
        using var reference = Net();
        using var flat = Net();
        flat.load_state_dict(reference.state_dict());
        var initial = reference.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
        using var adam = optim.AdamW(reference.parameters(), lr: 0.05, weight_decay: 0.1);
        using var ours = new FlatAdamW(flat.parameters(), weightDecay: 0.1);
        var input = randn(8, 4);
        var target = randn(8, 2);
        for (int step = 0; step < 4; step++)
        {
            adam.zero_grad();
            (reference.forward(input) - target).pow(2).mean().backward();
            adam.step();

            ours.ZeroGrad();
            (flat.forward(input) - target).pow(2).mean().backward();
            ours.Step(0.05, ours.Gradient);
        }
        var expected = reference.state_dict();
        foreach (var (name, value) in flat.state_dict())
        {
            Assert.False(value.allclose(initial[name]), $"{name} did not change");
            Assert.True(value.allclose(expected[name], rtol: 1e-5, atol: 1e-6), $"{name} differs from AdamW");
        }
        Assert.True(flat.forward(input).allclose(reference.forward(input), rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void FlatAdamWStartsEveryParameterOn64BytesAndKeepsTheGapsZero()
    {
        // Odd sizes (1, 5, 15, 30, ...) so that packing without gaps would put most parameters off a 64-byte boundary.
        random.manual_seed(6);
        using var net = nn.Sequential(nn.Linear(3, 5), nn.LayerNorm(5), nn.Linear(5, 3));
        var bias = nn.Parameter(zeros(1));
        var parameters = net.parameters().Prepend(bias).ToArray();
        using var optimizer = new FlatAdamW(parameters, weightDecay: 0.1);
        long start = AlignedStorage.Address(parameters[0]);
        foreach (var p in parameters)
        {
            Assert.Equal(0, AlignedStorage.Address(p) % AlignedStorage.Bytes);
            Assert.Equal((long)parameters[0].storage<float>().data_ptr(), (long)p.storage<float>().data_ptr()); // one buffer
            Assert.Equal(0, AlignedStorage.Address(p.grad!) % AlignedStorage.Bytes);
        }
        // Where each parameter lies in the buffer, in floats from its start; everything else is gap.
        var owned = new bool[optimizer.Gradient.numel()];
        foreach (var p in parameters)
            for (long k = 0, at = (AlignedStorage.Address(p) - start) / sizeof(float); k < p.numel(); k++) owned[at + k] = true;
        Assert.Contains(false, owned);

        var input = randn(8, 3);
        var target = randn(8, 3);
        for (int step = 0; step < 3; step++)
        {
            optimizer.ZeroGrad();
            ((net.call(input) + bias) - target).pow(2).mean().backward();
            var gradient = optimizer.Gradient.data<float>().ToArray();
            Assert.All(Enumerable.Range(0, owned.Length).Where(k => !owned[k]), k => Assert.Equal(0f, gradient[k]));
            // So the norm that clipping reads is the parameters' own.
            using (no_grad())
            {
                double own = Math.Sqrt(parameters.Sum(p => p.grad!.pow(2).sum().item<float>()));
                Assert.Equal(own, optimizer.Gradient.norm().item<float>(), 1e-5 * own);
            }
            optimizer.Step(0.05, optimizer.Gradient);
            // The weights' gaps stay zero (a weight there would mean the update moved them: decay or moments).
            var weights = parameters[0].storage<float>().ToArray().AsSpan((int)parameters[0].storage_offset(), owned.Length).ToArray();
            Assert.All(Enumerable.Range(0, owned.Length).Where(k => !owned[k]), k => Assert.Equal(0f, weights[k]));
        }
        Assert.NotEqual(0f, bias.item<float>());
    }
}
