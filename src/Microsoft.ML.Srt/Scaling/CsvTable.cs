using System.Globalization;
using System.Text;
using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Scaling;

/// <summary>Comma-separated tables with a header line (RFC 4180 quoting, one record per line), read and written with the
/// invariant culture.</summary>
internal static class CsvTable
{
    /// <summary>The header's column names and every non-blank record with its 1-based line number.</summary>
    public static (string[] Header, List<(long Line, string[] Fields)> Records) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        string[]? header = null;
        var records = new List<(long, string[])>();
        long line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            var fields = Split(text, path, line);
            if (header is null)
            {
                header = fields.Select(f => f.Trim()).ToArray();
                var duplicate = header.GroupBy(h => h, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
                if (duplicate is not null) throw new SrtDataException(path, line, duplicate.Key, "the header names this column twice.");
                continue;
            }
            if (fields.Length != header.Length)
                throw new SrtDataException(path, line, null, $"{fields.Length} fields where the header has {header.Length}.");
            records.Add((line, fields));
        }
        if (header is null) throw new SrtDataException(path, null, null, "the file is empty: a header line is needed.");
        return (header, records);
    }

    /// <summary>The fields of one line.</summary>
    public static string[] Split(string text, string path, long line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        int i = 0;
        while (true)
        {
            field.Clear();
            if (i < text.Length && text[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= text.Length) throw new SrtDataException(path, line, null, $"a quoted field (field {fields.Count + 1}) is not closed.");
                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(text[i++]);
                }
                if (i < text.Length && text[i] != ',')
                    throw new SrtDataException(path, line, null, $"text after the closing quote of field {fields.Count + 1}.");
            }
            else
            {
                while (i < text.Length && text[i] != ',') field.Append(text[i++]);
            }
            fields.Add(field.ToString());
            if (i >= text.Length) return fields.ToArray();
            i++; // the comma
        }
    }

    /// <summary>A field as written: quoted when it holds a comma or a quote; line breaks become spaces (one record per line).</summary>
    public static string Quote(string value)
    {
        value = value.Replace("\r\n", " ").Replace('\n', ' ').Replace('\r', ' ');
        return value.IndexOfAny(new[] { ',', '"' }) >= 0 || value != value.Trim() ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
    }

    /// <summary>A number as written: invariant culture, round-trip precision; empty for NaN or null.</summary>
    public static string Number(double? value) =>
        value is null || double.IsNaN(value.Value) ? "" : value.Value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Parses a number written with the invariant culture; null for an empty field.</summary>
    public static double? ParseNumber(string text, string path, long line, string column)
    {
        text = text.Trim();
        if (text.Length == 0) return null;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && !double.IsNaN(v)) return v;
        throw new SrtDataException(path, line, column, $"'{text}' is not a number (invariant culture: digits, '.', optional exponent).");
    }
}
