namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Reads an item catalog from a TSV or CSV file with a header line (for example <c>item_id	asin	title</c>),
/// optionally merged with a JSON attributes file (<see cref="ItemAttributesReader"/>).
/// </summary>
/// <remarks>
/// Default text columns: every non-id column with at least one value that contains a space, that is, columns
/// of words. Columns whose every value is a single token (opaque codes such as an ASIN, numbers) are left out and
/// named in a note: as text they would only add noise. <see cref="Options.TextColumns"/> overrides the rule and
/// <see cref="Options.ExcludeColumns"/> removes columns from it.
/// </remarks>
public static class DelimitedItemReader
{
    /// <summary>Which columns hold the id, text and token lists.</summary>
    public sealed class Options
    {
        /// <summary>The item id column. Default: null, the first column.</summary>
        public string? IdColumn;

        /// <summary>Columns to use as text, in order. Default: null, every non-id column of words (see remarks).</summary>
        public string[]? TextColumns;

        /// <summary>Columns to use as token lists (values split on spaces). Default: none.</summary>
        public string[]? TokenColumns;

        /// <summary>Columns never used as text by the default rule. Default: none.</summary>
        public string[]? ExcludeColumns;

        /// <summary>The field separator. Default: null, comma for <c>.csv</c> files and tab otherwise.</summary>
        public char? Separator;

        /// <summary>A JSON file <c>{"item_id": [attribute ids]}</c> merged in as the token-list field <c>attributes</c>. Default: none.</summary>
        public string? AttributesPath;
    }

    /// <summary>Reads the catalog in <paramref name="path"/>; notes go to <paramref name="report"/>.</summary>
    public static ItemCatalog Read(string path, Options? options = null, LoadReport? report = null)
    {
        options ??= new Options();
        report ??= new LoadReport();
        char separator = options.Separator ?? TextFile.SeparatorFor(path);
        List<string> header;
        var rows = new List<(long Line, List<string> Fields)>();
        long blank = 0;
        using (var reader = TextFile.Open(path))
        {
            header = TextFile.SplitFields(TextFile.ReadHeader(reader, path), separator, path, 1).Select(h => h.Trim()).ToList();
            for (int c = 0; c < header.Count; c++)
            {
                if (header[c].Length == 0) throw new SrtDataException(path, 1, null, $"header column {c + 1} has no name.");
                if (header.IndexOf(header[c]) != c) throw new SrtDataException(path, 1, header[c], $"column '{header[c]}' appears twice in the header.");
            }
            long lineNumber = 1;
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                lineNumber++;
                if (line.Length == 0) { blank++; continue; }
                var fields = TextFile.SplitFields(line, separator, path, lineNumber);
                if (fields.Count != header.Count)
                    throw new SrtDataException(path, lineNumber, null, $"expected {header.Count} fields as in the header, found {fields.Count}.");
                rows.Add((lineNumber, fields));
            }
        }
        if (rows.Count == 0) throw new SrtDataException(path, null, null, "the file has a header but no items.");

        int idColumn = options.IdColumn is null ? 0 : Find(header, options.IdColumn, path);
        var tokenColumns = (options.TokenColumns ?? []).Select(n => Find(header, n, path)).ToList();
        List<int> textColumns;
        if (options.TextColumns is not null)
        {
            textColumns = options.TextColumns.Select(n => Find(header, n, path)).ToList();
        }
        else
        {
            var excluded = (options.ExcludeColumns ?? []).Select(n => Find(header, n, path)).ToHashSet();
            textColumns = new List<int>();
            for (int c = 0; c < header.Count; c++)
            {
                if (c == idColumn || tokenColumns.Contains(c) || excluded.Contains(c)) continue;
                if (rows.Any(r => r.Fields[c].AsSpan().Trim().Contains(' '))) textColumns.Add(c);
                else report.Note($"{path}: column '{header[c]}' is not used as text: every value is a single token (an id or code); name it in TextColumns to use it.");
            }
        }

        var builder = new ItemCatalog.Builder(textColumns.Select(c => header[c]), tokenColumns.Select(c => header[c]), rows.Count);
        var firstLine = new Dictionary<string, long>(StringComparer.Ordinal);
        var text = new string[textColumns.Count];
        var tokens = new string[tokenColumns.Count][];
        foreach (var (lineNumber, fields) in rows)
        {
            var id = fields[idColumn].Trim();
            if (id.Length == 0) throw new SrtDataException(path, lineNumber, header[idColumn], "the item id is empty.");
            if (!firstLine.TryAdd(id, lineNumber))
                throw new SrtDataException(path, lineNumber, header[idColumn], $"duplicate item id '{id}' (first on line {firstLine[id]}).");
            for (int f = 0; f < text.Length; f++) text[f] = fields[textColumns[f]].Trim();
            for (int f = 0; f < tokens.Length; f++) tokens[f] = TextFile.SplitTokens(fields[tokenColumns[f]]);
            builder.Add(id, text, tokens);
        }
        report.Drop("blank_line", blank);
        var catalog = builder.Build();
        CatalogNotes.NoteItemsWithoutText(catalog, path, report);
        return options.AttributesPath is null ? catalog : ItemAttributesReader.Merge(catalog, options.AttributesPath, report: report);
    }

    private static int Find(List<string> header, string name, string path)
    {
        int c = TextFile.FindColumn(header, name);
        if (c < 0) throw new SrtDataException(path, 1, name, $"column '{name}' is not in the header (columns: {string.Join(", ", header)}).");
        return c;
    }
}
