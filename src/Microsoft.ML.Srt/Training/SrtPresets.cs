namespace Microsoft.ML.Srt.Training;

/// <summary>Named model sizes (layers-heads-d): the paper's Table 3, the CPU default and a smaller size for quick CPU runs.</summary>
public static class SrtPresets
{
    /// <summary>
    /// The default preset's name: 2 layers, 2 heads, d = 128 (the paper's 2-2-128). On Amazon Beauty with the 44-minute
    /// budget on 2 CPU cores it beat d = 64 at every point in time (docs/training.md). <see cref="Wide"/> scored higher at
    /// equal dropout, but scores users too slowly for a default model (single-user p50 about 2 ms; docs/training.md).
    /// </summary>
    public const string Default = "2-2-128";

    /// <summary>
    /// 2 layers, 4 heads, d = 256 (the paper's width and heads at 2 layers; not one of its Table 3 sizes): on Amazon
    /// Beauty in the same 44 minutes, both with dropout 0.5, it beat <see cref="Default"/> in every test metric (NDCG@5
    /// 0.0427 vs 0.0415) with 88 epochs to 186. Not measured with the default dropout of 0.3.
    /// </summary>
    public const string Wide = "2-4-256";

    /// <summary>2 layers, 2 heads, d = 64: the smallest size, for quick runs and the step benchmark.</summary>
    public const string CpuSmall = "cpu-small";

    /// <summary>Every preset: name → (layers, heads, d).</summary>
    public static IReadOnlyDictionary<string, (int Layers, int Heads, int Dimension)> All { get; } =
        new Dictionary<string, (int, int, int)>(StringComparer.OrdinalIgnoreCase)
        {
            [Wide] = (2, 4, 256),
            [CpuSmall] = (2, 2, 64),
            ["24-4-256"] = (24, 4, 256),
            ["16-4-256"] = (16, 4, 256),
            ["8-4-256"] = (8, 4, 256),
            ["8-4-128"] = (8, 4, 128),
            ["8-2-128"] = (8, 2, 128),
            ["4-2-128"] = (4, 2, 128),
            ["2-2-128"] = (2, 2, 128),
            ["4-2-64"] = (4, 2, 64),
        };
}
