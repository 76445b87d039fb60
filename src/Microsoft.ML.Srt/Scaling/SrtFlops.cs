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
    /// catalog's real token counts (the catalog is tokenized as training would tokenize it). A fine-tune
    /// (<see cref="SrtTrainer.Options.InitialModel"/> or <see cref="SrtTrainer.Options.InitialModelPath"/>) is counted at the
    /// pre-trained model's size, reading items with its featurizer, as training builds it.
    /// </summary>
    public static SrtTrainingFlops ForTraining(SrtTrainer.Options options, InteractionSequences train) => ForTrainingWithShape(options, train, out _);

    /// <summary><see cref="ForTraining(SrtTrainer.Options, InteractionSequences)"/>, with the network shape it counted.</summary>
    internal static SrtTrainingFlops ForTrainingWithShape(SrtTrainer.Options options, InteractionSequences train, out SrtNetworkShape shape)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        var trainer = new SrtTrainer(options);
        (var model, shape) = Model(trainer, train.Catalog);
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
        // A fine-tune trains the pre-trained model's shape and reads items with its featurizer, whatever the size options say.
        if (trainer.LoadInitialModel(TorchSharp.torch.CPU) is { } start)
        {
            var (initial, owned) = start;
            try
            {
                // FineTuneLayout refuses id-embedding models, so a fine-tune always reads item text.
                var (tuned, _, tunedShape) = trainer.FineTuneLayout(initial, catalog);
                return (FlopsModel.From(tunedShape, tuned.Featurize(catalog), o, catalog.Count), tunedShape);
            }
            finally
            {
                if (owned) initial.Dispose();
            }
        }
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
