namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Every user's interactions as a chronological sequence of catalog item indices, stored compactly
/// (one offsets array and one items array, CSR-style) so that tens of millions of interactions fit in
/// a few hundred megabytes.
/// </summary>
public sealed class InteractionSequences
{
    private readonly string[] _userIds;
    private readonly long[] _offsets; // length UserCount + 1
    private readonly int[] _items;

    /// <summary>
    /// Creates sequences from CSR arrays: user <c>u</c>'s items are
    /// <c>items[offsets[u] .. offsets[u + 1]]</c>, oldest first, as indices into <paramref name="catalog"/>.
    /// </summary>
    public InteractionSequences(ItemCatalog catalog, string[] userIds, long[] offsets, int[] items, LoadReport? report = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(userIds);
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(items);
        if (offsets.Length != userIds.Length + 1) throw new ArgumentException("offsets must have one entry per user plus one.");
        if (offsets[0] != 0 || offsets[^1] != items.Length) throw new ArgumentException("offsets must start at 0 and end at items.Length.");
        for (int u = 0; u < userIds.Length; u++)
            if (offsets[u + 1] < offsets[u]) throw new ArgumentException($"offsets decrease at user {u}.");
        foreach (var i in items)
            if ((uint)i >= (uint)catalog.Count) throw new ArgumentException($"Item index {i} is outside the catalog (0..{catalog.Count - 1}).");
        Catalog = catalog;
        _userIds = userIds;
        _offsets = offsets;
        _items = items;
        Report = report ?? new LoadReport();
    }

    /// <summary>The catalog whose indices the sequences hold.</summary>
    public ItemCatalog Catalog { get; }

    /// <summary>What the loader dropped or changed to produce these sequences.</summary>
    public LoadReport Report { get; }

    /// <summary>Number of users (every user has at least one interaction).</summary>
    public int UserCount => _userIds.Length;

    /// <summary>Total number of interactions.</summary>
    public long InteractionCount => _items.Length;

    /// <summary>External user ids, by user index.</summary>
    public IReadOnlyList<string> UserIds => _userIds;

    /// <summary>User <paramref name="user"/>'s items, oldest first.</summary>
    public ReadOnlySpan<int> GetSequence(int user) =>
        _items.AsSpan((int)_offsets[user], (int)(_offsets[user + 1] - _offsets[user]));

    /// <summary>Length of user <paramref name="user"/>'s sequence.</summary>
    public int GetLength(int user) => (int)(_offsets[user + 1] - _offsets[user]);

    /// <summary>Number of distinct items that occur in at least one sequence.</summary>
    public int DistinctItemCount()
    {
        var seen = new bool[Catalog.Count];
        int n = 0;
        foreach (var i in _items) if (!seen[i]) { seen[i] = true; n++; }
        return n;
    }

    /// <summary>How often each catalog item occurs over all sequences (the popularity used for negative sampling).</summary>
    public long[] ItemCounts()
    {
        var counts = new long[Catalog.Count];
        foreach (var i in _items) counts[i]++;
        return counts;
    }

    /// <summary>The same users and catalog with each sequence cut to its first <c>lengths[u]</c> items (users cut to 0 are removed).</summary>
    public InteractionSequences WithPrefixes(int[] lengths)
    {
        if (lengths.Length != UserCount) throw new ArgumentException("One length per user is needed.");
        var users = new List<string>(UserCount);
        var offsets = new List<long>(UserCount + 1) { 0 };
        long total = 0;
        for (int u = 0; u < UserCount; u++)
            if (lengths[u] > 0) total += Math.Min(lengths[u], GetLength(u));
        var items = new int[total];
        long pos = 0;
        for (int u = 0; u < UserCount; u++)
        {
            int len = Math.Min(lengths[u], GetLength(u));
            if (len <= 0) continue;
            GetSequence(u)[..len].CopyTo(items.AsSpan((int)pos, len));
            pos += len;
            users.Add(_userIds[u]);
            offsets.Add(pos);
        }
        return new InteractionSequences(Catalog, users.ToArray(), offsets.ToArray(), items, Report);
    }

    /// <summary>The separator between a source's name and an id in <see cref="Combine"/>'s ids (<c>games:42</c>).</summary>
    public const char SourceSeparator = ':';

