using System.Text;

namespace Microsoft.ML.Srt.Data.Synthetic;

/// <summary>
/// Generates the project's default data set: a catalog of items with text (title, brand, categories) drawn
/// from latent topics, and user sequences whose next item depends on the recent items and on their text.
/// A model that reads item text beats popularity on it, and a documented share of items occurs only as
/// the last item of sequences, so recommending items unseen in training can be measured.
/// </summary>
/// <remarks>
/// <para>Model (docs/synthetic-data.md): topics are grouped into departments and split into product lines.
/// Items of a line share a title word; items of a topic share title vocabulary, brands and a category token;
/// topics of a department share a category token. The next item follows an anchor (the last item, sometimes
/// the second-to-last): from its line, its brand, its topic, a topic of its department, or else one of the
/// user's drifting favourite topics; within that pool by a Zipf popularity prior.</para>
/// <para>Deterministic: every user and every item has its own <see cref="SplitMix64"/> stream derived from
/// <see cref="SyntheticDataOptions.Seed"/>, so the output is byte-identical whatever the thread count.
/// Memory is about 70 bytes per item plus a few blocks of users: interactions are never all held when written.</para>
/// </remarks>
public sealed class SyntheticDataGenerator
{
    /// <summary>Name of the title text field.</summary>
    public const string TitleField = "title";

    /// <summary>Name of the brand text field.</summary>
    public const string BrandField = "brand";

    /// <summary>Name of the categories token field.</summary>
    public const string CategoriesField = "categories";

    private const ulong StructureStream = 1UL << 56, ItemStream = 2UL << 56, UserStream = 3UL << 56;
    private const int StyleWordsPerTopic = 6, NounsPerTopic = 3;
    private const double PopularityScale = 1L << 30;

    private static readonly string[] SharedAdjectives =
    {
        "Classic", "Premium", "Mini", "Deluxe", "Original", "Natural", "Ultra", "Essential",
        "Daily", "Pro", "Fresh", "Gentle", "Advanced", "Everyday", "Signature", "Travel",
    };

    private static readonly string[] PackWords = { "Set", "Kit", "Duo", "Refill", "Bundle", "Pack" };

    private readonly SyntheticDataOptions _options;
    private readonly int _topicCount, _lineCount, _departmentCount, _brandCount;
    private readonly int[] _itemLine;      // global line index = topic * LinesPerTopic + line
    private readonly int[] _itemBrand;
    private readonly bool[] _reserved;
    private readonly int[] _lineNoun;      // the noun most titles of a line end with
    private readonly int[][] _topicBrands; // brands selling in each topic
    private readonly long[] _topicCumWeight;
    private readonly WeightedPools _byLine, _byBrand, _byTopic;
    private readonly PseudoWords _words;

