namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Reads RecBole atomic files: <c>.inter</c> (interactions) and <c>.item</c> (item features). Both are tab-separated
/// with a typed header, <c>name:type</c> per column, where type is <c>token</c>, <c>token_seq</c>, <c>float</c> or
/// <c>float_seq</c> (for example <c>user_id:token	item_id:token	timestamp:float</c>).
/// </summary>
/// <remarks>
/// Item fields become catalog fields by type unless <see cref="Options"/> says otherwise: <c>token_seq</c> is text
/// (its words joined by spaces), <c>token</c> is a token-list field of one token, <c>float</c> and <c>float_seq</c>
/// are ignored (with a note). A <c>token_seq</c> field of ids such as <c>a123 a456</c> stays text by default (the
/// loader adds a note suggesting <see cref="Options.TokenFields"/>): a field is only split into tokens when named there.
/// </remarks>
public static class RecBoleReader
{
    /// <summary>Column mapping and field roles for RecBole files.</summary>
    public sealed class Options
    {
        /// <summary>The user id field of the <c>.inter</c> file. Default: <c>user_id</c>.</summary>
        public string UserField = "user_id";

        /// <summary>The item id field of both files. Default: <c>item_id</c>.</summary>
        public string ItemField = "item_id";

        /// <summary>The timestamp field (a <c>float</c>). Default: <c>timestamp</c>. When it is absent (or null), input order is kept.</summary>
        public string? TimestampField = "timestamp";

        /// <summary>Item fields to use as text whatever their type. Default: none (by type).</summary>
        public string[]? TextFields;

        /// <summary>Item fields to use as token lists (values split on spaces) whatever their type. Default: none (by type).</summary>
        public string[]? TokenFields;

        /// <summary>Item fields to leave out. Default: none.</summary>
        public string[]? IgnoredFields;

        /// <summary>What to do with interaction items missing from the item file. Default: <see cref="UnknownItemPolicy.Error"/>.</summary>
        public UnknownItemPolicy UnknownItems = UnknownItemPolicy.Error;
    }

    private static readonly string[] _types = ["token", "token_seq", "float", "float_seq"];

    /// <summary>The <c>.item</c> file next to an <c>.inter</c> file (same name), or null when there is none.</summary>
    public static string? FindSiblingItemFile(string interPath)
    {
        var candidate = Path.ChangeExtension(interPath, ".item");
        return File.Exists(candidate) ? candidate : null;
    }

    /// <summary>Reads interactions from <paramref name="interPath"/> and, when <paramref name="itemPath"/> is given, the catalog from it.</summary>
    public static InteractionSequences Read(string interPath, string? itemPath, Options? options = null, LoadReport? report = null)
    {
        report ??= new LoadReport();
        var catalog = itemPath is null ? null : ReadItems(itemPath, options, report);
        return ReadInteractions(interPath, catalog, options, report);
    }

