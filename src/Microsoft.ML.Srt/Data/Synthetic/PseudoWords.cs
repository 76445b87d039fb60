namespace Microsoft.ML.Srt.Data.Synthetic;

/// <summary>
/// Distinct pronounceable pseudo-words (<c>Bakozi</c>, <c>Tirema</c>...) for word ids 0..count-1, so that
/// vocabularies scale to millions of items. Ids are scrambled by a bijection before being spelled, so words
/// of neighbouring ids (topics 3 and 4) share no prefix that a subword tokenizer could mistake for meaning.
/// </summary>
internal sealed class PseudoWords
{
    private static readonly string[] Syllables = BuildSyllables();
    private readonly int _syllables; // per word; 6 bits each
    private readonly ulong _mask;

    public PseudoWords(long count)
    {
        _syllables = 3;
        while (_syllables < 10 && (1L << (6 * _syllables)) < count) _syllables++;
        _mask = (1UL << (6 * _syllables)) - 1;
    }

    /// <summary>The word of <paramref name="id"/>, capitalised.</summary>
    public string Capitalized(long id)
    {
        ulong x = Scramble((ulong)id);
        Span<char> chars = stackalloc char[2 * _syllables];
        for (int s = 0; s < _syllables; s++)
        {
            var syllable = Syllables[(int)(x & 63)];
            chars[2 * s] = syllable[0];
            chars[2 * s + 1] = syllable[1];
            x >>= 6;
        }
        chars[0] = char.ToUpperInvariant(chars[0]);
        return new string(chars);
    }

    // Adding a constant, multiplying by an odd constant and xor-shifts are each bijective modulo 2^bits.
    private ulong Scramble(ulong x)
    {
        int bits = 6 * _syllables;
        x = ((x + 0x2545F491UL) * 0x9E3779B97F4A7C15UL) & _mask;
        x ^= x >> (bits / 2 + 1);
        x = (x * 0xBF58476D1CE4E5B9UL) & _mask;
        x ^= x >> (bits / 3 + 1);
        return x;
    }

    private static string[] BuildSyllables()
    {
        const string consonants = "bdfghklmnprstvwz", vowels = "aeio";
        var list = new string[64];
        for (int c = 0; c < 16; c++)
            for (int v = 0; v < 4; v++) list[c * 4 + v] = $"{consonants[c]}{vowels[v]}";
        return list;
    }
}
