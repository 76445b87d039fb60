namespace Microsoft.ML.Srt.Data;

/// <summary>
/// What a loader dropped or changed, and why. Loaders never lose data silently: every row that does not
/// reach the result is counted here under a reason, and the CLI prints these counts.
/// </summary>
public sealed class LoadReport
{
    private readonly SortedDictionary<string, long> _dropped = new(StringComparer.Ordinal);
    private readonly List<string> _notes = new();

    /// <summary>Rows or items left out, by reason (for example <c>duplicate_interaction</c>).</summary>
    public IReadOnlyDictionary<string, long> Dropped => _dropped;

    /// <summary>Human-readable notes on anything the loader changed (placeholders added, users skipped...).</summary>
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>Total number of dropped rows over all reasons.</summary>
    public long TotalDropped => _dropped.Values.Sum();

    /// <summary>Counts <paramref name="count"/> dropped rows under <paramref name="reason"/>.</summary>
    public void Drop(string reason, long count = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        if (count <= 0) return;
        _dropped[reason] = _dropped.TryGetValue(reason, out var c) ? c + count : count;
    }

    /// <summary>Records a note about something the loader changed.</summary>
    public void Note(string message) => _notes.Add(message);

    /// <summary>Adds every count and note of <paramref name="other"/> to this report.</summary>
    public void Merge(LoadReport other)
    {
        foreach (var (reason, count) in other._dropped) Drop(reason, count);
        _notes.AddRange(other._notes);
    }
}