    /// <summary>Builds the catalog structure (topics, lines, brands, popularity) for <paramref name="options"/>.</summary>
    public SyntheticDataGenerator(SyntheticDataOptions? options = null)
    {
        _options = options ?? new SyntheticDataOptions();
        _options.Validate();
        int n = _options.ItemCount, linesPerTopic = _options.LinesPerTopic;
        _topicCount = _options.EffectiveTopicCount;
        _lineCount = _topicCount * linesPerTopic;
        _departmentCount = (_topicCount + _options.TopicsPerDepartment - 1) / _options.TopicsPerDepartment;
        _brandCount = _topicCount * _options.BrandsPerTopic;
        var rng = SplitMix64.ForStream(_options.Seed, StructureStream);

        // Brands: each has a home topic, some also sell in a second topic of the same department.
        var topicBrands = Enumerable.Range(0, _topicCount).Select(_ => new List<int>()).ToArray();
        for (int b = 0; b < _brandCount; b++)
        {
            int home = b / _options.BrandsPerTopic;
            topicBrands[home].Add(b);
            var (first, count) = DepartmentTopics(home);
            if (count > 1 && rng.NextBool(_options.SharedBrandProbability))
            {
                int other = first + rng.NextInt(count - 1);
                if (other >= home) other++;
                topicBrands[other].Add(b);
            }
        }
        _topicBrands = topicBrands.Select(l => l.ToArray()).ToArray();

        // Topics differ in size (Zipf 0.5 over a random order); every line gets one item first.
        var topicSizeWeight = ZipfWeights(_topicCount, 0.5, ref rng);
        var topicCum = Cumulative(topicSizeWeight);
        var line = new int[n];
        for (int k = 0; k < n; k++)
        {
            if (k < _lineCount) { line[k] = k; continue; }
            int t = SampleCumulative(topicCum, ref rng);
            line[k] = t * linesPerTopic + rng.NextInt(linesPerTopic);
        }

        // Reserve items for test targets among the items that do not guarantee a line is non-empty, so every
        // line keeps a trainable item; then shuffle so that ids say nothing about topics.
        int reservedCount = (int)Math.Min(n - _lineCount, Math.Round(_options.ReservedItemFraction * n));
        var reservedAt = new bool[n];
        for (int k = 0; k < reservedCount; k++)
        {
            int j = k + rng.NextInt(n - _lineCount - k);
            (line[_lineCount + k], line[_lineCount + j]) = (line[_lineCount + j], line[_lineCount + k]);
            reservedAt[_lineCount + k] = true;
        }
        for (int k = n - 1; k > 0; k--)
        {
            int j = rng.NextInt(k + 1);
            (line[k], line[j]) = (line[j], line[k]);
            (reservedAt[k], reservedAt[j]) = (reservedAt[j], reservedAt[k]);
        }
        _itemLine = line;
        _reserved = reservedAt;
        ReservedItemCount = reservedCount;

        // Each line has a house brand and a main noun: shared text within a line, on top of the topic's.
        var lineBrand = new int[_lineCount];
        _lineNoun = new int[_lineCount];
        for (int l = 0; l < _lineCount; l++)
        {
            var brands = _topicBrands[l / linesPerTopic];
            lineBrand[l] = brands[rng.NextInt(brands.Length)];
            _lineNoun[l] = rng.NextInt(NounsPerTopic);
        }
        _itemBrand = new int[n];
        for (int i = 0; i < n; i++)
        {
            var brands = _topicBrands[_itemLine[i] / linesPerTopic];
            _itemBrand[i] = rng.NextBool(0.5) ? lineBrand[_itemLine[i]] : brands[rng.NextInt(brands.Length)];
        }

        var weight = ZipfWeights(n, _options.PopularityExponent, ref rng);
        _byLine = new WeightedPools(_lineCount, _itemLine, weight, _reserved);
        _byBrand = new WeightedPools(_brandCount, _itemBrand, weight, _reserved);
        _byTopic = new WeightedPools(_topicCount, _itemLine.Select(l => l / linesPerTopic).ToArray(), weight, _reserved);
        _topicCumWeight = new long[_topicCount];
        for (int t = 0; t < _topicCount; t++)
            _topicCumWeight[t] = (t > 0 ? _topicCumWeight[t - 1] : 0) + _byTopic.TrainWeight(t);

        _words = new PseudoWords(_departmentCount + _topicCount * (1 + StyleWordsPerTopic + NounsPerTopic) + _lineCount + _brandCount);
    }

    /// <summary>The options the generator was built with (do not change them afterwards).</summary>
    public SyntheticDataOptions Options => _options;

    /// <summary>Number of catalog items.</summary>
    public int ItemCount => _itemLine.Length;

    /// <summary>Number of latent topics (see <see cref="SyntheticDataOptions.TopicCount"/>).</summary>
    public int TopicCount => _topicCount;

    /// <summary>Number of items reserved for test targets (<see cref="IsReservedForTest"/>).</summary>
    public int ReservedItemCount { get; }

    /// <summary>The latent topic of item <paramref name="item"/>.</summary>
    public int GetTopic(int item) => _itemLine[item] / _options.LinesPerTopic;

    /// <summary>The product line of item <paramref name="item"/> (global index, <c>topic * LinesPerTopic + line</c>).</summary>
    public int GetLine(int item) => _itemLine[item];

    /// <summary>True when item <paramref name="item"/> occurs only as the last item of sequences.</summary>
    public bool IsReservedForTest(int item) => _reserved[item];

