using Microsoft.ML.Data;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Tests.Api;

/// <summary>
/// <c>mlContext.Transforms.X(...).Append(mlContext.Recommendation().Srt(...)).Fit(interactions)</c>, as ML.NET users write
/// pipelines, and the ways docs/api.md gives to score histories with the fitted chain.
/// </summary>
public sealed class EstimatorChainTests
{
    /// <summary>Interactions whose items are numeric product codes; the catalog names them i0..i19.</summary>
    private sealed class CodedInteraction
    {
        public string UserId { get; set; } = "";
        public int ProductCode { get; set; }
        public float Timestamp { get; set; }
    }

    private static readonly KeyValuePair<int, string>[] Codes =
        Enumerable.Range(0, 20).Select(i => new KeyValuePair<int, string>(1000 + i, $"i{i}")).ToArray();

    private static IDataView CodedInteractions(MLContext ml) => ml.Data.LoadFromEnumerable(TinyData.Interactions()
        .Select(r => new CodedInteraction { UserId = r.UserId, ProductCode = 1000 + int.Parse(r.ItemId[1..]), Timestamp = r.Timestamp }));

    private static SrtTrainer.Options Options(MLContext ml)
    {
        var o = TinyData.TinyOptions(ml);
        o.Seed = 5; // the transforms before SRT draw from the context too; a fixed seed makes the two fits comparable
        return o;
    }

    private static List<RecommendationRow> Read(MLContext ml, IDataView scored) =>
        ml.Data.CreateEnumerable<RecommendationRow>(scored, reuseRowObject: false).ToList();

    private sealed class ScoredHistoryRow
    {
        public string UserId = "";
        public string[] History = [];
    }

    [Fact]
    public void AChainWithATransformBeforeSrtFitsOnInteractionsAndScoresHistories()
    {
        var ml = new MLContext(seed: 1);
        var interactions = CodedInteractions(ml);
        // A real transform derives the ItemId column that SRT reads from the interactions' product codes.
        var pipeline = ml.Transforms.Conversion.MapValue("ItemId", Codes, "ProductCode")
            .Append(ml.Recommendation().Srt(Options(ml)));

        var chainSchema = pipeline.GetOutputSchema(Microsoft.ML.Srt.Persistence.MlNetInternals.SchemaShapeOf(interactions.Schema));
        Assert.Contains(chainSchema, c => c.Name == "RecommendedItems");
        Assert.Contains(chainSchema, c => c.Name == "ItemId");

        TransformerChain<SrtTransformer> chain = pipeline.Fit(interactions);
        using var srt = chain.LastTransformer;
        Assert.Equal(2, srt.Model.TrainingSummary!.Epochs.Count);

        // The same fit without the chain (interactions that already carry ItemId) gives the same model.
        var plain = new MLContext(seed: 1);
        using var direct = plain.Recommendation().Srt(Options(plain)).Fit(plain.Data.LoadFromEnumerable(TinyData.Interactions()));
        var histories = SrtTransformer.HistoriesFromInteractions(ml.Data.LoadFromEnumerable(TinyData.Interactions()), timestampColumnName: "Timestamp");
        var expected = Read(plain, direct.Transform(histories));

        // 1. The fitted chain's last transformer scores histories.
        var last = Read(ml, chain.LastTransformer.Transform(histories));
        Assert.Equal(24, last.Count);
        Assert.Equal(expected.Select(r => r.RecommendedItems), last.Select(r => r.RecommendedItems));
        for (int u = 0; u < last.Count; u++)
            for (int k = 0; k < last[u].RecommendationScores.Length; k++)
                Assert.Equal(expected[u].RecommendationScores[k], last[u].RecommendationScores[k], 1e-6);

        // 2. The whole chain runs MapValue first, so it scores rows that carry ProductCode as well as the history.
        var rows = ml.Data.CreateEnumerable<ScoredHistoryRow>(histories, reuseRowObject: false).Select(r => new HistoryWithCode { UserId = r.UserId, History = r.History, ProductCode = 1000 }).ToList();
        var whole = Read(ml, chain.Transform(ml.Data.LoadFromEnumerable(rows)));
        Assert.Equal(expected.Select(r => r.RecommendedItems), whole.Select(r => r.RecommendedItems));

        // 3. Or the preparation is scoped to training, and the chain for scoring is SRT alone.
        var scoped = new EstimatorChain<ITransformer>()
            .Append(ml.Transforms.Conversion.MapValue("ItemId", Codes, "ProductCode"), TransformerScope.Training)
            .Append(ml.Recommendation().Srt(Options(ml)));
        var scopedChain = scoped.Fit(interactions);
        using var scopedSrt = scopedChain.LastTransformer;
        var scoring = scopedChain.GetModelFor(TransformerScope.Scoring);
        Assert.Single(scoring);
        var viaScope = Read(ml, scoring.Transform(histories));
        Assert.Equal(expected.Select(r => r.RecommendedItems), viaScope.Select(r => r.RecommendedItems));

        // The view EstimatorChain.Fit builds over the training interactions: input columns read, outputs say what is missing.
        var overInteractions = chain.Transform(interactions);
        Assert.Equal(TinyData.Interactions().Count, ml.Data.CreateEnumerable<CodedInteraction>(overInteractions, reuseRowObject: false).Count());
        var error = Assert.Throws<SrtDataException>(() => Read(ml, overInteractions));
        Assert.Contains("'History' is missing", error.Message);
        Assert.Contains("EstimatorChain", error.Message);
    }

    [Fact]
    public void AChainWhoseInteractionsLackTheItemColumnFailsBeforeTraining()
    {
        var ml = new MLContext(seed: 1);
        var pipeline = ml.Transforms.CopyColumns("Product", "ProductCode").Append(ml.Recommendation().Srt(Options(ml)));
        var error = Assert.Throws<SrtDataException>(() => pipeline.Fit(CodedInteractions(ml)));
        Assert.Contains("'ItemId' (ItemColumnName) is missing", error.Message);
        Assert.Contains("ProductCode", error.Message); // the message lists the columns it found
    }

    private sealed class HistoryWithCode
    {
        public string UserId { get; set; } = "";
        public string[] History { get; set; } = [];
        public int ProductCode { get; set; }
    }
}
