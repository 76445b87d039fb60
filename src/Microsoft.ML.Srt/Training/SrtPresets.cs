namespace Microsoft.ML.Srt.Training;

/// <summary>Named model sizes: the paper's Table 3 (layers-heads-d) and a small default that suits a CPU.</summary>
public static class SrtPresets
{
    /// <summary>The default preset's name.</summary>
    public const string Default = "cpu-small";

    /// <summary>Every preset: name → (layers, heads, d).</summary>
    public static IReadOnlyDictionary<string, (int Layers, int Heads, int Dimension)> All { get; } =
        new Dictionary<string, (int, int, int)>(StringComparer.OrdinalIgnoreCase)
        {
            [Default] = (2, 2, 64),
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
