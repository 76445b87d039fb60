using System.Text;

namespace Microsoft.ML.Srt.Featurization;

/// <summary>
/// Maps categorical tokens (category names, attribute ids) to rows of a fixed-size embedding table, so the
/// parameter count never depends on the catalog. Tokens seen when the vocabulary is built get their own row
/// while they fit (most frequent first); every other token, including tokens of items added later, shares
/// one of <see cref="HashBuckets"/> rows chosen by a stable hash (FNV-1a), so new items still get a vector.
/// Row 0 is padding.
/// </summary>
internal sealed class TokenFieldVocabulary
{
    private readonly Dictionary<string, int> _exact;

    private TokenFieldVocabulary(Dictionary<string, int> exact, int tableSize, int hashBuckets)
    {
        _exact = exact;
        TableSize = tableSize;
        HashBuckets = hashBuckets;
    }

    /// <summary>Rows in the embedding table, padding row included.</summary>
    public int TableSize { get; }

    /// <summary>Rows shared by hashing, at the end of the table.</summary>
    public int HashBuckets { get; }

    /// <summary>Tokens with a row of their own, in row order (row = index + 1).</summary>
    public IEnumerable<string> ExactTokens => _exact.OrderBy(p => p.Value).Select(p => p.Key);

    /// <summary>
    /// Builds a vocabulary with <paramref name="tableSize"/> rows: the most frequent tokens of
    /// <paramref name="tokens"/> get exact rows (at most <c>tableSize - 1 - hashBuckets</c>), the rest hash.
    /// </summary>
    public static TokenFieldVocabulary Build(IEnumerable<string> tokens, int tableSize, int hashBuckets)
    {
        if (hashBuckets < 1 || tableSize < hashBuckets + 1)
            throw new ArgumentException("tableSize must exceed hashBuckets, which must be positive.");
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in tokens) counts[t] = counts.TryGetValue(t, out var c) ? c + 1 : 1;
        int capacity = tableSize - 1 - hashBuckets;
        var exact = counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal)
            .Take(capacity).Select((p, i) => (p.Key, Row: i + 1))
            .ToDictionary(p => p.Key, p => p.Row, StringComparer.Ordinal);
        return new TokenFieldVocabulary(exact, tableSize, hashBuckets);
    }

    /// <summary>Restores a vocabulary from its exact tokens in row order (as <see cref="ExactTokens"/> lists them).</summary>
    public static TokenFieldVocabulary FromExactTokens(IEnumerable<string> exactTokens, int tableSize, int hashBuckets)
    {
        var exact = exactTokens.Select((t, i) => (t, i + 1)).ToDictionary(p => p.t, p => p.Item2, StringComparer.Ordinal);
        if (exact.Count > tableSize - 1 - hashBuckets) throw new ArgumentException("Too many exact tokens for the table.");
        return new TokenFieldVocabulary(exact, tableSize, hashBuckets);
    }

    /// <summary>The embedding row of <paramref name="token"/> (never 0).</summary>
    public int RowOf(string token)
    {
        if (_exact.TryGetValue(token, out var row)) return row;
        uint h = 2166136261;
        foreach (var b in Encoding.UTF8.GetBytes(token)) { h ^= b; h *= 16777619; }
        return TableSize - HashBuckets + (int)(h % (uint)HashBuckets);
    }
}
