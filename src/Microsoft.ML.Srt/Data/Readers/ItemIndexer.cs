namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Maps item ids met in interactions to catalog indices, applying the <see cref="UnknownItemPolicy"/> to ids the
/// catalog lacks. Without a catalog, every id is new and the catalog is built from ids in order of first appearance.
/// </summary>
internal sealed class ItemIndexer
{
    private readonly ItemCatalog? _catalog;
    private readonly UnknownItemPolicy _policy;
    private readonly Dictionary<string, int> _added = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _addedLookup;
    private readonly List<string> _addedIds = new();
    private readonly int _baseCount;
    private long _droppedUnknown;

    public ItemIndexer(ItemCatalog? catalog, UnknownItemPolicy policy)
    {
        _catalog = catalog;
        _policy = policy;
        _baseCount = catalog?.Count ?? 0;
        _addedLookup = _added.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The index of <paramref name="id"/>, or -1 when the policy drops it (counted).</summary>
    public int Resolve(ReadOnlySpan<char> id, string source, long? line, string field)
    {
        if (id.IsEmpty) throw new SrtDataException(source, line, field, "the item id is empty.");
        if (_catalog is not null && _catalog.TryGetIndex(id, out int index)) return index;
        if (_addedLookup.TryGetValue(id, out index)) return index;
        if (_catalog is not null)
        {
            if (_policy == UnknownItemPolicy.Error)
                throw new SrtDataException(source, line, field,
                    $"item '{id}' is not in the item catalog (unknown items are errors by default; choose UnknownItemPolicy.AddPlaceholder or Drop to load it anyway).");
            if (_policy == UnknownItemPolicy.Drop)
            {
                _droppedUnknown++;
                return -1;
            }
        }
        var s = id.ToString();
        index = _baseCount + _addedIds.Count;
        _added.Add(s, index);
        _addedIds.Add(s);
        return index;
    }

    /// <summary>The catalog that the resolved indices point into; drops and placeholders are written to <paramref name="report"/>.</summary>
    public ItemCatalog Finish(LoadReport report)
    {
        if (_catalog is null) return ItemCatalog.FromIds(_addedIds);
        report.Drop("unknown_item", _droppedUnknown);
        if (_addedIds.Count == 0) return _catalog;
        report.Note($"{_addedIds.Count} item(s) missing from the catalog were added as placeholders with no text.");
        return _catalog.WithPlaceholders(_addedIds);
    }
}