    /// <summary>
    /// Several data sets as one, for pre-training on several catalogs: every user and item id becomes
    /// <c>name:id</c> (<see cref="SourceSeparator"/>), so ids that coincide across sources stay different users and items.
    /// The catalog's text and token-list fields are the union of the sources' fields, in first-seen order; an item of a
    /// source without a field has it empty. One featurizer (one tokenizer) then reads all the text. Users keep their
    /// order, source by source; the reports' drops are counted per source (<c>name:reason</c>) and their notes prefixed.
    /// </summary>
    /// <param name="sources">The data sets with their names; names must be distinct, non-empty and without <see cref="SourceSeparator"/>.</param>
    /// <exception cref="ArgumentException">No source, a bad or repeated name, or a field that is text in one source and a token list in another.</exception>
    public static InteractionSequences Combine(IReadOnlyList<KeyValuePair<string, InteractionSequences>> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (sources.Count == 0) throw new ArgumentException("Combine needs at least one source.", nameof(sources));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, data) in sources)
        {
            ArgumentNullException.ThrowIfNull(data, nameof(sources));
            if (string.IsNullOrWhiteSpace(name) || name.Contains(SourceSeparator))
                throw new ArgumentException($"Source name '{name}' must be non-empty and must not contain '{SourceSeparator}'.", nameof(sources));
            if (!names.Add(name)) throw new ArgumentException($"Source name '{name}' is given twice; each source needs its own name.", nameof(sources));
        }
        var textFields = sources.SelectMany(s => s.Value.Catalog.TextFields).Distinct(StringComparer.Ordinal).ToArray();
        var tokenFields = sources.SelectMany(s => s.Value.Catalog.TokenFields).Distinct(StringComparer.Ordinal).ToArray();
        if (textFields.Intersect(tokenFields, StringComparer.Ordinal).FirstOrDefault() is { } clash)
        {
            var text = sources.First(s => s.Value.Catalog.TextFields.Contains(clash)).Key;
            var tokens = sources.First(s => s.Value.Catalog.TokenFields.Contains(clash)).Key;
            throw new ArgumentException($"Field '{clash}' is text in source '{text}' and a token list in source '{tokens}'; read it the same way in both (text or token fields).", nameof(sources));
        }

        var builder = new ItemCatalog.Builder(textFields, tokenFields, sources.Sum(s => s.Value.Catalog.Count));
        var report = new LoadReport();
        var userIds = new List<string>(sources.Sum(s => s.Value.UserCount));
        var offsets = new long[sources.Sum(s => s.Value.UserCount) + 1];
        var items = new int[sources.Sum(s => s.Value.InteractionCount)];
        int user = 0;
        long position = 0;
        foreach (var (name, data) in sources)
        {
            var catalog = data.Catalog;
            int first = builder.Count;
            var textOf = textFields.Select(f => IndexOf(catalog.TextFields, f)).ToArray();
            var tokensOf = tokenFields.Select(f => IndexOf(catalog.TokenFields, f)).ToArray();
            for (int i = 0; i < catalog.Count; i++)
            {
                var text = textOf.Select(f => f < 0 ? string.Empty : catalog.GetText(i, f)).ToArray();
                var tokens = tokensOf.Select(f => f < 0 ? Array.Empty<string>() : catalog.GetTokens(i, f).ToArray()).ToArray();
                builder.AddCore($"{name}{SourceSeparator}{catalog.GetId(i)}", text, tokens, catalog.IsPlaceholder(i));
            }
            for (int u = 0; u < data.UserCount; u++)
            {
                userIds.Add($"{name}{SourceSeparator}{data.UserIds[u]}");
                foreach (var i in data.GetSequence(u)) items[position++] = first + i;
                offsets[++user] = position;
            }
            foreach (var (reason, count) in data.Report.Dropped) report.Drop($"{name}{SourceSeparator}{reason}", count);
            foreach (var note in data.Report.Notes) report.Note($"{name}: {note}");
        }
        return new InteractionSequences(builder.Build(), userIds.ToArray(), offsets, items, report);
    }

    private static int IndexOf(IReadOnlyList<string> fields, string field)
    {
        for (int f = 0; f < fields.Count; f++)
            if (string.Equals(fields[f], field, StringComparison.Ordinal)) return f;
        return -1;
    }

    /// <summary>The same users' sequences, re-indexed against another catalog (items missing there fail).</summary>
    public InteractionSequences WithCatalog(ItemCatalog catalog)
    {
        var items = new int[_items.Length];
        for (int k = 0; k < items.Length; k++)
        {
            var id = Catalog.GetId(_items[k]);
            if (!catalog.TryGetIndex(id, out items[k]))
                throw new ArgumentException($"Item '{id}' is not in the new catalog.");
        }
        return new InteractionSequences(catalog, _userIds, _offsets, items, Report);
    }
}
