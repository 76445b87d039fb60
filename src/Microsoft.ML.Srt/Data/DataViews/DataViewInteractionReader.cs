using Microsoft.ML.Data;

namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Converts between interactions in an ML.NET <see cref="IDataView"/> (one row per interaction: user, item, optional
/// timestamp) and <see cref="InteractionSequences"/>. This is how CSV/TSV loaded by ML.NET's TextLoader and
/// Microsoft.Data.Analysis DataFrames come in.
/// </summary>
public static class DataViewInteractionReader
{
    /// <summary>Column names and policies for <see cref="Read"/>.</summary>
    public sealed class Options
    {
        /// <summary>The user id column: text, integer or key. Default: <c>UserId</c> (also matches <c>user_id</c>: names match ignoring case and underscores).</summary>
        public string UserColumn = "UserId";

        /// <summary>The item id column: text, integer or key. Default: <c>ItemId</c>.</summary>
        public string ItemColumn = "ItemId";

        /// <summary>The timestamp column, numeric or text holding a number. Default: <c>Timestamp</c>; when absent (or null), row order is kept.</summary>
        public string? TimestampColumn = "Timestamp";

        /// <summary>What to do with items missing from the catalog. Default: <see cref="UnknownItemPolicy.Error"/>.</summary>
        public UnknownItemPolicy UnknownItems = UnknownItemPolicy.Error;

        /// <summary>The name used in error messages for the data (a file path, for instance). Default: <c>IDataView</c>.</summary>
        public string SourceName = "IDataView";
    }

    /// <summary>
    /// Reads every row of <paramref name="data"/>: users in order of first appearance, each user's items ordered by
    /// timestamp with ties in row order (stable). Errors name the column and the 1-based row.
    /// </summary>
    public static InteractionSequences Read(IDataView data, ItemCatalog? catalog = null, Options? options = null, LoadReport? report = null) =>
        ReadCore(data, catalog, options ?? new Options(), report ?? new LoadReport(), position => position + 1);

    internal static InteractionSequences ReadCore(IDataView data, ItemCatalog? catalog, Options options, LoadReport report, Func<long, long> lineOf)
    {
        ArgumentNullException.ThrowIfNull(data);
        var source = options.SourceName;
        var userColumn = DataViewColumns.Find(data.Schema, options.UserColumn, source);
        var itemColumn = DataViewColumns.Find(data.Schema, options.ItemColumn, source);
        DataViewColumns.IdReader.Check(userColumn, source);
        DataViewColumns.IdReader.Check(itemColumn, source);
        var timeColumn = DataViewColumns.TryFind(data.Schema, options.TimestampColumn);
        if (timeColumn is null) report.Note($"{source}: no timestamp column; each user's interactions keep their row order.");

        var needed = new List<DataViewSchema.Column> { userColumn, itemColumn };
        if (timeColumn is { } tc) needed.Add(tc);
        var indexer = new ItemIndexer(catalog, options.UnknownItems);
        var table = new InteractionTable();
        long rows = 0;
        using (var cursor = data.GetRowCursor(needed))
        {
            var user = DataViewColumns.IdReader.Create(cursor, userColumn, source);
            var item = DataViewColumns.IdReader.Create(cursor, itemColumn, source);
            var time = timeColumn is { } t ? DataViewColumns.TimeReader(cursor, t, source, lineOf) : null;
            while (cursor.MoveNext())
            {
                rows++;
                long position = cursor.Position;
                var userId = user.Read();
                if (userId.IsEmpty) throw new SrtDataException(source, lineOf(position), userColumn.Name, "the user id is empty or missing.");
                int u = table.User(userId);
                double timestamp = time is null ? position : time(position);
                int i = indexer.Resolve(item.Read(), source, lineOf(position), itemColumn.Name);
                if (i >= 0) table.Add(u, i, timestamp);
            }
        }
        if (rows == 0) throw new SrtDataException(source, null, null, "there are no interactions (no rows).");
        return table.Build(indexer.Finish(report), report);
    }

    /// <summary>
    /// The interactions as an <see cref="IDataView"/> with one row per interaction, users in order and each user's
    /// items oldest first: <c>UserId</c> and <c>ItemId</c> (text) and <c>Timestamp</c> (Single, the 0-based position
    /// in the user's sequence). Rows are computed on the fly; nothing is copied.
    /// </summary>
    public static IDataView ToDataView(InteractionSequences sequences, string userColumn = "UserId", string itemColumn = "ItemId", string timestampColumn = "Timestamp")
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var offsets = new long[sequences.UserCount + 1];
        for (int u = 0; u < sequences.UserCount; u++) offsets[u + 1] = offsets[u] + sequences.GetLength(u);
        int UserOf(long row)
        {
            int k = Array.BinarySearch(offsets, row);
            // An exact hit may land on an empty prefix boundary: move to the last user starting at this row.
            if (k >= 0) { while (k + 1 < offsets.Length && offsets[k + 1] == row) k++; return k; }
            return ~k - 1;
        }
        var userIds = sequences.UserIds.Select(s => s.AsMemory()).ToArray();
        var itemIds = sequences.Catalog.Ids.Select(s => s.AsMemory()).ToArray();
        return new ColumnarDataView(sequences.InteractionCount,
            new ColumnarDataView.Column<ReadOnlyMemory<char>>(userColumn, TextDataViewType.Instance,
                (long row, ref ReadOnlyMemory<char> v) => v = userIds[UserOf(row)]),
            new ColumnarDataView.Column<ReadOnlyMemory<char>>(itemColumn, TextDataViewType.Instance,
                (long row, ref ReadOnlyMemory<char> v) => { int u = UserOf(row); v = itemIds[sequences.GetSequence(u)[(int)(row - offsets[u])]]; }),
            new ColumnarDataView.Column<float>(timestampColumn, NumberDataViewType.Single,
                (long row, ref float v) => v = row - offsets[UserOf(row)]));
    }
}
