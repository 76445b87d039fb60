using System.Text;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
using Xunit.Abstractions;

namespace Microsoft.ML.Srt.Tests.Synthetic;

public class SyntheticDataGeneratorTests
{
    private readonly ITestOutputHelper _output;

    public SyntheticDataGeneratorTests(ITestOutputHelper output) => _output = output;

    private static SyntheticDataOptions Small(ulong seed = 7) => new() { Seed = seed, ItemCount = 1_000, UserCount = 3_000 };

    private static (byte[] Catalog, byte[] Sequences) WriteToMemory(SyntheticDataOptions options)
    {
        var generator = new SyntheticDataGenerator(options);
        using var catalog = new MemoryStream();
        using var sequences = new MemoryStream();
        generator.WriteCatalog(catalog);
        generator.WriteSequences(sequences);
        return (catalog.ToArray(), sequences.ToArray());
    }

    [Fact]
    public void SameSeedGivesByteIdenticalOutputWhateverTheThreadsAndBlocks()
    {
        var a = WriteToMemory(new SyntheticDataOptions { Seed = 3, ItemCount = 600, UserCount = 1_500, MaxDegreeOfParallelism = 1 });
        var b = WriteToMemory(new SyntheticDataOptions { Seed = 3, ItemCount = 600, UserCount = 1_500, MaxDegreeOfParallelism = 2, UsersPerBlock = 100 });
        Assert.Equal(a.Catalog, b.Catalog);
        Assert.Equal(a.Sequences, b.Sequences);
    }

    [Fact]
    public void DifferentSeedsGiveDifferentOutput()
    {
        var a = WriteToMemory(new SyntheticDataOptions { Seed = 3, ItemCount = 600, UserCount = 500 });
        var b = WriteToMemory(new SyntheticDataOptions { Seed = 4, ItemCount = 600, UserCount = 500 });
        Assert.NotEqual(a.Catalog, b.Catalog);
        Assert.NotEqual(a.Sequences, b.Sequences);
    }

    [Fact]
    public void OptionsThatCannotWorkAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new SyntheticDataGenerator(new SyntheticDataOptions { ItemCount = 50, TopicCount = 20 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticDataGenerator(new SyntheticDataOptions { MeanSequenceLength = 3 }));
        Assert.Throws<ArgumentException>(() => new SyntheticDataGenerator(new SyntheticDataOptions { SameLineProbability = 0.9 }));
    }

    [Fact]
    public void SplitMix64MatchesTheReferenceSequence()
    {
        // First outputs of the reference C implementation (Vigna) seeded with 1234567.
        var rng = new SplitMix64(1234567);
        Assert.Equal(6457827717110365317UL, rng.NextUInt64());
        Assert.Equal(3203168211198807973UL, rng.NextUInt64());
        Assert.Equal(9817491932198370423UL, rng.NextUInt64());
    }

    [Fact]
    public void StatisticsMatchWhatTheDocumentationPromises()
    {
        var generator = new SyntheticDataGenerator(Small());
        var (_, sequences) = generator.Generate();
        var stats = generator.MeasureStatistics(sequences);
        _output.WriteLine(stats.ToString());
        Assert.Equal(3_000, stats.Users);
        Assert.True(stats.MinLength >= 5);
        Assert.InRange(stats.MeanLength, 8.6, 9.4);
        Assert.InRange(stats.SameTopicShare, 0.65, 0.9);
        Assert.InRange(stats.SameLineShare, 0.3, 0.6);
        Assert.True(stats.Top10PercentItemShare > 0.35, "popularity has a long tail: the top 10% items take a large share");
        Assert.Equal(50, stats.ReservedItems);
        Assert.Equal(0, stats.ReservedBeforeLast);
        Assert.InRange(stats.ReservedTargets, 30, 300);
    }

