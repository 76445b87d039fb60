using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Tests.Api;

public sealed class InteractionRow
{
    public string UserId { get; set; } = "";
    public string ItemId { get; set; } = "";
    public float Timestamp { get; set; }
}

public sealed class ItemRow
{
    public string ItemId { get; set; } = "";
    public string Title { get; set; } = "";
}

public sealed class HistoryRow
{
    public string UserId { get; set; } = "";
    public string[] History { get; set; } = [];
}

public sealed class RecommendationRow
{
    public string UserId = "";
    public string[] RecommendedItems = [];
    public float[] RecommendationScores = [];
}

/// <summary>20 items in 4 themes; users walk through one theme in order, so the next item is learnable.</summary>
public static class TinyData
{
    private static readonly string[] _themes = ["red lipstick matte", "nail polish glossy", "hair gel strong", "face cream night"];

    public static ItemRow[] Items() =>
        Enumerable.Range(0, 20).Select(i => new ItemRow { ItemId = $"i{i}", Title = $"{_themes[i / 5]} number {i % 5}" }).ToArray();

    /// <summary>Users u0..u(n-1) with 4-6 items each; rows are written newest first, so only the timestamps give the order.</summary>
    public static List<InteractionRow> Interactions(int users = 24)
    {
        var rows = new List<InteractionRow>();
        for (int u = 0; u < users; u++)
        {
            int theme = u % 4, length = 4 + u % 3;
            for (int k = 0; k < length; k++)
                rows.Add(new InteractionRow { UserId = $"u{u}", ItemId = $"i{theme * 5 + (u + k) % 5}", Timestamp = 10 + k });
            rows.Reverse(rows.Count - length, length);
        }
        return rows;
    }

    public static SrtTrainer.Options TinyOptions(MLContext ml) => new()
    {
        Items = ml.Data.LoadFromEnumerable(Items()),
        TimestampColumnName = "Timestamp",
        Dimension = 16,
        Layers = 1,
        Heads = 1,
        Epochs = 2,
        BatchSize = 8,
        Negatives = 5,
        Device = "cpu",
        TopK = 5,
    };
}
