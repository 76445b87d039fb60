using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Evaluation;

/// <summary>
/// Anything that can score every item of a catalog for users' histories: <see cref="Scoring.SrtModel"/> (text or id
/// representation) and the <see cref="Scoring.PopularityRecommender"/> baseline implement it, so that
/// <see cref="NextItemEvaluator"/> evaluates them all by the same rules.
/// </summary>
public interface IItemScorer
{
    /// <summary>The items scored; scores are written in this catalog's index order.</summary>
    ItemCatalog Catalog { get; }

    /// <summary>
    /// Scores every catalog item for each history (higher ranks first). <paramref name="scores"/> holds at least
    /// <c>histories.Count * Catalog.Count</c> entries: row <c>i</c>, <c>Catalog.Count</c> long, belongs to
    /// <c>histories[i]</c>. The evaluator calls it from one thread at a time, in batches of up to a few hundred histories.
    /// </summary>
    /// <param name="histories">Catalog indices of each user's items so far, oldest first (never empty).</param>
    /// <param name="scores">The score rows to fill.</param>
    void ScoreBatch(IReadOnlyList<int[]> histories, Memory<float> scores);
}
