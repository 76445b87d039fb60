namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// One row of the paper's Beauty table: how it is made (<see cref="TrainOptions"/>: the options added to the default
/// recipe; null for the popularity baseline, which is evaluated, not trained) and the paper's published values.
/// </summary>
internal sealed record BeautyBenchmarkRow(string Name, string Description, string[]? TrainOptions, int? Negatives,
    double? PaperNdcg5 = null, double? PaperHit5 = null)
{
    /// <summary>True for the rows that <c>srt train</c> trains.</summary>
    public bool IsTrained => TrainOptions is not null;
}

/// <summary>The rows of <c>srt benchmark beauty</c>, in the order they run and are shown.</summary>
internal static class BeautyBenchmarkRows
{
    /// <summary>The step that times training and scoring (saved as <c>speed.json</c>); selectable with the rows.</summary>
    public const string Speed = "speed";

    /// <summary>The row whose model and training speed the speed table reports: the default recipe (SRT-1K).</summary>
    public const string DefaultRecipe = "srt-1k";

    // Published full-ranking results on exactly this split (../shared/data/README.md): SRT-1K trained from scratch
    // (the paper's Table 4) and SASRec with full cross-entropy (as quoted there); the paper's values, not ours.
    public static readonly IReadOnlyList<BeautyBenchmarkRow> All =
    [
        new("popularity", "popularity: item counts of the training split (`srt evaluate --baseline popularity`)", null, null),
        new("srt-10", "SRT-10: the default recipe with 10 negatives", ["--negatives", "10"], 10),
        new("srt-100", "SRT-100: the default recipe with 100 negatives", ["--negatives", "100"], 100),
        new("srt-300", "SRT-300: the default recipe with 300 negatives", ["--negatives", "300"], 300),
        new("srt-1k", "SRT-1K: the default recipe (1,000 negatives)", ["--negatives", "1000"], 1000, PaperNdcg5: 0.0360, PaperHit5: 0.0611),
        new("srt-all", "SRT with every item as a negative (full softmax)", ["--negatives", "all"], 0),
        new("sasrec-ce", "SASRec-CE: id embeddings instead of text, full cross-entropy", ["--representation", "id", "--negatives", "all"], 0, PaperNdcg5: 0.0314),
    ];

    /// <summary>Every name <c>--rows</c> accepts, in running order.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. All.Select(r => r.Name), Speed];

    /// <summary>The SRT rows whose only difference is the number of sampled negatives (the trend the paper shows).</summary>
    public static IReadOnlyList<string> NegativesTrend { get; } = ["srt-10", "srt-100", "srt-300", "srt-1k"];
}
