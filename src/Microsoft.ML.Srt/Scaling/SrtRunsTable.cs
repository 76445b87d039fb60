using System.Globalization;
using System.Text;
using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>
/// The runs table: a CSV file with one row per validation of every training run (docs/scaling.md, "The runs table").
/// Written with the invariant culture; each append writes whole lines in one call, so concurrent runs appending to the
/// same local file do not interleave within a row.
/// </summary>
public static class SrtRunsTable
{
    /// <summary>The column names, in the order they are written.</summary>
    public static IReadOnlyList<string> Columns { get; } = Schema.Select(c => c.Name).ToArray();

    private static (string Name, Func<SrtRunsTableRow, string> Write, bool Required)[] Schema => new (string, Func<SrtRunsTableRow, string>, bool)[]
    {
        ("run_id", r => CsvTable.Quote(r.RunId), true),
        ("dataset", r => CsvTable.Quote(r.Dataset), false),
        ("users", r => Integer(r.Users), true),
        ("items", r => Integer(r.Items), true),
        ("interactions", r => Integer(r.Interactions), true),
        ("interactions_seen", r => CsvTable.Number(r.InteractionsSeen), true),
        ("preset", r => CsvTable.Quote(r.Preset), false),
        ("layers", r => Integer(r.Layers), true),
        ("heads", r => Integer(r.Heads), true),
        ("d", r => Integer(r.Dimension), true),
        ("negatives", r => Integer(r.Negatives), true),
        ("parameters", r => Integer(r.Parameters), true),
        ("non_embedding_parameters", r => Integer(r.NonEmbeddingParameters), true),
        ("epoch", r => CsvTable.Number(r.Epoch), true),
        ("flops", r => CsvTable.Number(r.Flops), true),
        ("train_seconds", r => CsvTable.Number(r.TrainSeconds), false),
        ("val_ndcg5", r => CsvTable.Number(r.ValidationNdcg5), false),
        ("val_hit5", r => CsvTable.Number(r.ValidationHit5), false),
        ("val_ndcg10", r => CsvTable.Number(r.ValidationNdcg10), false),
        ("test_ndcg5", r => CsvTable.Number(r.TestNdcg5), false),
        ("test_hit5", r => CsvTable.Number(r.TestHit5), false),
        ("test_ndcg10", r => CsvTable.Number(r.TestNdcg10), false),
    };

    private static string Integer(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The header line.</summary>
    public static string Header => string.Join(",", Columns);

    /// <summary>One row as a CSV line (no line break).</summary>
    public static string FormatRow(SrtRunsTableRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (string.IsNullOrWhiteSpace(row.RunId)) throw new ArgumentException("A runs-table row needs a run id.", nameof(row));
        return string.Join(",", Schema.Select(c => c.Write(row)));
    }

    /// <summary>
    /// Appends <paramref name="rows"/> to the table at <paramref name="path"/>, writing the header first when the file is new
    /// or empty. An existing file must have this schema's header (its first line), or the append fails naming the file.
    /// </summary>
    public static void Append(string path, params SrtRunsTableRow[] rows)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(rows);
        var text = new StringBuilder();
        foreach (var row in rows) text.Append(FormatRow(row)).Append('\n');
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                using var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                if (stream.Length == 0) text.Insert(0, Header + "\n");
                else CheckHeader(stream, path);
                stream.Seek(0, SeekOrigin.End);
                var bytes = new UTF8Encoding(false).GetBytes(text.ToString());
                stream.Write(bytes);
                stream.Flush(true);
                return;
            }
            catch (IOException) when (attempt < 20 && File.Exists(path))
            {
                Thread.Sleep(50); // another run holds the file for its own append
            }
        }
    }

    private static void CheckHeader(FileStream stream, string path)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, true, 4096, leaveOpen: true);
        var first = reader.ReadLine() ?? "";
        if (first.Trim() != Header)
            throw new SrtDataException(path, 1, null,
                $"this file's header is not the runs table's ({Header}); append to a new file or convert this one (docs/scaling.md).");
    }

    /// <summary>
    /// Reads a runs table. Columns may come in any order; unknown columns are ignored; a missing required column or a bad
    /// value throws <see cref="SrtDataException"/> naming the file, the line and the column.
    /// </summary>
    public static IReadOnlyList<SrtRunsTableRow> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (header, records) = CsvTable.Read(path);
        var index = header.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
        foreach (var column in Schema.Where(c => c.Required))
            if (!index.ContainsKey(column.Name))
                throw new SrtDataException(path, 1, column.Name, $"the runs table needs this column (header: {string.Join(",", header)}).");
        var rows = new List<SrtRunsTableRow>(records.Count);
        foreach (var (line, fields) in records)
        {
            string Text(string column) => index.TryGetValue(column, out int i) ? fields[i] : "";
            double? Optional(string column) => CsvTable.ParseNumber(Text(column), path, line, column);
            double Required(string column) => Optional(column) ?? throw new SrtDataException(path, line, column, "a value is required.");
            long Whole(string column)
            {
                double v = Required(column);
                if (v < 0 || v != Math.Floor(v) || v > long.MaxValue)
                    throw new SrtDataException(path, line, column, $"'{Text(column).Trim()}' is not a non-negative whole number.");
                return (long)v;
            }
            double NonNegative(string column)
            {
                double v = Required(column);
                if (v < 0 || double.IsInfinity(v)) throw new SrtDataException(path, line, column, $"'{Text(column).Trim()}' must be a finite number, 0 or more.");
                return v;
            }
            var runId = Text("run_id").Trim();
            if (runId.Length == 0) throw new SrtDataException(path, line, "run_id", "a run id is required.");
            rows.Add(new SrtRunsTableRow
            {
                RunId = runId,
                Dataset = Text("dataset").Trim(),
                Users = Whole("users"),
                Items = Whole("items"),
                Interactions = Whole("interactions"),
                InteractionsSeen = NonNegative("interactions_seen"),
                Preset = Text("preset").Trim(),
                Layers = (int)Math.Min(int.MaxValue, Whole("layers")),
                Heads = (int)Math.Min(int.MaxValue, Whole("heads")),
                Dimension = (int)Math.Min(int.MaxValue, Whole("d")),
                Negatives = (int)Math.Min(int.MaxValue, Whole("negatives")),
                Parameters = Whole("parameters"),
                NonEmbeddingParameters = Whole("non_embedding_parameters"),
                Epoch = NonNegative("epoch"),
                Flops = NonNegative("flops"),
                TrainSeconds = Optional("train_seconds"),
                ValidationNdcg5 = Metric(Optional("val_ndcg5"), "val_ndcg5"),
                ValidationHit5 = Metric(Optional("val_hit5"), "val_hit5"),
                ValidationNdcg10 = Metric(Optional("val_ndcg10"), "val_ndcg10"),
                TestNdcg5 = Metric(Optional("test_ndcg5"), "test_ndcg5"),
                TestHit5 = Metric(Optional("test_hit5"), "test_hit5"),
                TestNdcg10 = Metric(Optional("test_ndcg10"), "test_ndcg10"),
            });

            double? Metric(double? v, string column) => v is null || (v >= 0 && v <= 1) ? v
                : throw new SrtDataException(path, line, column, $"'{Text(column).Trim()}' is not a metric between 0 and 1.");
        }
        return rows;
    }
}
