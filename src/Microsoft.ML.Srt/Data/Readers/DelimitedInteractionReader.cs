using Microsoft.ML.Data;

namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Reads interactions from a CSV or TSV file with a header (for example <c>user_id,item_id,timestamp</c>) through
/// ML.NET's <see cref="TextLoader"/>, then <see cref="DataViewInteractionReader"/>.
/// </summary>
/// <remarks>
/// Every column is loaded as text and converted here, so that a bad value (a timestamp that is not a number) is an
/// error naming the file, line and column instead of a silent missing value. Blank lines are skipped (as TextLoader
/// does) and counted in the report as <c>blank_line</c>; error line numbers are file lines. A record may not span lines.
/// </remarks>
public static class DelimitedInteractionReader
{
    /// <summary>Column names, separator and policies.</summary>
    public sealed class Options
    {
        /// <summary>The user id column. Default: <c>user_id</c> (names match ignoring case and underscores, so <c>UserId</c> also matches).</summary>
        public string UserColumn = "user_id";

        /// <summary>The item id column. Default: <c>item_id</c>.</summary>
        public string ItemColumn = "item_id";

        /// <summary>The timestamp column. Default: <c>timestamp</c>; when absent (or null), file order is kept.</summary>
        public string? TimestampColumn = "timestamp";

        /// <summary>The field separator. Default: null, comma for <c>.csv</c> files and tab otherwise.</summary>
        public char? Separator;

        /// <summary>What to do with items missing from the catalog. Default: <see cref="UnknownItemPolicy.Error"/>.</summary>
        public UnknownItemPolicy UnknownItems = UnknownItemPolicy.Error;
    }

    /// <summary>Reads <paramref name="path"/>; item ids are looked up in <paramref name="catalog"/> (built from the ids when null).</summary>
    public static InteractionSequences Read(string path, ItemCatalog? catalog = null, Options? options = null, LoadReport? report = null)
    {
        options ??= new Options();
        report ??= new LoadReport();
        char separator = options.Separator ?? TextFile.SeparatorFor(path);
        List<string> header;
        using (var reader = TextFile.Open(path))
        {
            header = TextFile.SplitFields(TextFile.ReadHeader(reader, path), separator, path, 1).Select(h => h.Trim()).ToList();
            if (reader.ReadLine() is null) throw new SrtDataException(path, null, null, "the file has a header but no interactions.");
        }
        int Column(string name)
        {
            int c = TextFile.FindColumn(header, name);
            if (c < 0) throw new SrtDataException(path, 1, name, $"column '{name}' is missing from the header (columns: {string.Join(", ", header)}).");
            return c;
        }
        int user = Column(options.UserColumn), item = Column(options.ItemColumn);
        int time = options.TimestampColumn is null ? -1 : TextFile.FindColumn(header, options.TimestampColumn);

        var columns = new List<TextLoader.Column>
        {
            new(header[user], DataKind.String, user),
            new(header[item], DataKind.String, item),
        };
        if (time >= 0) columns.Add(new TextLoader.Column(header[time], DataKind.String, time));
        var loader = new MLContext().Data.CreateTextLoader(new TextLoader.Options
        {
            Columns = columns.ToArray(),
            Separators = [separator],
            HasHeader = true,
            AllowQuoting = separator == ',',
        });
        var data = loader.Load(path);
        var viewOptions = new DataViewInteractionReader.Options
        {
            UserColumn = header[user],
            ItemColumn = header[item],
            TimestampColumn = time >= 0 ? header[time] : null,
            UnknownItems = options.UnknownItems,
            SourceName = path,
        };
        try
        {
            // The loader numbers rows, not lines: keep the row (1-based) and translate it only when an error needs it.
            var sequences = DataViewInteractionReader.ReadCore(data, catalog, viewOptions, report, position => position + 1);
            // TextLoader skips blank lines; count them so that nothing is left out unreported.
            report.Drop("blank_line", File.ReadLines(path).Skip(1).LongCount(line => line.Length == 0));
            return sequences;
        }
        catch (SrtDataException e) when (e.Line is { } row && e.Source == path)
        {
            throw new SrtDataException(path, LineOfRow(path, row), e.Field, e.Problem, e);
        }
    }

    /// <summary>The file line of 1-based data row <paramref name="row"/>: TextLoader skips the header and blank lines.</summary>
    private static long LineOfRow(string path, long row)
    {
        long line = 0, seen = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (line == 1 || text.Length == 0) continue; // TextLoader skips empty lines only (spaces make a row)
            if (++seen == row) return line;
        }
        return row + 1;
    }
}
