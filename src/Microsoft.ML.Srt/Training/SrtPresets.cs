namespace Microsoft.ML.Srt.Training;

/// <summary>Named model sizes: the paper's Table 3 (layers-heads-d) and a smaller size for quick CPU runs.</summary>
public static class SrtPresets
{
    /// <summary>
    /// The default preset's name: 2 layers, 2 heads, d = 128 (the paper's 2-2-128). On Amazon Beauty with a 40-minute
    /// budget on 2 CPU cores it beat d = 64 by 17% in test NDCG@5 (docs/training.md).
    /// </summary>
    public const string Default = "2-2-128";

    /// <summary>2 layers, 2 heads, d = 64: the smallest size, for quick runs and the step benchmark.</summary>
    public const string CpuSmall = "cpu-small";

    /// <summary>Every preset: name → (layers, heads, d).</summary>
    public static IReadOnlyDictionary<string, (int Layers, int Heads, int Dimension)> All { get; } =
        new Dictionary<string, (int, int, int)>(StringComparer.OrdinalIgnoreCase)
        {
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