    [Fact]
    public void StreamedFilesAgreeWithTheInMemorySet()
    {
        var options = Small();
        options.UserCount = 700;
        var generator = new SyntheticDataGenerator(options);
        var (catalog, sequences) = generator.Generate();
        var (catalogBytes, sequenceBytes) = WriteToMemory(options);

        var expected = new StringBuilder();
        for (int u = 0; u < sequences.UserCount; u++)
        {
            expected.Append(sequences.UserIds[u]);
            foreach (var i in sequences.GetSequence(u)) expected.Append(' ').Append(catalog.GetId(i));
            expected.Append('\n');
        }
        Assert.Equal(expected.ToString(), Encoding.UTF8.GetString(sequenceBytes));

        var lines = Encoding.UTF8.GetString(catalogBytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("item_id\ttitle\tbrand\tcategories", lines[0]);
        Assert.Equal(catalog.Count + 1, lines.Length);
        for (int i = 0; i < catalog.Count; i++)
        {
            var fields = lines[i + 1].Split('\t');
            Assert.Equal(4, fields.Length);
            Assert.Equal(catalog.GetId(i), fields[0]);
            Assert.Equal(catalog.GetText(i, 0), fields[1]);
            Assert.Equal(catalog.GetText(i, 1), fields[2]);
            Assert.Equal(string.Join(' ', catalog.GetTokens(i, 0)), fields[3]);
        }
    }

    [Fact]
    public void WriteToFilesReturnsTheSameStatisticsAsTheInMemorySet()
    {
        var generator = new SyntheticDataGenerator(Small());
        var dir = Directory.CreateTempSubdirectory("srt-synth-");
        try
        {
            var streamed = generator.Write(Path.Combine(dir.FullName, "items.tsv"), Path.Combine(dir.FullName, "sequences.txt"));
            var inMemory = generator.MeasureStatistics(generator.Generate().Sequences);
            Assert.Equal(inMemory.ToString(), streamed.ToString());
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void ReservedItemsOccurOnlyAsLastItems()
    {
        var generator = new SyntheticDataGenerator(Small());
        var (catalog, sequences) = generator.Generate();
        Assert.Equal(50, Enumerable.Range(0, catalog.Count).Count(generator.IsReservedForTest));
        int reservedTargets = 0;
        for (int u = 0; u < sequences.UserCount; u++)
        {
            var seq = sequences.GetSequence(u);
            for (int k = 0; k < seq.Length - 1; k++) Assert.False(generator.IsReservedForTest(seq[k]));
            if (generator.IsReservedForTest(seq[^1])) reservedTargets++;
        }
        Assert.True(reservedTargets > 0);
    }

    [Fact]
    public void ItemsHaveTopicalTitlesBrandsAndCategories()
    {
        var generator = new SyntheticDataGenerator(Small());
        var catalog = generator.CreateCatalog();
        Assert.Equal(new[] { "title", "brand" }, catalog.TextFields);
        Assert.Equal(new[] { "categories" }, catalog.TokenFields);
        var brandTopics = new Dictionary<string, HashSet<int>>();
        for (int i = 0; i < catalog.Count; i++)
        {
            Assert.Equal("i" + i, catalog.GetId(i));
            Assert.InRange(catalog.GetText(i, 0).Split(' ').Length, 3, 6);
            Assert.Equal(3, catalog.GetTokens(i, 0).Count);
            var brand = catalog.GetText(i, 1);
            if (!brandTopics.TryGetValue(brand, out var topics)) brandTopics[brand] = topics = new HashSet<int>();
            topics.Add(generator.GetTopic(i));
        }
        Assert.All(brandTopics.Values, t => Assert.InRange(t.Count, 1, 2));
        // Same topic => same topic category token; different topics => different ones.
        for (int i = 1; i < catalog.Count; i++)
            Assert.Equal(generator.GetTopic(i) == generator.GetTopic(0), catalog.GetTokens(i, 0)[1] == catalog.GetTokens(0, 0)[1]);
    }

    [Fact]
    public void TitleWordOverlapBeatsPopularity()
    {
        var generator = new SyntheticDataGenerator(Small());
        var (catalog, sequences) = generator.Generate();
        // Leave-one-out: train on all but the last item, predict the last item.
        var lengths = Enumerable.Range(0, sequences.UserCount).Select(u => sequences.GetLength(u)).ToArray();
        var training = sequences.WithPrefixes(lengths.Select(l => l - 1).ToArray());
        var cases = new EvaluationCases(sequences, Enumerable.Range(0, sequences.UserCount).ToArray(),
            lengths.Select(l => l - 1).ToArray(), Enumerable.Range(0, sequences.UserCount).Select(u => sequences.GetSequence(u)[^1]).ToArray());

        var popularity = PopularityRecommender.Fit(training);
        var text = new TitleOverlapScorer(catalog, popularity.Counts, popularityWeight: 2);
        var textOnly = new TitleOverlapScorer(catalog, popularity.Counts, popularityWeight: 0);
        var pop = CatalogRankingEvaluator.Evaluate(cases, popularity.Score, maskHistory: true, ks: new[] { 10 });
        var overlap = CatalogRankingEvaluator.Evaluate(cases, text.Score, maskHistory: true, ks: new[] { 10 });
        _output.WriteLine($"popularity:    {pop}");
        _output.WriteLine($"title overlap: {overlap}");
        Assert.True(overlap.Ndcg[10] > 1.5 * pop.Ndcg[10], $"{overlap.Ndcg[10]} vs {pop.Ndcg[10]}");

        // On targets unseen in training, popularity is helpless and text is not.
        var unseen = Enumerable.Range(0, cases.Count).Where(k => generator.IsReservedForTest(cases.Targets[k])).ToArray();
        var unseenCases = new EvaluationCases(sequences, unseen.Select(k => cases.Users[k]).ToArray(),
            unseen.Select(k => cases.HistoryLengths[k]).ToArray(), unseen.Select(k => cases.Targets[k]).ToArray());
        var popUnseen = CatalogRankingEvaluator.Evaluate(unseenCases, popularity.Score, maskHistory: true, ks: new[] { 10 });
        var overlapUnseen = CatalogRankingEvaluator.Evaluate(unseenCases, textOnly.Score, maskHistory: true, ks: new[] { 10 });
        _output.WriteLine($"unseen targets: popularity {popUnseen}; title overlap without popularity {overlapUnseen}");
        Assert.Equal(0, popUnseen.Hit[10]);
        Assert.True(overlapUnseen.Ndcg[10] > 0.03, $"{overlapUnseen.Ndcg[10]}");
    }

    /// <summary>
    /// Scores items by the title words and brand they share with the last history item, each shared word
    /// weighted by its inverse document frequency, plus <c>popularityWeight * ln(1 + count)</c>.
    /// </summary>
    private sealed class TitleOverlapScorer
    {
        private readonly ItemCatalog _catalog;
        private readonly Dictionary<string, List<int>> _itemsByWord = new();
        private readonly float[] _prior;

        public TitleOverlapScorer(ItemCatalog catalog, IReadOnlyList<long> counts, double popularityWeight)
        {
            _catalog = catalog;
            for (int i = 0; i < catalog.Count; i++)
                foreach (var w in Words(i))
                {
                    if (!_itemsByWord.TryGetValue(w, out var list)) _itemsByWord[w] = list = new List<int>();
                    list.Add(i);
                }
            _prior = counts.Select(c => (float)(popularityWeight * Math.Log(1 + c))).ToArray();
        }

        private IEnumerable<string> Words(int item) =>
            _catalog.GetText(item, 0).Split(' ').Append("brand:" + _catalog.GetText(item, 1)).Distinct();

        public void Score(ReadOnlySpan<int> history, Span<float> scores)
        {
            _prior.CopyTo(scores);
            foreach (var w in Words(history[^1]))
            {
                var items = _itemsByWord[w];
                float weight = (float)Math.Log((double)_catalog.Count / items.Count);
                foreach (var i in items) scores[i] += weight;
            }
        }
    }
}
