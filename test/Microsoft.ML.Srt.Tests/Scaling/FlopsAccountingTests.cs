using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Scaling;
using Microsoft.ML.Srt.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Tests.Scaling;

public class FlopsAccountingTests
{
    private const int D = 16, Items = 40;

    private static SrtNetworkShape TextShape(bool ids = false) =>
        new(Dimension: D, Layers: 2, Heads: 2, MaxLength: 12, Dropout: 0, FeedForwardMultiplier: 2, UsesText: true, UsesIds: ids,
            TextVocabularySize: 100, TextFieldCount: 2, TokenFieldTableSizes: new[] { 30 }, IdTableSize: Items + 1);

    /// <summary>Three fields; every item has 4, 3 and 1 real tokens (the rest padding), so the catalog mean is every item's count.</summary>
    private static List<ItemTokenMatrix> Fields()
    {
        var random = new Random(1);
        ItemTokenMatrix Field(string name, bool text, int width, int real, int table)
        {
            var tokens = new long[(Items + 1) * width];
            for (int i = 1; i <= Items; i++)
                for (int k = 0; k < real; k++) tokens[i * width + k] = 1 + random.Next(table - 1);
            return new ItemTokenMatrix(name, text, width, tokens);
        }
        return new() { Field("title", true, 6, 4, 100), Field("brand", true, 3, 3, 100), Field("categories", false, 2, 1, 30) };
    }

    [Fact]
    public void ParameterCountsMatchTheNetwork()
    {
        foreach (var ids in new[] { false, true })
        {
            random.manual_seed(1);
            using var network = new SrtNetwork(TextShape(ids));
            var (total, nonEmbedding) = FlopsModel.Parameters(network.Shape);
            Assert.Equal(network.ParameterCount(), total);
            Assert.Equal(network.NonEmbeddingParameterCount(), nonEmbedding);
        }
    }

    /// <summary>
    /// The formula against multiply-adds counted from a real forward pass of a tiny network: every weight matrix times the
    /// rows the pass fed it (items through the adapter, positions through each block), attention from the hidden states'
    /// shape, the loss from the query and candidate tensors' shapes, pooling from the tokens actually read.
    /// </summary>
    [Theory]
    [InlineData(NegativeSharing.PerBatch, 8)]
    [InlineData(NegativeSharing.PerSequence, 5)]
    [InlineData(NegativeSharing.PerBatch, 0)]
    public void AStepCostsWhatItsTensorsSay(NegativeSharing sharing, int negatives)
    {
        random.manual_seed(2);
        var shape = TextShape();
        var fields = Fields();
        using var network = new SrtNetwork(shape);
        network.Items.SetCatalog(fields, CPU);
        network.eval();
        using var _ = no_grad();
        const int b = 3, l = 6; // three sequences of 6 real positions each (7 window items), no padding
        // Distinct item rows: windows first, then negatives, none repeated (training encodes each distinct item once).
        var windows = Enumerable.Range(1, b * (l + 1)).Select(i => (long)i).ToArray();
        int sets = negatives == 0 ? 0 : sharing == NegativeSharing.PerSequence ? b : 1;
        var negativeRows = Enumerable.Range(b * (l + 1) + 1, negatives * sets).Select(i => (long)i).ToArray();
        var encodedRows = negatives == 0 ? Enumerable.Range(1, Items).Select(i => (long)i).ToArray() : windows.Concat(negativeRows).ToArray();

        var vectors = network.Items.forward(tensor(encodedRows));
        var inputs = vectors.index_select(0, tensor(Enumerable.Range(0, b).SelectMany(s => Enumerable.Range(s * (l + 1), l)).Select(i => (long)i).ToArray()))
            .view(b, l, D);
        var hidden = network.Encode(inputs);

        double macs = 0, adds = 0;
        // Item encoder: pooling adds every real token's vector; the adapter is one [F·d → d] product per item.
        long items = vectors.shape[0];
        foreach (var f in fields)
            foreach (var row in encodedRows)
                for (int k = 0; k < f.Width; k++) if (f.Tokens[row * f.Width + k] != 0) adds += D;
        var weights = network.named_parameters().Where(p => p.parameter.dim() == 2 && p.name.EndsWith(".weight", StringComparison.Ordinal)).ToList();
        macs += items * weights.Single(p => p.name.StartsWith("items.adapter", StringComparison.Ordinal)).parameter.numel();
        // Sequence encoder: each block's weight matrices once per position; attention QKᵀ and AV over the l × l scores.
        long positions = hidden.shape[0] * hidden.shape[1];
        var blockWeights = weights.Where(p => p.name.StartsWith("sequences.blocks.", StringComparison.Ordinal)).ToList();
        macs += positions * blockWeights.Sum(p => p.parameter.numel());
        int blocks = blockWeights.Select(p => p.name.Split('.')[2]).Distinct().Count();
        macs += blocks * 2.0 * hidden.shape[0] * hidden.shape[1] * hidden.shape[1] * hidden.shape[2];
        // Loss: each query against its target and its candidates; the repeat term's [l, l] history logits per sequence.
        var queries = hidden.view(-1, D);
        long candidates = negatives == 0 ? vectors.shape[0] : 1 + negativeRows.Length / Math.Max(sets, 1);
        macs += queries.shape[0] * candidates * queries.shape[1];
        if (negatives > 0) macs += hidden.shape[0] * hidden.shape[1] * hidden.shape[1] * hidden.shape[2];
        double counted = 2 * macs + adds;

        var options = new SrtTrainer.Options { Negatives = negatives, NegativeSharing = sharing, LearnRepeatBias = true, BatchSize = b };
        var model = FlopsModel.From(shape, fields, options, Items);
        double formula = model.StepForward(Enumerable.Repeat(l, b).ToArray());
        Assert.Equal(1, formula / counted, 1e-12);
        // The epoch of exactly this one batch costs the same; training is three forward passes.
        Assert.Equal(formula, model.EpochForward(Enumerable.Repeat(l, b).ToArray()), formula * 1e-12);
    }

