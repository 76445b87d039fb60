namespace Microsoft.ML.Srt.Scoring;

/// <summary>
/// Input row of a prediction engine over an <see cref="SrtTransformer"/> with the default column names:
/// <c>mlContext.Model.CreatePredictionEngine&lt;SrtHistoryInput, SrtRecommendationOutput&gt;(transformer)</c>.
/// With other column names, write your own class: a <c>string[]</c> field named like the history column (or
/// marked with <c>[ColumnName]</c>); no <c>[VectorType]</c> is needed, histories have any length.
/// </summary>
public sealed class SrtHistoryInput
{
    /// <summary>The user's item ids, oldest first; ids outside the catalog are skipped.</summary>
    public string[] History = [];
}

/// <summary>Output row of a prediction engine over an <see cref="SrtTransformer"/> with the default column names.</summary>
public sealed class SrtRecommendationOutput
{
    /// <summary>Recommended item ids, best first (empty when no history item was in the catalog).</summary>
    public string[] RecommendedItems = [];

    /// <summary>Their scores, in the same order (cosine similarities, or dot products).</summary>
    public float[] RecommendationScores = [];
}
