namespace Microsoft.ML.Srt.Model;

/// <summary>Everything that fixes the network's parameter shapes; saved with a model.</summary>
internal sealed record SrtNetworkShape(
    int Dimension,
    int Layers,
    int Heads,
    int MaxLength,
    double Dropout,
    int FeedForwardMultiplier,
    bool UsesText,
    bool UsesIds,
    int TextVocabularySize,
    int TextFieldCount,
    int[] TokenFieldTableSizes,
    int IdTableSize);
