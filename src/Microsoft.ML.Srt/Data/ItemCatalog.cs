namespace Microsoft.ML.Srt.Data;

/// <summary>
/// The items a recommender knows: a dense index per item id, and for each item its text fields (title,
/// brand...) and token-list fields (categories, attribute ids). Item index <c>i</c> is the position in the
/// catalog; every other structure (sequences, item vectors, scores) uses that index.
/// </summary>
/// <remarks>
/// A catalog is immutable. Placeholders stand for ids that appear in interactions but not in the item file
/// (see <see cref="UnknownItemPolicy"/>): they have empty fields and <see cref="IsPlaceholder"/> is true.
/// </remarks>
public sealed class ItemCatalog
{
    private readonly string[] _ids;
    private readonly Dictionary<string, int> _index;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanIndex;
    private readonly string[][] _text;      // [field][item]
    private readonly string[][][] _tokens;  // [field][item] -> tokens
    private readonly bool[] _placeholder;

    private ItemCatalog(string[] ids, Dictionary<string, int> index, string[] textFields, string[][] text,
        string[] tokenFields, string[][][] tokens, bool[] placeholder)
    {
        _ids = ids;
        _index = index;
        _spanIndex = index.GetAlternateLookup<ReadOnlySpan<char>>();
        TextFields = textFields;
        _text = text;
        TokenFields = tokenFields;
        _tokens = tokens;
        _placeholder = placeholder;
    }

    /// <summary>Number of items.</summary>
    public int Count => _ids.Length;

    /// <summary>Names of the free-text fields, in order (for example <c>title</c>).</summary>
    public IReadOnlyList<string> TextFields { get; }

    /// <summary>Names of the token-list fields, in order (for example <c>categories</c>).</summary>
    public IReadOnlyList<string> TokenFields { get; }

    /// <summary>Number of placeholder items (ids seen in interactions but missing from the item file).</summary>
    public int PlaceholderCount => _placeholder.Count(p => p);

    /// <summary>The external id of item <paramref name="index"/>.</summary>
    public string GetId(int index) => _ids[index];

    /// <summary>All external ids, by index.</summary>
    public IReadOnlyList<string> Ids => _ids;

    /// <summary>Looks up the index of an external item id.</summary>
    public bool TryGetIndex(string id, out int index) => _index.TryGetValue(id, out index);

    /// <summary>Looks up the index of an external item id given as characters; readers use it to avoid a string per token.</summary>
    public bool TryGetIndex(ReadOnlySpan<char> id, out int index) => _spanIndex.TryGetValue(id, out index);

    /// <summary>Text of field <paramref name="field"/> (an index into <see cref="TextFields"/>); empty when missing.</summary>
    public string GetText(int index, int field) => _text[field][index];

    /// <summary>Tokens of field <paramref name="field"/> (an index into <see cref="TokenFields"/>); empty when missing.</summary>
    public IReadOnlyList<string> GetTokens(int index, int field) => _tokens[field][index];

    /// <summary>True when the item was added as a placeholder for an id missing from the item file.</summary>
    public bool IsPlaceholder(int index) => _placeholder[index];

    /// <summary>The display title: the first text field, or the id when there is none or it is empty.</summary>
    public string GetTitle(int index) =>
        _text.Length > 0 && _text[0][index].Length > 0 ? _text[0][index] : _ids[index];

    /// <summary>A catalog of bare ids, without text (enough for id-embedding models and baselines).</summary>
    public static ItemCatalog FromIds(IEnumerable<string> ids)
    {
        var b = new Builder(Array.Empty<string>(), Array.Empty<string>());
        foreach (var id in ids) b.Add(id, Array.Empty<string>(), Array.Empty<string[]>());
        return b.Build();
    }

    /// <summary>A new catalog with placeholders appended for <paramref name="ids"/> (ids already present are kept as they are).</summary>
    public ItemCatalog WithPlaceholders(IEnumerable<string> ids)
    {
        var b = ToBuilder();
        foreach (var id in ids)
            if (!b.Contains(id)) b.AddPlaceholder(id);
        return b.Build();
    }

    /// <summary>A builder that starts with every item of this catalog.</summary>
    public Builder ToBuilder()
    {
        var b = new Builder(TextFields, TokenFields, Count);
        for (int i = 0; i < Count; i++)
        {
            var text = new string[_text.Length];
            for (int f = 0; f < text.Length; f++) text[f] = _text[f][i];
            var tokens = new string[_tokens.Length][];
            for (int f = 0; f < tokens.Length; f++) tokens[f] = _tokens[f][i];
            b.AddCore(_ids[i], text, tokens, _placeholder[i]);
        }
        return b;
    }