    /// <summary>The external id of item <paramref name="item"/>: <c>i</c> followed by the index.</summary>
    public static string ItemId(int item) => "i" + item.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The external id of user <paramref name="user"/>: <c>u</c> followed by the index.</summary>
    public static string UserId(int user) => "u" + user.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The title, brand and category tokens of item <paramref name="item"/> (deterministic per item).</summary>
    public (string Title, string Brand, string[] Categories) GetItemText(int item)
    {
        var rng = SplitMix64.ForStream(_options.Seed, ItemStream | (uint)item);
        int lineIndex = _itemLine[item], topic = lineIndex / _options.LinesPerTopic;
        int department = topic / _options.TopicsPerDepartment;
        int topicBase = _departmentCount + topic * (1 + StyleWordsPerTopic + NounsPerTopic);
        int lineWord = _departmentCount + _topicCount * (1 + StyleWordsPerTopic + NounsPerTopic) + lineIndex;
        int brandWord = lineWord - lineIndex + _lineCount + _itemBrand[item];

        // Title: [shared adjective] [topic style words] line word noun [pack word]: 3 to 6 words.
        var words = new List<string>(6);
        if (rng.NextBool(0.4)) words.Add(SharedAdjectives[rng.NextInt(SharedAdjectives.Length)]);
        int style = rng.NextInt(StyleWordsPerTopic);
        bool withStyle = rng.NextBool(0.8) || words.Count == 0;
        if (withStyle) words.Add(_words.Capitalized(topicBase + 1 + style));
        if (withStyle && rng.NextBool(0.2))
            words.Add(_words.Capitalized(topicBase + 1 + (style + 1 + rng.NextInt(StyleWordsPerTopic - 1)) % StyleWordsPerTopic));
        words.Add(_words.Capitalized(lineWord));
        int noun = rng.NextBool(0.8) ? _lineNoun[lineIndex] : rng.NextInt(NounsPerTopic);
        words.Add(_words.Capitalized(topicBase + 1 + StyleWordsPerTopic + noun));
        if (rng.NextBool(0.25)) words.Add(PackWords[rng.NextInt(PackWords.Length)]);

        var categories = new[] { _words.Capitalized(department), _words.Capitalized(topicBase), _words.Capitalized(lineWord) };
        return (string.Join(' ', words), _words.Capitalized(brandWord), categories);
    }

    /// <summary>The catalog (fields <c>title</c>, <c>brand</c>; token field <c>categories</c>), held in memory.</summary>
    public ItemCatalog CreateCatalog()
    {
        var builder = new ItemCatalog.Builder(new[] { TitleField, BrandField }, new[] { CategoriesField }, ItemCount);
        for (int i = 0; i < ItemCount; i++)
        {
            var (title, brand, categories) = GetItemText(i);
            builder.Add(ItemId(i), new[] { title, brand }, new[] { categories });
        }
        return builder.Build();
    }

    /// <summary>
    /// Generates the whole set in memory: the catalog and every user's sequence (item <c>i</c> of the catalog
    /// has id <c>i{i}</c>, user <c>u</c> has id <c>u{u}</c>). For sets that fit in memory; use
    /// <see cref="WriteSequences(Stream)"/> for large ones.
    /// </summary>
    public (ItemCatalog Catalog, InteractionSequences Sequences) Generate()
    {
        var catalog = CreateCatalog();
        var blocks = GenerateBlocks(0, BlockCount);
        long total = blocks.Sum(b => (long)b.Items.Count);
        if (total > Array.MaxLength) throw new InvalidOperationException($"{total} interactions do not fit in memory; write them as a stream.");
        var items = new int[total];
        var offsets = new long[_options.UserCount + 1];
        int user = 0;
        long pos = 0;
        foreach (var block in blocks)
        {
            block.Items.CopyTo(items, (int)pos);
            foreach (var length in block.Lengths) { pos += length; offsets[++user] = pos; }
        }
        var userIds = Enumerable.Range(0, _options.UserCount).Select(UserId).ToArray();
        return (catalog, new InteractionSequences(catalog, userIds, offsets, items));
    }

    /// <summary>Measures the promised statistics on an in-memory set from <see cref="Generate"/>.</summary>
    public SyntheticDataStatistics MeasureStatistics(InteractionSequences sequences)
    {
        var acc = new SyntheticDataStatistics.Accumulator();
        for (int u = 0; u < sequences.UserCount; u++) acc.Add(sequences.GetSequence(u), this);
        return acc.Result(sequences.ItemCounts(), ReservedItemCount);
    }

