using Microsoft.ML.Runtime;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt;

/// <summary>
/// Entry points on <see cref="MLContext"/>: <c>mlContext.Recommendation().Srt(...)</c>, and the alias
/// <c>mlContext.SrtRecommendation().Srt(...)</c> for applications that also import the official
/// Microsoft.ML.Recommender package, whose <c>Recommendation()</c> would otherwise be ambiguous (docs/api.md).
/// </summary>
public static class SrtCatalogExtensions
{
    /// <summary>The recommendation catalog of this package (SRT). Ambiguous when Microsoft.ML.Recommender is also imported: use <see cref="SrtRecommendation"/> there.</summary>
    public static SrtRecommendationCatalog Recommendation(this MLContext mlContext) => new(mlContext);

    /// <summary>The same catalog as <see cref="Recommendation"/> under a name that never collides with Microsoft.ML.Recommender's.</summary>
    public static SrtRecommendationCatalog SrtRecommendation(this MLContext mlContext) => new(mlContext);
}

/// <summary>Recommendation trainers and evaluation of Microsoft.ML.Srt, reached through <see cref="SrtCatalogExtensions.Recommendation"/>.</summary>
public sealed class SrtRecommendationCatalog
{
    private readonly MLContext _mlContext;

    internal SrtRecommendationCatalog(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        _mlContext = mlContext;
    }

    /// <summary>
    /// An SRT trainer configured by <paramref name="options"/>. Fit reads interactions (one row per user-item
    /// interaction) and returns an <see cref="SrtTransformer"/>; progress is logged through the MLContext's log.
    /// </summary>
    public SrtTrainer Srt(SrtTrainer.Options options) => SrtTrainer.Create(_mlContext, options);

    /// <summary>
    /// An SRT trainer from the most used settings; every other option keeps its <see cref="SrtTrainer.Options"/> default.
    /// </summary>
    /// <param name="userColumnName">The user id column of the interactions (text, integer or key).</param>
    /// <param name="itemColumnName">The item id column of the interactions (text, integer or key).</param>
    /// <param name="timestampColumnName">The numeric column that orders each user's interactions; null keeps row order.</param>
    /// <param name="items">The item catalog: an <c>ItemId</c> column plus text (and token-list) columns. SRT needs it.</param>
    /// <param name="preset">The model size (<see cref="SrtPresets"/>).</param>
    /// <param name="negatives">Sampled negatives per step; 0 means every catalog item.</param>
    /// <param name="epochs">Training epochs.</param>
    public SrtTrainer Srt(string userColumnName = "UserId", string itemColumnName = "ItemId", string? timestampColumnName = null,
        IDataView? items = null, string preset = SrtPresets.Default, int negatives = SrtTrainer.Options.DefaultNegatives, int epochs = SrtTrainer.Options.DefaultEpochs) =>
        Srt(new SrtTrainer.Options
        {
            UserColumnName = userColumnName,
            ItemColumnName = itemColumnName,
            TimestampColumnName = timestampColumnName,
            Items = items,
            Preset = preset,
            Negatives = negatives,
            Epochs = epochs,
        });

    /// <summary>
    /// Next-item evaluation of a fitted SRT transformer: reads <paramref name="interactions"/> (one row per interaction;
    /// columns from <paramref name="options"/>) against the model's catalog, makes each user's last interaction the
    /// target and the earlier ones the history, ranks the target (full catalog or sampled negatives, history masked or
    /// not, ties pessimistic) and averages NDCG@K, HIT@K and MRR. Pass all interactions of a model fitted on all but each
    /// user's last one to get the leave-one-out test metrics of <c>srt train</c> (docs/evaluation.md).
    /// </summary>
    /// <param name="model">The fitted transformer (its <see cref="Scoring.SrtTransformer.Model"/> scores).</param>
    /// <param name="interactions">Interactions including the targets: user, item and (optionally) timestamp columns.</param>
    /// <param name="options">Protocol, masking, cut-offs and columns; null: the defaults of <see cref="SrtEvaluationOptions"/>.</param>
    public NextItemMetrics Evaluate(Scoring.SrtTransformer model, IDataView interactions, SrtEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return NextItemEvaluator.Evaluate(model.Model, interactions, options);
    }

    /// <summary>
    /// The same evaluation (see <see cref="Evaluate(Scoring.SrtTransformer, IDataView, SrtEvaluationOptions?)"/>) for any
    /// scorer: an <see cref="Scoring.SrtModel"/> of any item representation, or the <see cref="Scoring.PopularityRecommender"/> baseline.
    /// </summary>
    /// <param name="scorer">The model or baseline; the interactions are read against its catalog.</param>
    /// <param name="interactions">Interactions including the targets.</param>
    /// <param name="options">Protocol, masking, cut-offs and columns; null: the defaults of <see cref="SrtEvaluationOptions"/>.</param>
    public NextItemMetrics Evaluate(IItemScorer scorer, IDataView interactions, SrtEvaluationOptions? options = null) =>
        NextItemEvaluator.Evaluate(scorer, interactions, options);

    /// <summary>Evaluates explicit cases (histories and targets over the scorer's catalog, e.g. <see cref="LeaveOneOutSplit.Test"/>).</summary>
    /// <param name="scorer">The model or baseline.</param>
    /// <param name="cases">The cases; their catalog must hold the scorer's items in the same order.</param>
    /// <param name="options">Protocol, masking and cut-offs (the column options do not apply); null: the defaults of <see cref="SrtEvaluationOptions"/>.</param>
    public NextItemMetrics Evaluate(IItemScorer scorer, EvaluationCases cases, SrtEvaluationOptions? options = null) =>
        NextItemEvaluator.Evaluate(scorer, cases, options);
}
