using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>Analytic FLOPs of SRT training and scoring (docs/scaling.md, "Accounting").</summary>
public static class SrtFlops
{
    /// <summary>
    /// The compute of training with <paramref name="options"/> on <paramref name="train"/>: what the trainer feeds, counted
    /// from the real sequence lengths (users with two or more interactions, each cut to its last MaxLength + 1 items) and the
    /// catalog's real token counts (the catalog is tokenized as training would tokenize it).
    /// </summary>
    public static SrtTrainingFlops ForTraining(SrtTrainer.Options options, InteractionSequences train)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        var trainer = new SrtTrainer(options);
        var (model, shape) = Model(trainer, train.Catalog);
        var (total, nonEmbedding) = FlopsModel.Parameters(shape);
        var lengths = PositionCounts(train, shape.MaxLength);
        var histories = Enumerable.Range(0, train.UserCount).Select(u => train.GetLength(u)).ToArray();
        return new SrtTrainingFlops
        {
            Parameters = total,
            NonEmbeddingParameters = nonEmbedding,
            Interactions = train.InteractionCount,
            Sequences = lengths.Length,
            PositionsPerEpoch = lengths.Sum(l => (long)l),
            StepsPerEpoch = (lengths.Length + options.BatchSize - 1) / options.BatchSize,
            FlopsPerEpoch = FlopsModel.TrainingMultiplier * model.EpochForward(lengths),
            CatalogEncodingFlops = model.CatalogEncoding(),
            ScoringFlopsPerUser = histories.Length == 0 ? 0 : histories.Average(h => model.ScoringForward(h)),
        };
    }

    /// <summary>Real positions of each training sequence, as <c>SrtTrainingSession</c> builds them: users with two or more
    /// interactions, each cut to its last <paramref name="maxLength"/> + 1 items, which give that many minus one positions.</summary>
    internal static int[] PositionCounts(InteractionSequences train, int maxLength) =>
        Enumerable.Range(0, train.UserCount).Select(train.GetLength).Where(n => n >= 2).Select(n => Math.Min(n, maxLength + 1) - 1).ToArray();

    /// <summary>The flops model and network shape <paramref name="trainer"/> would build for <paramref name="catalog"/>.</summary>
    internal static (FlopsModel Model, SrtNetworkShape Shape) Model(SrtTrainer trainer, ItemCatalog catalog)
    {
        var o = trainer.TrainerOptions;
        var (layers, heads, dimension) = SrtTrainer.ResolveSize(o);
        bool usesText = o.ItemRepresentation != ItemRepresentation.Id;
        var featurizer = SrtTrainer.CreateFeaturizer(o, catalog, usesText);
        var fields = usesText ? featurizer.Featurize(catalog) : Array.Empty<Featurization.ItemTokenMatrix>();
        var shape = new SrtNetworkShape(dimension, layers, heads, o.MaxLength, o.Dropout, o.FeedForwardMultiplier,
            usesText, o.ItemRepresentation != ItemRepresentation.Text, featurizer.TextVocabularySize,
            featurizer.TextFieldCaps.Count, featurizer.TokenFieldVocabularies.Values.Select(v => v.TableSize).ToArray(),
            catalog.Count + 1);
        return (FlopsModel.From(shape, fields, o, catalog.Count), shape);
    }
}