    /// <summary>
    /// Writes the catalog as UTF-8 TSV: a header <c>item_id	title	brand	categories</c>, then one item a
    /// line with its categories space-separated. Items are generated in parallel blocks but written in order.
    /// </summary>
    public void WriteCatalog(Stream stream)
    {
        const int itemsPerBlock = 16_384;
        stream.Write("item_id\ttitle\tbrand\tcategories\n"u8);
        int blocks = (ItemCount + itemsPerBlock - 1) / itemsPerBlock;
        WriteInWaves(stream, blocks, b =>
        {
            var sb = new StringBuilder();
            int end = Math.Min(ItemCount, (b + 1) * itemsPerBlock);
            for (int i = b * itemsPerBlock; i < end; i++)
            {
                var (title, brand, categories) = GetItemText(i);
                sb.Append('i').Append(i).Append('\t').Append(title).Append('\t').Append(brand).Append('\t')
                  .AppendJoin(' ', categories).Append('\n');
            }
            return Encoding.UTF8.GetBytes(sb.ToString());
        });
    }

    /// <summary>
    /// Writes every user's sequence as UTF-8 text, one user a line: <c>u45 i12 i7 ...</c>, oldest first. Users
    /// are generated in parallel blocks and written in order, so memory stays bounded by a few blocks whatever
    /// the number of interactions. Returns the statistics measured on what was written.
    /// </summary>
    public SyntheticDataStatistics WriteSequences(Stream stream)
    {
        var itemCounts = new long[ItemCount];
        var total = new SyntheticDataStatistics.Accumulator();
        var accumulators = new SyntheticDataStatistics.Accumulator[BlockCount];
        WriteInWaves(stream, BlockCount, b =>
        {
            var block = GenerateBlock(b);
            var acc = new SyntheticDataStatistics.Accumulator();
            var sb = new StringBuilder(block.Items.Count * 8);
            int user = b * _options.UsersPerBlock, pos = 0;
            var items = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(block.Items);
            foreach (var length in block.Lengths)
            {
                var seq = items.Slice(pos, length);
                acc.Add(seq, this);
                sb.Append('u').Append(user++);
                foreach (var i in seq)
                {
                    sb.Append(" i").Append(i);
                    Interlocked.Increment(ref itemCounts[i]);
                }
                sb.Append('\n');
                pos += length;
            }
            accumulators[b] = acc;
            return Encoding.UTF8.GetBytes(sb.ToString());
        });
        foreach (var acc in accumulators) total.Merge(acc);
        return total.Result(itemCounts, ReservedItemCount);
    }

