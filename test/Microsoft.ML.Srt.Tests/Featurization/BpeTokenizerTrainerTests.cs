using System.Text.Json;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Srt.Tests.Featurization;

public class BpeTokenizerTrainerTests
{
    /// <summary>A small catalog-like corpus, repeated words so that merges have something to learn.</summary>
    internal static IEnumerable<string> Corpus()
    {
        string[] brands = ["maybelline", "l'oreal", "neutrogena", "revlon", "olay", "nivea"];
        string[] kinds = ["mascara", "lipstick", "moisturizer", "cleanser", "shampoo", "conditioner", "eyeliner"];
        for (int i = 0; i < 300; i++)
            yield return $"{brands[i % brands.Length]} {kinds[i % kinds.Length]} {10 + i % 40} ml, shade #{i % 13}";
        yield return "crème brûlée body lotion – 200 ml";
        yield return "日本製 化粧水 200ml";
    }

    private static BpeTokenizer Train(TempFiles t, int vocabularySize, IEnumerable<string>? texts = null) =>
        BpeTokenizerTrainer.Train(texts ?? Corpus(), t.Folder, new BpeTokenizerTrainer.Options { VocabularySize = vocabularySize });

    [Theory]
    [InlineData("maybelline mascara 25 ml, shade #3")]
    [InlineData("A Brand-New Title, never seen: Zyxwv 9000!")]
    [InlineData("crème brûlée body lotion – 200 ml")]
    [InlineData("日本製 化粧水 200ml 🎮 ünïcödé")]
    [InlineData("  leading and   inner spaces\ttab\nnewline ")]
    public void TheLibraryLoadsTheFilesAndEncodesTextThatDecodesBackToItself(string text)
    {
        using var t = new TempFiles();
        Train(t, 400);
        var tokenizer = BpeTokenizer.Create(new BpeOptions(
            Path.Combine(t.Folder, BpeTokenizerTrainer.VocabularyFileName), Path.Combine(t.Folder, BpeTokenizerTrainer.MergesFileName)));
        Assert.NotEmpty(tokenizer.Vocabulary); // the files are in the library's own format

        var loaded = BpeTokenizerTrainer.Load(t.Folder);
        var ids = loaded.EncodeToIds(text);
        Assert.NotEmpty(ids);
        Assert.All(ids, id => Assert.InRange(id, 0, 399));
        Assert.Equal(text, loaded.Decode(ids));
    }

    [Fact]
    public void LearnedMergesShortenFrequentWordsAndKeepRareOnesAsBytes()
    {
        using var t = new TempFiles();
        var tokenizer = Train(t, 400);
        Assert.Single(tokenizer.EncodeToIds("neutrogena")); // 50 times in the corpus
        Assert.Single(tokenizer.EncodeToIds(" moisturizer")); // about 43 times, after a space
        Assert.True(tokenizer.EncodeToIds("qzxj").Count >= 3, "a string never seen stays close to bytes");
        var merges = File.ReadAllLines(Path.Combine(t.Folder, BpeTokenizerTrainer.MergesFileName));
        Assert.Equal("#version: 0.2", merges[0]);
        Assert.Equal(400 - 256, merges.Length - 1); // no merge produced an existing token on this corpus
    }

    [Theory]
    [InlineData(257)]
    [InlineData(300)]
    [InlineData(350)]
    public void TheVocabularyHasExactlyTheRequestedSize(int size)
    {
        using var t = new TempFiles();
        var tokenizer = Train(t, size);
        Assert.Equal(size, tokenizer.Vocabulary.Count);
        Assert.Equal(Enumerable.Range(0, size), tokenizer.Vocabulary.Values.Order());
    }

    [Fact]
    public void TrainingStopsWhenNoPairIsLeftToMerge()
    {
        using var t = new TempFiles();
        var tokenizer = Train(t, 30_000, ["abc abc", "abd"]);
        // Pre-tokens "abc", " abc", "abd": merges ab, abc, then " abc" and abd make every pre-token one token.
        Assert.Equal(256 + 4, tokenizer.Vocabulary.Count);
        Assert.Single(tokenizer.EncodeToIds("abc"));
    }

