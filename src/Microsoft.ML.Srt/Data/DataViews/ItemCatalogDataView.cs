using Microsoft.ML.Data;

namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Converts between an <see cref="ItemCatalog"/> and an ML.NET <see cref="IDataView"/> with one row per item: an id
/// column, one text column per text field and one vector-of-text column per token-list field.
/// </summary>
public static class ItemCatalogDataView
{
    /// <summary>Column roles for <see cref="Read"/>.</summary>
    public sealed class Options
    {
        /// <summary>The item id column: text, integer or key. Default: <c>ItemId</c>.</summary>
        public string IdColumn = "ItemId";

        /// <summary>Text columns (scalar text). Default: null, every other scalar text column.</summary>
        public string[]? TextColumns;

        /// <summary>Token-list columns (vectors of text). Default: null, every vector-of-text column.</summary>
        public string[]? TokenColumns;

        /// <summary>The name used in error messages. Default: <c>IDataView</c>.</summary>
        public string SourceName = "IDataView";
    }

    /// <summary>
    /// The catalog as a data view: <paramref name="idColumn"/> (text), then each text field (text) and each token-list
    /// field (variable-length vector of text), named as the fields.
    /// </summary>
    public static IDataView ToDataView(ItemCatalog catalog, string idColumn = "ItemId")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var columns = new List<ColumnarDataView.Column>
        {
            new ColumnarDataView.Column<ReadOnlyMemory<char>>(idColumn, TextDataViewType.Instance,
                (long row, ref ReadOnlyMemory<char> v) => v = catalog.GetId((int)row).AsMemory()),
        };
        for (int f = 0; f < catalog.TextFields.Count; f++)
        {
            int field = f;
            columns.Add(new ColumnarDataView.Column<ReadOnlyMemory<char>>(catalog.TextFields[f], TextDataViewType.Instance,
                (long row, ref ReadOnlyMemory<char> v) => v = catalog.GetText((int)row, field).AsMemory()));
        }
        for (int f = 0; f < catalog.TokenFields.Count; f++)
        {
            int field = f;
            columns.Add(new ColumnarDataView.Column<VBuffer<ReadOnlyMemory<char>>>(catalog.TokenFields[f], new VectorDataViewType(TextDataViewType.Instance),
                (long row, ref VBuffer<ReadOnlyMemory<char>> v) =>
                {
                    var tokens = catalog.GetTokens((int)row, field);
                    var editor = VBufferEditor.Create(ref v, tokens.Count);
                    for (int k = 0; k < tokens.Count; k++) editor.Values[k] = tokens[k].AsMemory();
                    v = editor.Commit();
                }));
        }
        return new ColumnarDataView(catalog.Count, columns.ToArray());
    }

    /// <summary>Reads a catalog from <paramref name="data"/>; duplicate or empty ids are errors naming the 1-based row.</summary>
    public static ItemCatalog Read(IDataView data, Options? options = null, LoadReport? report = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= new Options();
        report ??= new LoadReport();
        var source = options.SourceName;
        var schema = data.Schema;
        var idColumn = DataViewColumns.Find(schema, options.IdColumn, source);
        DataViewColumns.IdReader.Check(idColumn, source);
        var visible = schema.Where(c => !c.IsHidden && c.Index != idColumn.Index).ToList();
        var textColumns = options.TextColumns?.Select(n => DataViewColumns.Find(schema, n, source)).ToList()
            ?? visible.Where(c => c.Type is TextDataViewType).ToList();
        var tokenColumns = options.TokenColumns?.Select(n => DataViewColumns.Find(schema, n, source)).ToList()
            ?? visible.Where(c => c.Type is VectorDataViewType { ItemType: TextDataViewType }).ToList();
        foreach (var c in textColumns.Where(c => c.Type is not TextDataViewType))
            throw new SrtDataException(source, null, c.Name, $"column '{c.Name}' has type {c.Type}; a text field needs text (ReadOnlyMemory<char>).");
        foreach (var c in tokenColumns.Where(c => c.Type is not VectorDataViewType { ItemType: TextDataViewType }))
            throw new SrtDataException(source, null, c.Name, $"column '{c.Name}' has type {c.Type}; a token-list field needs a vector of text.");

        var builder = new ItemCatalog.Builder(textColumns.Select(c => c.Name), tokenColumns.Select(c => c.Name));
        var firstRow = new Dictionary<string, long>(StringComparer.Ordinal);
        using (var cursor = data.GetRowCursor(textColumns.Concat(tokenColumns).Append(idColumn)))
        {
            var id = DataViewColumns.IdReader.Create(cursor, idColumn, source);
            var textGetters = textColumns.Select(c => cursor.GetGetter<ReadOnlyMemory<char>>(c)).ToArray();
            var tokenGetters = tokenColumns.Select(c => cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(c)).ToArray();
            var text = new string[textGetters.Length];
            var tokens = new string[tokenGetters.Length][];
            ReadOnlyMemory<char> value = default;
            VBuffer<ReadOnlyMemory<char>> vector = default;
            while (cursor.MoveNext())
            {
                long row = cursor.Position + 1;
                var itemId = id.Read().ToString();
                if (itemId.Length == 0) throw new SrtDataException(source, row, idColumn.Name, "the item id is empty or missing.");
                if (!firstRow.TryAdd(itemId, row))
                    throw new SrtDataException(source, row, idColumn.Name, $"duplicate item id '{itemId}' (first on row {firstRow[itemId]}).");
                for (int f = 0; f < text.Length; f++) { textGetters[f](ref value); text[f] = value.ToString().Trim(); }
                for (int f = 0; f < tokens.Length; f++)
                {
                    tokenGetters[f](ref vector);
                    tokens[f] = vector.DenseValues().Select(t => t.ToString().Trim()).Where(t => t.Length > 0).ToArray();
                }
                builder.Add(itemId, text, tokens);
            }
        }
        if (builder.Count == 0) throw new SrtDataException(source, null, null, "there are no items (no rows).");
        var catalog = builder.Build();
        CatalogNotes.NoteItemsWithoutText(catalog, source, report);
        return catalog;
    }
}
