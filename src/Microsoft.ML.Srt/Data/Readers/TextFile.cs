using System.Globalization;

namespace Microsoft.ML.Srt.Data;

/// <summary>Small helpers shared by the text readers: opening files with clear errors, splitting fields, parsing numbers.</summary>
internal static class TextFile
{
    /// <summary>Opens <paramref name="path"/> for streaming; a missing or empty file is an <see cref="SrtDataException"/>.</summary>
    public static StreamReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new SrtDataException(path, null, null, "the file does not exist.");
        var reader = new StreamReader(path, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        if (reader.Peek() < 0)
        {
            reader.Dispose();
            throw new SrtDataException(path, null, null, "the file is empty.");
        }
        return reader;
    }

    /// <summary>Reads the header line (line 1); a blank header is an error.</summary>
    public static string ReadHeader(StreamReader reader, string path)
    {
        var header = reader.ReadLine();
        if (string.IsNullOrWhiteSpace(header)) throw new SrtDataException(path, 1, null, "the header line is missing or blank.");
        return header;
    }

    /// <summary>The field separator for a delimited file: comma for <c>.csv</c>, tab otherwise.</summary>
    public static char SeparatorFor(string path) =>
        Path.GetExtension(path).Equals(".csv", StringComparison.OrdinalIgnoreCase) ? ',' : '\t';

    /// <summary>
    /// Splits one line into fields. With a comma separator, fields may be quoted (RFC 4180: <c>""</c> is a quote);
    /// tab-separated lines are split literally, since TSV has no quoting.
    /// </summary>
    public static List<string> SplitFields(string line, char separator, string path, long lineNumber)
    {
        var fields = new List<string>();
        if (separator != ',')
        {
            foreach (var f in line.Split(separator)) fields.Add(f);
            return fields;
        }
        var sb = new System.Text.StringBuilder();
        int i = 0;
        while (true)
        {
            sb.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length)
                        throw new SrtDataException(path, lineNumber, null, $"field {fields.Count + 1} opens a quote that is not closed on this line.");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    sb.Append(line[i++]);
                }
                if (i < line.Length && line[i] != separator)
                    throw new SrtDataException(path, lineNumber, null, $"field {fields.Count + 1} has text after its closing quote.");
            }
            else
            {
                int end = line.IndexOf(separator, i);
                if (end < 0) end = line.Length;
                sb.Append(line, i, end - i);
                i = end;
            }
            fields.Add(sb.ToString());
            if (i >= line.Length) return fields;
            i++; // the separator
        }
    }

    /// <summary>Parses an invariant-culture number (a timestamp), or returns false.</summary>
    public static bool TryParseNumber(ReadOnlySpan<char> text, out double value) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    /// <summary>Header names match exactly, or else ignoring case, underscores, spaces and dashes (<c>user_id</c> matches <c>UserId</c>).</summary>
    public static int FindColumn(IReadOnlyList<string> names, string wanted)
    {
        for (int c = 0; c < names.Count; c++) if (names[c] == wanted) return c;
        var key = Normalize(wanted);
        for (int c = 0; c < names.Count; c++) if (Normalize(names[c]) == key) return c;
        return -1;
    }

    private static string Normalize(string name) =>
        new string(name.Where(ch => ch != '_' && ch != ' ' && ch != '-').Select(char.ToLowerInvariant).ToArray());

    /// <summary>True when the text is one or more whitespace-separated tokens that each look like an id: optional letters then digits (<c>123</c>, <c>a123</c>).</summary>
    public static bool LooksLikeIds(string text)
    {
        bool any = false;
        foreach (var token in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int k = 0;
            while (k < token.Length && char.IsAsciiLetter(token[k])) k++;
            if (k == token.Length || k > 3) return false;
            for (; k < token.Length; k++) if (!char.IsAsciiDigit(token[k])) return false;
            any = true;
        }
        return any;
    }

    /// <summary>Splits a token list on spaces, dropping empty entries.</summary>
    public static string[] SplitTokens(string text) =>
        text.Length == 0 ? Array.Empty<string>() : text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