    /// <summary>Builds a catalog item by item. Duplicate ids are rejected.</summary>
    public sealed class Builder
    {
        private readonly string[] _textFields;
        private readonly string[] _tokenFields;
        private readonly List<string> _ids;
        private readonly Dictionary<string, int> _index;
        private readonly List<string>[] _text;
        private readonly List<string[]>[] _tokens;
        private readonly List<bool> _placeholder;

        /// <summary>Creates a builder for items with the given text and token-list field names.</summary>
        public Builder(IEnumerable<string> textFields, IEnumerable<string> tokenFields, int capacity = 0)
        {
            _textFields = textFields.ToArray();
            _tokenFields = tokenFields.ToArray();
            var all = _textFields.Concat(_tokenFields).ToList();
            var dup = all.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (dup is not null) throw new ArgumentException($"Field '{dup.Key}' is named twice.");
            _ids = new List<string>(capacity);
            _index = new Dictionary<string, int>(capacity, StringComparer.Ordinal);
            _text = _textFields.Select(_ => new List<string>(capacity)).ToArray();
            _tokens = _tokenFields.Select(_ => new List<string[]>(capacity)).ToArray();
            _placeholder = new List<bool>(capacity);
        }

        /// <summary>Number of items added so far.</summary>
        public int Count => _ids.Count;

        /// <summary>True when <paramref name="id"/> was already added.</summary>
        public bool Contains(string id) => _index.ContainsKey(id);

        /// <summary>
        /// Adds an item and returns its index. <paramref name="text"/> and <paramref name="tokens"/> follow the
        /// field order given to the constructor. Throws <see cref="ArgumentException"/> on a duplicate id;
        /// loaders catch it to report the file and line.
        /// </summary>
        public int Add(string id, IReadOnlyList<string> text, IReadOnlyList<string[]> tokens)
        {
            if (text.Count != _textFields.Length)
                throw new ArgumentException($"Item '{id}' has {text.Count} text fields; the catalog has {_textFields.Length}.");
            if (tokens.Count != _tokenFields.Length)
                throw new ArgumentException($"Item '{id}' has {tokens.Count} token fields; the catalog has {_tokenFields.Length}.");
            return AddCore(id, text, tokens, placeholder: false);
        }

        /// <summary>Adds an item with empty fields that stands for an id missing from the item file.</summary>
        public int AddPlaceholder(string id) =>
            AddCore(id, _textFields.Select(_ => string.Empty).ToArray(), _tokenFields.Select(_ => Array.Empty<string>()).ToArray(), placeholder: true);

        internal int AddCore(string id, IReadOnlyList<string> text, IReadOnlyList<string[]> tokens, bool placeholder)
        {
            ArgumentNullException.ThrowIfNull(id);
            if (id.Length == 0) throw new ArgumentException("Item id is empty.");
            int index = _ids.Count;
            if (!_index.TryAdd(id, index)) throw new ArgumentException($"Duplicate item id '{id}'.");
            _ids.Add(id);
            for (int f = 0; f < _text.Length; f++) _text[f].Add(text[f] ?? string.Empty);
            for (int f = 0; f < _tokens.Length; f++) _tokens[f].Add(tokens[f] ?? Array.Empty<string>());
            _placeholder.Add(placeholder);
            return index;
        }

        /// <summary>Creates the immutable catalog.</summary>
        public ItemCatalog Build() => new(
            _ids.ToArray(), new Dictionary<string, int>(_index, StringComparer.Ordinal),
            _textFields, _text.Select(l => l.ToArray()).ToArray(),
            _tokenFields, _tokens.Select(l => l.ToArray()).ToArray(), _placeholder.ToArray());
    }
}

/// <summary>What to do with an item id that appears in interactions but not in the item catalog.</summary>
public enum UnknownItemPolicy
{
    /// <summary>Fail with an error naming the file and line (default: a catalog is expected to be complete).</summary>
    Error,

    /// <summary>Add a placeholder item with empty text (counted in <see cref="LoadReport.Notes"/>).</summary>
    AddPlaceholder,

    /// <summary>Drop the interaction (counted in <see cref="LoadReport.Dropped"/> as <c>unknown_item</c>).</summary>
    Drop,
}