    [Fact]
    public void AnEpochCountsTheSequencesAndPositionsTrainingFeeds()
    {
        var generator = new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = 300, UserCount = 500, Seed = 3 });
        var (_, sequences) = generator.Generate();
        var options = new SrtTrainer.Options { Preset = SrtPresets.CpuSmall, MaxLength = 8, Negatives = 50, BatchSize = 32, Device = "cpu" };
        var flops = SrtFlops.ForTraining(options, sequences);

        // What SrtTrainingSession trains on: users with 2+ items, windows of the last MaxLength + 1.
        random.manual_seed(1);
        var trainer = new SrtTrainer(options);
        using var network = trainer.CreateNetwork(sequences.Catalog, CPU, out _);
        var session = new SrtTrainingSession(network, sequences, options, CPU, _ => { });
        Assert.Equal(session.TrainingSequences, flops.Sequences);
        Assert.Equal((session.TrainingSequences + 31) / 32, flops.StepsPerEpoch);
        long positions = 0;
        for (int u = 0; u < sequences.UserCount; u++)
            if (sequences.GetLength(u) >= 2) positions += Math.Min(sequences.GetLength(u), 9) - 1;
        Assert.Equal(positions, flops.PositionsPerEpoch);
        Assert.Equal(network.ParameterCount(), flops.Parameters);
        Assert.Equal(network.NonEmbeddingParameterCount(), flops.NonEmbeddingParameters);
        Assert.Equal(sequences.InteractionCount, flops.Interactions);
        Assert.Equal(2.5 * flops.FlopsPerEpoch, flops.RunFlops(2.5), 1e-6 * flops.FlopsPerEpoch);

        // More negatives or a wider model cost more; the dense part is about 6 FLOPs per non-embedding parameter per position.
        var wider = SrtFlops.ForTraining(new SrtTrainer.Options { Preset = "2-2-128", MaxLength = 8, Negatives = 50, BatchSize = 32 }, sequences);
        var moreNegatives = SrtFlops.ForTraining(new SrtTrainer.Options { Preset = SrtPresets.CpuSmall, MaxLength = 8, Negatives = 500, BatchSize = 32 }, sequences);
        Assert.True(wider.FlopsPerEpoch > 3 * flops.FlopsPerEpoch);
        Assert.True(moreNegatives.FlopsPerEpoch > flops.FlopsPerEpoch);
        Assert.True(flops.ScoringFlopsPerUser > 2.0 * 64 * 300, "scoring reads every catalog item");
    }
}
