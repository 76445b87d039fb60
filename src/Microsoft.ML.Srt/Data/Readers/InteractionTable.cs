using System.Runtime.InteropServices;

namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Collects (user, item, timestamp) rows in any order and builds <see cref="InteractionSequences"/>: users in order
/// of first appearance; within a user, items by timestamp, ties kept in input order (a stable sort).
/// </summary>
internal sealed class InteractionTable
{
    private readonly Dictionary<string, int> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _userLookup;
    private readonly List<string> _userIds = new();
    private readonly List<int> _userOf = new();
    private readonly List<int> _itemOf = new();
    private readonly List<double> _time = new();

    public InteractionTable() => _userLookup = _users.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Registers a user (so that a user whose every item was dropped is counted) and returns its index.</summary>
    public int User(ReadOnlySpan<char> userId)
    {
        if (!_userLookup.TryGetValue(userId, out int u))
        {
            var s = userId.ToString();
            u = _userIds.Count;
            _users.Add(s, u);
            _userIds.Add(s);
        }
        return u;
    }

    /// <summary>Adds one interaction of user <paramref name="user"/> (from <see cref="User"/>).</summary>
    public void Add(int user, int item, double time)
    {
        _userOf.Add(user);
        _itemOf.Add(item);
        _time.Add(time);
    }

    public InteractionSequences Build(ItemCatalog catalog, LoadReport report)
    {
        int userCount = _userIds.Count;
        var counts = new long[userCount + 1];
        foreach (var u in _userOf) counts[u + 1]++;
        int emptyUsers = 0;
        for (int u = 0; u < userCount; u++) if (counts[u + 1] == 0) emptyUsers++;

        // Renumber users so that users left with no interaction disappear.
        var newIndex = new int[userCount];
        var userIds = new string[userCount - emptyUsers];
        var offsets = new long[userIds.Length + 1];
        for (int u = 0, k = 0; u < userCount; u++)
        {
            if (counts[u + 1] == 0) { newIndex[u] = -1; continue; }
            newIndex[u] = k;
            userIds[k] = _userIds[u];
            offsets[k + 1] = offsets[k] + counts[u + 1];
            k++;
        }

        // Counting sort by user keeps input order within a user.
        int n = _itemOf.Count;
        var items = new int[n];
        var times = new double[n];
        var next = (long[])offsets.Clone();
        var userOf = CollectionsMarshal.AsSpan(_userOf);
        var itemOf = CollectionsMarshal.AsSpan(_itemOf);
        var time = CollectionsMarshal.AsSpan(_time);
        for (int r = 0; r < n; r++)
        {
            long p = next[newIndex[userOf[r]]]++;
            items[p] = itemOf[r];
            times[p] = time[r];
        }
        for (int u = 0; u < userIds.Length; u++) SortStable(items, times, (int)offsets[u], (int)(offsets[u + 1] - offsets[u]));

        report.Drop("user_without_known_items", emptyUsers);
        return new InteractionSequences(catalog, userIds, offsets, items, report);
    }

    private static void SortStable(int[] items, double[] times, int start, int length)
    {
        bool sorted = true;
        for (int k = start + 1; k < start + length && sorted; k++) sorted = times[k - 1] <= times[k];
        if (sorted) return;
        var order = new int[length];
        for (int k = 0; k < length; k++) order[k] = k;
        // Ties broken by input position: a stable sort.
        Array.Sort(order, (a, b) =>
        {
            int c = times[start + a].CompareTo(times[start + b]);
            return c != 0 ? c : a.CompareTo(b);
        });
        var segmentItems = items.AsSpan(start, length).ToArray();
        var segmentTimes = times.AsSpan(start, length).ToArray();
        for (int k = 0; k < length; k++)
        {
            items[start + k] = segmentItems[order[k]];
            times[start + k] = segmentTimes[order[k]];
        }
    }
}
