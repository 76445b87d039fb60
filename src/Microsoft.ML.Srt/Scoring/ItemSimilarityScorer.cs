using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;

namespace Microsoft.ML.Srt.Scoring;

/// <summary>
/// Scores items by how alike their vectors are to the last item of the history: cosine similarity of an SRT model's
/// item vectors (what <see cref="SrtRecommender.SimilarItems"/> ranks by), with the last item itself scored lowest. It
/// reads only the model's item encoder, not its sequence encoder, so it suits a catalog the model was not trained on:
/// a model pre-trained on other catalogs and bound to a new one with <see cref="SrtModel.WithCatalog"/> ranks the new
/// items by their text with no training (zero-shot). As an <see cref="IItemScorer"/> it is evaluated by
/// <see cref="NextItemEvaluator"/> like the model itself.
/// </summary>
public sealed class ItemSimilarityScorer : IItemScorer
{
    private readonly SrtModel _model;

    /// <summary>Creates the scorer over <paramref name="model"/>'s catalog; the model is read, not owned (dispose it yourself).</summary>
    public ItemSimilarityScorer(SrtModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
    }

    /// <inheritdoc/>
    public ItemCatalog Catalog => _model.Catalog;

    /// <inheritdoc/>
    public void ScoreBatch(IReadOnlyList<int[]> histories, Memory<float> scores)
    {
        ArgumentNullException.ThrowIfNull(histories);
        int n = Catalog.Count;
        if (scores.Length < histories.Count * n)
            throw new ArgumentException($"{scores.Length} scores for {histories.Count} histories of {n} items.", nameof(scores));
        var last = new int[histories.Count];
        for (int h = 0; h < histories.Count; h++)
        {
            if (histories[h] is not { Length: > 0 } history) throw new ArgumentException($"History {h} is empty.", nameof(histories));
            last[h] = history[^1];
        }
        var rows = scores.Span[..(histories.Count * n)];
        _model.ItemSimilarities(last, rows);
        for (int h = 0; h < last.Length; h++) rows[h * n + last[h]] = float.NegativeInfinity; // an item is not its own neighbour
    }
}
