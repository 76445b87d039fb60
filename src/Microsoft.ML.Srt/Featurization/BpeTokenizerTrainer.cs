using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Srt.Featurization;

/// <summary>
/// Trains a byte-level BPE tokenizer (GPT-2's scheme) on catalog text: text is split by GPT-2's pre-tokenizer
/// pattern, each piece is read as UTF-8 bytes shown as printable characters, and the most frequent adjacent pair is
/// merged until the vocabulary reaches <see cref="Options.VocabularySize"/>. The result is a standard
/// <c>vocab.json</c> + <c>merges.txt</c> pair that Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> loads and
/// encodes with (see <see cref="Load(string)"/>); any text, in any script, encodes, since every byte has a token.
/// </summary>
/// <remarks>
/// Training counts each distinct pre-token once with its frequency, then keeps the count of every adjacent pair and,
/// per pair, the words that hold it. A merge rewrites only those words and adjusts the counts of the pairs they gain
/// and lose; a priority queue (stale entries re-queued when popped) yields the next pair. Ties go to the pair whose
/// tokens were created first, so the same text always gives the same files.
/// </remarks>
public static partial class BpeTokenizerTrainer
{
    /// <summary>The vocabulary file's name (a JSON object from token to id), as Hugging Face and GPT-2 name it.</summary>
    public const string VocabularyFileName = "vocab.json";

    /// <summary>The merges file's name (<c>#version: 0.2</c>, then one merge per line, highest priority first).</summary>
    public const string MergesFileName = "merges.txt";

    /// <summary>Options of <see cref="Train(IEnumerable{string}, string, Options?)"/>.</summary>
    public sealed class Options
    {
        /// <summary>Tokens in the vocabulary: the 256 byte tokens plus one per learned merge. At least 257. Default 30,000.
        /// Training stops earlier when the text has no pair left to merge.</summary>
        public int VocabularySize = Defaults.VocabularySize;

        /// <summary>Lower-case the text before training (default true): SRT lower-cases item text before tokenizing it.</summary>
        public bool LowerCase = true;
    }

    /// <summary>Default option values.</summary>
    public static class Defaults
    {
        /// <summary>The paper's vocabulary size.</summary>
        public const int VocabularySize = 30_000;
    }

    /// <summary>
    /// Trains on <paramref name="texts"/>, writes <see cref="VocabularyFileName"/> and <see cref="MergesFileName"/> to
    /// <paramref name="outputDirectory"/> (created if missing), and returns the tokenizer loaded from them.
    /// </summary>
    /// <param name="texts">The training text, for example every item title of the catalogs. Null and blank entries are skipped.</param>
    /// <param name="outputDirectory">Where the two files go.</param>
    /// <param name="options">Vocabulary size and case handling; defaults when null.</param>
    /// <exception cref="ArgumentException">The text is empty, or an option is out of range (the message names it).</exception>
    public static BpeTokenizer Train(IEnumerable<string> texts, string outputDirectory, Options? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        var model = TrainModel(texts, options ?? new Options());
        Directory.CreateDirectory(outputDirectory);
        File.WriteAllBytes(Path.Combine(outputDirectory, VocabularyFileName), model.VocabularyJson);
        File.WriteAllBytes(Path.Combine(outputDirectory, MergesFileName), model.MergesText);
        return Load(outputDirectory);
    }

    /// <summary>
    /// Loads a byte-level BPE tokenizer from <paramref name="directory"/>'s <see cref="VocabularyFileName"/> and
    /// <see cref="MergesFileName"/>, with GPT-2's pre-tokenizer and byte-level encoding (what the files were trained for).
    /// The result can be given to <c>SrtTrainer.Options.Tokenizer</c>; its vocabulary size is inferred and a model file stores it.
    /// </summary>
    /// <param name="directory">The folder <see cref="Train(IEnumerable{string}, string, Options?)"/> wrote.</param>
    public static BpeTokenizer Load(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var vocabulary = File.ReadAllBytes(Path.Combine(directory, VocabularyFileName));
        var merges = File.ReadAllBytes(Path.Combine(directory, MergesFileName));
        return Create(new TrainedBpe(vocabulary, merges, 0, 0));
    }