    /// <summary>Writes the catalog TSV and the sequences file to the given paths; returns the sequences' statistics.</summary>
    public SyntheticDataStatistics Write(string catalogPath, string sequencesPath)
    {
        using (var catalog = new FileStream(catalogPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            WriteCatalog(catalog);
        using var sequences = new FileStream(sequencesPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        return WriteSequences(sequences);
    }

    private int BlockCount => (int)(((long)_options.UserCount + _options.UsersPerBlock - 1) / _options.UsersPerBlock);

    private int Parallelism => _options.MaxDegreeOfParallelism > 0 ? _options.MaxDegreeOfParallelism : Environment.ProcessorCount;

    /// <summary>Produces blocks in parallel, a few at a time, and writes them in block order.</summary>
    private void WriteInWaves(Stream stream, int blockCount, Func<int, byte[]> produce)
    {
        int wave = Math.Max(1, Parallelism * 2);
        var buffers = new byte[wave][];
        for (int first = 0; first < blockCount; first += wave)
        {
            int count = Math.Min(wave, blockCount - first);
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, k => buffers[k] = produce(first + k));
            for (int k = 0; k < count; k++) { stream.Write(buffers[k]); buffers[k] = null!; }
        }
        stream.Flush();
    }

    private sealed record Block(List<int> Items, List<int> Lengths);

    private Block[] GenerateBlocks(int first, int count)
    {
        var blocks = new Block[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, k => blocks[k] = GenerateBlock(first + k));
        return blocks;
    }

    private Block GenerateBlock(int block)
    {
        int first = block * _options.UsersPerBlock;
        int end = (int)Math.Min(_options.UserCount, (long)first + _options.UsersPerBlock);
        var items = new List<int>((int)((end - first) * _options.MeanSequenceLength * 1.2));
        var lengths = new List<int>(end - first);
        for (int u = first; u < end; u++)
        {
            int start = items.Count;
            GenerateUser(u, items);
            lengths.Add(items.Count - start);
        }
        return new Block(items, lengths);
    }

    /// <summary>Appends user <paramref name="user"/>'s sequence to <paramref name="items"/>.</summary>
    private void GenerateUser(int user, List<int> items)
    {
        var rng = SplitMix64.ForStream(_options.Seed, UserStream | (uint)user);
        // Length: minimum plus a geometric number of extra items with the requested mean, capped.
        double stop = 1.0 / (_options.MeanSequenceLength - _options.MinSequenceLength + 1);
        int length = _options.MinSequenceLength;
        while (length < _options.MaxSequenceLength && !rng.NextBool(stop)) length++;

        Span<int> favourites = stackalloc int[_options.FavouriteTopicCount];
        for (int f = 0; f < favourites.Length; f++) favourites[f] = SampleTopic(ref rng);

        int start = items.Count;
        for (int pos = 0; pos < length; pos++)
        {
            if (pos > 0 && rng.NextBool(_options.PreferenceDriftProbability))
                favourites[rng.NextInt(favourites.Length)] = SampleTopic(ref rng);
            bool last = pos == length - 1;
            var seq = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(items)[start..];
            int item = -1;
            // Users rarely buy the same item twice: redraw a few times before accepting a repeat.
            for (int attempt = 0; attempt < 8; attempt++)
            {
                item = NextItem(ref rng, seq, favourites, last);
                if (!seq.Contains(item)) break;
            }
            items.Add(item);
        }
    }

    private int NextItem(ref SplitMix64 rng, ReadOnlySpan<int> seq, ReadOnlySpan<int> favourites, bool last)
    {
        if (seq.Length == 0) return _byTopic.Sample(favourites[rng.NextInt(favourites.Length)], ref rng, last);
        int anchor = seq.Length >= 2 && rng.NextBool(_options.SecondToLastAnchorProbability) ? seq[^2] : seq[^1];
        int topic = GetTopic(anchor);
        double r = rng.NextDouble();
        var o = _options;
        int item = -1;
        if (r < o.SameLineProbability)
            item = _byLine.Sample(_itemLine[anchor], ref rng, last);
        else if (r < o.SameLineProbability + o.SameBrandProbability)
            item = _byBrand.Sample(_itemBrand[anchor], ref rng, last);
        else if (r < o.SameLineProbability + o.SameBrandProbability + o.SameTopicProbability)
            { /* the anchor's topic, below */ }
        else if (r < o.SameLineProbability + o.SameBrandProbability + o.SameTopicProbability + o.RelatedTopicProbability)
        {
            var (first, count) = DepartmentTopics(topic);
            topic = first + rng.NextInt(count);
        }
        else
            topic = favourites[rng.NextInt(favourites.Length)];
        // Every topic has trainable items (each line keeps one unreserved item), so this never fails.
        return item >= 0 ? item : _byTopic.Sample(topic, ref rng, last);
    }

    private int SampleTopic(ref SplitMix64 rng) => SampleCumulative(_topicCumWeight, ref rng);

    private (int First, int Count) DepartmentTopics(int topic)
    {
        int first = topic / _options.TopicsPerDepartment * _options.TopicsPerDepartment;
        return (first, Math.Min(_options.TopicsPerDepartment, _topicCount - first));
    }

    /// <summary>Integer Zipf weights round(2^30 (r + 1)^-s) for a random popularity rank r of each index.</summary>
    private static long[] ZipfWeights(int n, double exponent, ref SplitMix64 rng)
    {
        var rank = new int[n];
        for (int k = 0; k < n; k++) rank[k] = k;
        for (int k = n - 1; k > 0; k--) { int j = rng.NextInt(k + 1); (rank[k], rank[j]) = (rank[j], rank[k]); }
        var weight = new long[n];
        for (int k = 0; k < n; k++) weight[k] = Math.Max(1L, (long)Math.Round(PopularityScale * Math.Pow(rank[k] + 1, -exponent)));
        return weight;
    }

    private static long[] Cumulative(long[] weight)
    {
        var cum = new long[weight.Length];
        long sum = 0;
        for (int k = 0; k < weight.Length; k++) cum[k] = sum += weight[k];
        return cum;
    }

    private static int SampleCumulative(long[] cum, ref SplitMix64 rng)
    {
        long x = (long)rng.NextUInt64((ulong)cum[^1]);
        int lo = 0, hi = cum.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (cum[mid] > x) hi = mid; else lo = mid + 1;
        }
        return lo;
    }
}
