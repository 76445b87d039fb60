namespace Microsoft.ML.Srt.Featurization;

/// <summary>
/// One field's tokens for every item of a catalog, as a dense row-major matrix <c>[items + 1, Width]</c>
/// of embedding rows. Row 0 is the padding item; 0 is the padding token. Built once per catalog.
/// </summary>
internal sealed class ItemTokenMatrix
{
    internal ItemTokenMatrix(string field, bool isText, int width, long[] tokens)
    {
        Field = field;
        IsText = isText;
        Width = width;
        Tokens = tokens;
    }

    /// <summary>The catalog field this matrix holds.</summary>
    public string Field { get; }

    /// <summary>True for a free-text field (tokenizer rows), false for a token-list field (its own table).</summary>
    public bool IsText { get; }

    /// <summary>Tokens kept per item (the field's cap, shrunk to the longest item).</summary>
    public int Width { get; }

    /// <summary>Row-major <c>[items + 1, Width]</c> token rows, 0-padded.</summary>
    public long[] Tokens { get; }

    /// <summary>Number of rows, padding item included.</summary>
    public int Rows => Width == 0 ? 0 : Tokens.Length / Width;
}