    /// <summary>The files of a tokenizer this class created (for model files to store), or null for any other tokenizer.</summary>
    internal static TrainedBpe? FilesOf(Tokenizer tokenizer) => _files.TryGetValue(tokenizer, out var files) ? files : null;

    private static readonly ConditionalWeakTable<Tokenizer, TrainedBpe> _files = new();

    /// <summary>Creates the tokenizer from the two files' bytes; the library parses them, as it would from disk.</summary>
    internal static BpeTokenizer Create(TrainedBpe files)
    {
        using var vocabulary = new MemoryStream(files.VocabularyJson, writable: false);
        var vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(vocabulary)
                    ?? throw new InvalidDataException($"{VocabularyFileName} is empty.");
        var merges = Encoding.UTF8.GetString(files.MergesText).Split('\n')
            .Where(line => line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal)).ToList();
        var tokenizer = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(Gpt2Pattern(), null),
        });
        _files.AddOrUpdate(tokenizer, files);
        return tokenizer;
    }

    /// <summary>GPT-2's pre-tokenizer: contractions, letters, digits, other symbols (each with one leading space), spaces.</summary>
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Gpt2Pattern();

    /// <summary>GPT-2's byte-to-character table: printable bytes stand for themselves, the others for characters from U+0100 up.</summary>
    internal static readonly char[] ByteToChar = BuildByteTable();

    private static char[] BuildByteTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    /// <summary>Trains and returns the two files' bytes with the counts to report.</summary>
    internal static TrainedBpe TrainModel(IEnumerable<string> texts, Options options)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(options);
        if (options.VocabularySize <= 256)
            throw new ArgumentException(
                $"{nameof(Options)}.{nameof(Options.VocabularySize)} is {options.VocabularySize}; it must be at least 257 (256 byte tokens plus at least one merge).",
                nameof(options));

        var words = CountWords(texts, options.LowerCase);
        if (words.Count == 0)
            throw new ArgumentException("The training text is empty: no non-blank text was given.", nameof(texts));

        var tokens = new List<string>(options.VocabularySize);
        var ids = new Dictionary<string, int>(options.VocabularySize, StringComparer.Ordinal);
        for (int b = 0; b < 256; b++)
        {
            tokens.Add(ByteToChar[b].ToString());
            ids.Add(tokens[b], b);
        }
        var merges = new List<(int Left, int Right)>();
        new PairMerger(words).Run(tokens, ids, merges, options.VocabularySize);

        var vocabulary = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int id = 0; id < tokens.Count; id++) vocabulary[tokens[id]] = id;
        var json = JsonSerializer.SerializeToUtf8Bytes(vocabulary, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var text = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in merges) text.Append(tokens[left]).Append(' ').Append(tokens[right]).Append('\n');
        return new TrainedBpe(json, Encoding.UTF8.GetBytes(text.ToString()), tokens.Count, merges.Count);
    }

    /// <summary>Distinct pre-tokens as byte-token id sequences, with their frequencies, in first-seen order.</summary>
    private static List<(int[] Symbols, long Count)> CountWords(IEnumerable<string> texts, bool lowerCase)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<(string Word, long Count)>();
        var regex = Gpt2Pattern();
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var raw in texts)
        {
            if (string.IsNullOrWhiteSpace(raw)) continue;
            var text = lowerCase ? raw.ToLowerInvariant() : raw;
            foreach (var match in regex.EnumerateMatches(text))
            {
                var piece = text.AsSpan(match.Index, match.Length);
                if (lookup.TryGetValue(piece, out int index)) order[index] = (order[index].Word, order[index].Count + 1);
                else
                {
                    var word = piece.ToString();
                    counts.Add(word, order.Count);
                    order.Add((word, 1));
                }
            }
        }
        var result = new List<(int[] Symbols, long Count)>(order.Count);
        foreach (var (word, count) in order)
        {
            var bytes = Encoding.UTF8.GetBytes(word);
            var symbols = new int[bytes.Length];
            for (int k = 0; k < bytes.Length; k++) symbols[k] = bytes[k];
            result.Add((symbols, count));
        }
        return result;
    }

    /// <summary>The merge loop: pair counts, the words holding each pair, and a max-queue over pairs.</summary>
    private sealed class PairMerger
    {
        private readonly List<(int[] Symbols, long Count)> _words;
        private readonly Dictionary<long, long> _pairCounts = new();
        private readonly Dictionary<long, List<int>> _pairWords = new();
        // Highest count first; among equal counts the smaller key (older left token, then older right token).
        private readonly PriorityQueue<long, (long NegativeCount, long Key)> _queue = new();

        public PairMerger(List<(int[] Symbols, long Count)> words)
        {
            _words = words;
            for (int w = 0; w < words.Count; w++)
            {
                var (symbols, count) = words[w];
                for (int k = 0; k + 1 < symbols.Length; k++)
                {
                    long key = Key(symbols[k], symbols[k + 1]);
                    _pairCounts[key] = _pairCounts.GetValueOrDefault(key) + count;
                    AddWord(key, w);
                }
            }
            foreach (var (key, count) in _pairCounts) _queue.Enqueue(key, (-count, key));
        }

        private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

        private void AddWord(long key, int word)
        {
            if (!_pairWords.TryGetValue(key, out var list)) _pairWords[key] = list = new List<int>();
            if (list.Count == 0 || list[^1] != word) list.Add(word);
        }

        public void Run(List<string> tokens, Dictionary<string, int> ids, List<(int, int)> merges, int vocabularySize)
        {
            var gained = new HashSet<long>();
            while (tokens.Count < vocabularySize && _queue.TryDequeue(out long key, out var priority))
            {
                long count = _pairCounts.GetValueOrDefault(key);
                if (count <= 0) continue;
                if (count != -priority.NegativeCount)
                {
                    _queue.Enqueue(key, (-count, key)); // stale entry: its count fell since it was queued
                    continue;
                }
                int left = (int)(key >> 32), right = (int)key;
                var merged = tokens[left] + tokens[right];
                if (!ids.TryGetValue(merged, out int id))
                {
                    id = tokens.Count;
                    tokens.Add(merged);
                    ids.Add(merged, id);
                }
                merges.Add((left, right));
                gained.Clear();
                foreach (int w in _pairWords[key]) Rewrite(w, left, right, id, gained);
                _pairWords.Remove(key);
                _pairCounts.Remove(key);
                foreach (long g in gained)
                    if (_pairCounts.TryGetValue(g, out long c) && c > 0) _queue.Enqueue(g, (-c, g));
            }
        }

        /// <summary>Replaces every (left, right) in word <paramref name="w"/> by <paramref name="id"/>, left to right, and moves
        /// the word's pair counts from its old pairs to its new ones. Only pairs with the new token can gain.</summary>
        private void Rewrite(int w, int left, int right, int id, HashSet<long> gained)
        {
            var (symbols, count) = _words[w];
            int found = 0;
            for (int k = 0; k + 1 < symbols.Length; k++)
                if (symbols[k] == left && symbols[k + 1] == right) { found++; k++; }
            if (found == 0) return; // the word lost this pair to an earlier merge
            var next = new int[symbols.Length - found];
            int n = 0;
            for (int k = 0; k < symbols.Length; k++)
            {
                if (k + 1 < symbols.Length && symbols[k] == left && symbols[k + 1] == right) { next[n++] = id; k++; }
                else next[n++] = symbols[k];
            }
            for (int k = 0; k + 1 < symbols.Length; k++)
            {
                long key = Key(symbols[k], symbols[k + 1]);
                _pairCounts[key] -= count;
            }
            for (int k = 0; k + 1 < next.Length; k++)
            {
                long key = Key(next[k], next[k + 1]);
                _pairCounts[key] = _pairCounts.GetValueOrDefault(key) + count;
                if (next[k] == id || next[k + 1] == id)
                {
                    AddWord(key, w);
                    gained.Add(key);
                }
            }
            _words[w] = (next, count);
        }
    }
}

/// <summary>A trained byte-level BPE: the bytes of <c>vocab.json</c> and <c>merges.txt</c>, and (after training) their sizes.</summary>
internal sealed record TrainedBpe(byte[] VocabularyJson, byte[] MergesText, int VocabularySize, int Merges);