    /// <summary>Reads an <c>.item</c> file into a catalog; notes (ignored fields, items without text) go to <paramref name="report"/>.</summary>
    public static ItemCatalog ReadItems(string path, Options? options = null, LoadReport? report = null)
    {
        options ??= new Options();
        report ??= new LoadReport();
        using var reader = TextFile.Open(path);
        var header = ParseHeader(TextFile.ReadHeader(reader, path), path);
        int idColumn = Require(header, options.ItemField, path, "token");

        var textColumns = new List<int>();
        var tokenColumns = new List<int>();
        var idLike = new List<int>();
        for (int c = 0; c < header.Count; c++)
        {
            if (c == idColumn) continue;
            var (name, type) = header[c];
            if (Contains(options.IgnoredFields, name)) { report.Note($"{path}: field '{name}' ignored (IgnoredFields)."); continue; }
            if (Contains(options.TokenFields, name)) tokenColumns.Add(c);
            else if (Contains(options.TextFields, name)) textColumns.Add(c);
            else if (type == "token_seq") { textColumns.Add(c); idLike.Add(c); }
            else if (type == "token") tokenColumns.Add(c);
            else report.Note($"{path}: field '{name}' ({type}) ignored: numeric item fields are not features.");
        }
        foreach (var name in (options.TextFields ?? []).Concat(options.TokenFields ?? []))
            if (header.FindIndex(h => h.Name == name) < 0)
                throw new SrtDataException(path, 1, name, $"field '{name}' is not in the header (fields: {string.Join(", ", header.Select(h => h.Name))}).");

        var builder = new ItemCatalog.Builder(textColumns.Select(c => header[c].Name), tokenColumns.Select(c => header[c].Name));
        var firstLine = new Dictionary<string, long>(StringComparer.Ordinal);
        var stillIdLike = idLike.ToDictionary(c => c, _ => true);
        long lineNumber = 1, blank = 0;
        string? line;
        var text = new string[textColumns.Count];
        var tokens = new string[tokenColumns.Count][];
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Length == 0) { blank++; continue; }
            var fields = line.Split('\t');
            CheckFieldCount(fields, header.Count, path, lineNumber);
            var id = fields[idColumn].Trim();
            if (id.Length == 0) throw new SrtDataException(path, lineNumber, header[idColumn].Name, "the item id is empty.");
            if (!firstLine.TryAdd(id, lineNumber))
                throw new SrtDataException(path, lineNumber, header[idColumn].Name, $"duplicate item id '{id}' (first on line {firstLine[id]}).");
            for (int f = 0; f < text.Length; f++)
            {
                text[f] = fields[textColumns[f]].Trim();
                if (text[f].Length > 0 && stillIdLike.TryGetValue(textColumns[f], out var yes) && yes && !TextFile.LooksLikeIds(text[f]))
                    stillIdLike[textColumns[f]] = false;
            }
            for (int f = 0; f < tokens.Length; f++)
                tokens[f] = header[tokenColumns[f]].Type == "token_seq" || header[tokenColumns[f]].Type == "float_seq"
                    ? TextFile.SplitTokens(fields[tokenColumns[f]])
                    : fields[tokenColumns[f]].Trim() is { Length: > 0 } one ? [one] : [];
            builder.Add(id, text, tokens);
        }
        if (builder.Count == 0) throw new SrtDataException(path, null, null, "the file has a header but no items.");
        report.Drop("blank_line", blank);
        foreach (var (c, yes) in stillIdLike)
            if (yes) report.Note($"{path}: text field '{header[c].Name}' holds only id-like tokens; name it in TokenFields (--token-fields) to use it as a token list.");
        var catalog = builder.Build();
        CatalogNotes.NoteItemsWithoutText(catalog, path, report);
        return catalog;
    }

    /// <summary>
    /// Reads an <c>.inter</c> file: users in order of first appearance, each user's items ordered by timestamp with
    /// ties in file order (stable). Item ids missing from <paramref name="catalog"/> follow <see cref="Options.UnknownItems"/>.
    /// </summary>
    public static InteractionSequences ReadInteractions(string path, ItemCatalog? catalog = null, Options? options = null, LoadReport? report = null)
    {
        options ??= new Options();
        report ??= new LoadReport();
        using var reader = TextFile.Open(path);
        var header = ParseHeader(TextFile.ReadHeader(reader, path), path);
        int userColumn = Require(header, options.UserField, path, "token");
        int itemColumn = Require(header, options.ItemField, path, "token");
        int timeColumn = options.TimestampField is null ? -1 : header.FindIndex(h => h.Name == options.TimestampField);
        if (timeColumn >= 0 && header[timeColumn].Type != "float")
            throw new SrtDataException(path, 1, options.TimestampField, $"field '{options.TimestampField}' has type {header[timeColumn].Type}; expected float.");
        if (timeColumn < 0) report.Note($"{path}: no timestamp field; each user's interactions keep their file order.");

        var indexer = new ItemIndexer(catalog, options.UnknownItems);
        var table = new InteractionTable();
        long lineNumber = 1, blank = 0;
        string? line;
        string itemName = header[itemColumn].Name, userName = header[userColumn].Name;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Length == 0) { blank++; continue; }
            var fields = SplitTabs(line, header.Count, path, lineNumber);
            var user = line.AsSpan(fields[userColumn]).Trim();
            if (user.IsEmpty) throw new SrtDataException(path, lineNumber, userName, "the user id is empty.");
            int u = table.User(user);
            double time = lineNumber;
            if (timeColumn >= 0 && !TextFile.TryParseNumber(line.AsSpan(fields[timeColumn]), out time))
                throw new SrtDataException(path, lineNumber, header[timeColumn].Name, $"'{line.AsSpan(fields[timeColumn])}' is not a number.");
            int item = indexer.Resolve(line.AsSpan(fields[itemColumn]).Trim(), path, lineNumber, itemName);
            if (item >= 0) table.Add(u, item, time);
        }
        if (lineNumber - blank == 1) throw new SrtDataException(path, null, null, "the file has a header but no interactions.");
        report.Drop("blank_line", blank);
        return table.Build(indexer.Finish(report), report);
    }

    private static Range[] SplitTabs(string line, int expected, string path, long lineNumber)
    {
        var ranges = new Range[expected];
        int count = line.AsSpan().Split(ranges, '\t');
        if (count != expected || line.AsSpan(ranges[expected - 1]).Contains('\t'))
            throw new SrtDataException(path, lineNumber, null, $"expected {expected} tab-separated fields as in the header, found {line.Split('\t').Length}.");
        return ranges;
    }

    private static void CheckFieldCount(string[] fields, int expected, string path, long lineNumber)
    {
        if (fields.Length != expected)
            throw new SrtDataException(path, lineNumber, null, $"expected {expected} tab-separated fields as in the header, found {fields.Length}.");
    }

    private static List<(string Name, string Type)> ParseHeader(string line, string path)
    {
        var header = new List<(string Name, string Type)>();
        foreach (var raw in line.Split('\t'))
        {
            var column = raw.Trim();
            int colon = column.LastIndexOf(':');
            var name = colon > 0 ? column[..colon] : column;
            var type = colon > 0 ? column[(colon + 1)..] : "";
            if (colon <= 0 || !_types.Contains(type))
                throw new SrtDataException(path, 1, column,
                    $"invalid RecBole header column '{column}': expected name:type with type token, token_seq, float or float_seq.");
            if (header.Any(h => h.Name == name)) throw new SrtDataException(path, 1, name, $"field '{name}' appears twice in the header.");
            header.Add((name, type));
        }
        return header;
    }

    private static int Require(List<(string Name, string Type)> header, string name, string path, string type)
    {
        int c = header.FindIndex(h => h.Name == name);
        if (c < 0)
            throw new SrtDataException(path, 1, name, $"field '{name}' is missing from the header (fields: {string.Join(", ", header.Select(h => $"{h.Name}:{h.Type}"))}).");
        if (header[c].Type != type)
            throw new SrtDataException(path, 1, name, $"field '{name}' has type {header[c].Type}; expected {type}.");
        return c;
    }

    private static bool Contains(string[]? names, string name) => names is not null && Array.IndexOf(names, name) >= 0;
}
