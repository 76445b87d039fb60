namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Reads the sequences format: one user per line, <c>user item item ...</c> separated by spaces or tabs, items
/// oldest first (as in the ICLRec/S3-Rec <c>Beauty.txt</c>). The file is streamed into the compact
/// <see cref="InteractionSequences"/> arrays, so memory is proportional to the number of interactions.
/// </summary>
/// <remarks>
/// Rules: a user may appear on one line only (a second line is an error naming both lines); a line with a user but
/// no items is dropped and counted as <c>user_without_items</c>; blank lines are counted as <c>blank_line</c>;
/// repeated items (even consecutive ones) are kept, since they are real interactions.
/// </remarks>
public static class SequenceFileReader
{
    /// <summary>
    /// Reads <paramref name="path"/>. Item ids are looked up in <paramref name="catalog"/> and ids it lacks follow
    /// <paramref name="unknownItems"/>; without a catalog, one of bare ids is built in order of first appearance.
    /// Drops and notes go to <paramref name="report"/> (a new one when null), which the result carries.
    /// </summary>
    public static InteractionSequences Read(string path, ItemCatalog? catalog = null,
        UnknownItemPolicy unknownItems = UnknownItemPolicy.Error, LoadReport? report = null)
    {
        report ??= new LoadReport();
        var indexer = new ItemIndexer(catalog, unknownItems);
        var userLines = new Dictionary<string, long>(StringComparer.Ordinal);
        var userLookup = userLines.GetAlternateLookup<ReadOnlySpan<char>>();
        var userIds = new List<string>();
        var offsets = new List<long> { 0 };
        var items = new List<int>();
        long blank = 0, withoutItems = 0, emptyUsers = 0;

        using (var reader = TextFile.Open(path))
        {
            long lineNumber = 0;
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                lineNumber++;
                var rest = line.AsSpan();
                var userId = NextToken(ref rest);
                if (userId.IsEmpty) { blank++; continue; }
                if (userLookup.TryGetValue(userId, out long firstLine))
                    throw new SrtDataException(path, lineNumber, "user", $"user '{userId}' already has a line (line {firstLine}); each user must be on one line.");
                userLines.Add(userId.ToString(), lineNumber);

                int before = items.Count;
                int tokens = 0;
                for (var token = NextToken(ref rest); !token.IsEmpty; token = NextToken(ref rest))
                {
                    tokens++;
                    int index = indexer.Resolve(token, path, lineNumber, "item");
                    if (index >= 0) items.Add(index);
                }
                if (tokens == 0) { withoutItems++; continue; }
                if (items.Count == before) { emptyUsers++; continue; }
                userIds.Add(userId.ToString());
                offsets.Add(items.Count);
            }
        }
        if (userIds.Count == 0 && withoutItems == 0 && emptyUsers == 0)
            throw new SrtDataException(path, null, null, "the file has no interactions (only blank lines).");

        report.Drop("blank_line", blank);
        report.Drop("user_without_items", withoutItems);
        report.Drop("user_without_known_items", emptyUsers);
        var finalCatalog = indexer.Finish(report);
        return new InteractionSequences(finalCatalog, userIds.ToArray(), offsets.ToArray(), items.ToArray(), report);
    }

    private static ReadOnlySpan<char> NextToken(ref ReadOnlySpan<char> rest)
    {
        int start = 0;
        while (start < rest.Length && IsSeparator(rest[start])) start++;
        int end = start;
        while (end < rest.Length && !IsSeparator(rest[end])) end++;
        var token = rest[start..end];
        rest = rest[end..];
        return token;
    }

    private static bool IsSeparator(char c) => c == ' ' || c == '\t';
}