    [Fact]
    public void TheSameTextGivesTheSameFiles()
    {
        using var a = new TempFiles();
        using var b = new TempFiles();
        Train(a, 450);
        Train(b, 450);
        foreach (var name in new[] { BpeTokenizerTrainer.VocabularyFileName, BpeTokenizerTrainer.MergesFileName })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a.Folder, name)), File.ReadAllBytes(Path.Combine(b.Folder, name)));
    }

    [Fact]
    public void MergesFollowPairFrequencyFirst()
    {
        using var t = new TempFiles();
        // "xy" occurs 10 times, "zw" 3 times: xy is merged first; among equal counts, earlier byte ids win.
        Train(t, 258, [.. Enumerable.Repeat("xy", 10), .. Enumerable.Repeat("zw", 3)]);
        var merges = File.ReadAllLines(Path.Combine(t.Folder, BpeTokenizerTrainer.MergesFileName));
        Assert.Equal(["#version: 0.2", "x y", "z w"], merges);
    }

    [Fact]
    public void LowerCasesByDefault()
    {
        using var t = new TempFiles();
        var tokenizer = Train(t, 300, ["Mascara MASCARA mascara"]);
        var learned = tokenizer.Vocabulary.Where(p => p.Value >= 256).Select(p => p.Key).ToList();
        Assert.Contains("mascara", learned);
        Assert.DoesNotContain(learned, k => k.Any(c => c is >= 'A' and <= 'Z'));
    }

    [Fact]
    public void AnEmptyCorpusIsRefused()
    {
        using var t = new TempFiles();
        var e = Assert.Throws<ArgumentException>(() => Train(t, 300, ["", "   ", null!]));
        Assert.Contains("empty", e.Message);
        Assert.False(File.Exists(Path.Combine(t.Folder, BpeTokenizerTrainer.VocabularyFileName)));
    }

    [Fact]
    public void ATooSmallVocabularyIsRefusedNamingTheOption()
    {
        using var t = new TempFiles();
        var e = Assert.Throws<ArgumentException>(() => Train(t, 256));
        Assert.Contains("Options.VocabularySize", e.Message);
        Assert.Contains("257", e.Message);
    }

    [Fact]
    public void IncrementalCountsLearnTheSameMergesAsRecountingEveryPairAfterEachMerge()
    {
        // Overlapping pairs ("aaaa", "abab") are where incremental bookkeeping goes wrong.
        string[] texts = [.. Corpus().Take(120), "aaaa aaa aa a", "abababab abab", "banana bandana", "aaaa aaaa aaa"];
        using var t = new TempFiles();
        Train(t, 420, texts);
        var actual = File.ReadAllLines(Path.Combine(t.Folder, BpeTokenizerTrainer.MergesFileName)).Skip(1).ToList();
        Assert.Equal(NaiveMerges(texts, 420), actual);
    }

    /// <summary>Textbook BPE: recount every pair of every word after each merge; ties to the smaller (left id, right id).</summary>
    private static List<string> NaiveMerges(IEnumerable<string> texts, int vocabularySize)
    {
        var pattern = new System.Text.RegularExpressions.Regex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+");
        var words = texts.SelectMany(x => pattern.Matches(x.ToLowerInvariant()).Select(m => m.Value))
            .GroupBy(w => w).Select(g => (Symbols: System.Text.Encoding.UTF8.GetBytes(g.Key).Select(b => (int)b).ToList(), Count: g.Count())).ToList();
        var tokens = Enumerable.Range(0, 256).Select(b => BpeTokenizerTrainer.ByteToChar[b].ToString()).ToList();
        var merges = new List<string>();
        while (tokens.Count < vocabularySize)
        {
            var counts = new Dictionary<(int, int), long>();
            foreach (var (symbols, count) in words)
                for (int k = 0; k + 1 < symbols.Count; k++)
                    counts[(symbols[k], symbols[k + 1])] = counts.GetValueOrDefault((symbols[k], symbols[k + 1])) + count;
            if (counts.Count == 0) break;
            var ((left, right), _) = counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1).ThenBy(p => p.Key.Item2).First();
            var merged = tokens[left] + tokens[right];
            int id = tokens.IndexOf(merged);
            if (id < 0) { id = tokens.Count; tokens.Add(merged); }
            merges.Add(tokens[left] + " " + tokens[right]);
            foreach (var (symbols, _) in words)
                for (int k = 0; k + 1 < symbols.Count; k++)
                    if (symbols[k] == left && symbols[k + 1] == right) { symbols[k] = id; symbols.RemoveAt(k + 1); }
        }
        return merges;
    }
}
