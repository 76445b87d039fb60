namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Bad input data. The message always names the source (file or column), and the line and field when known,
/// so that a user can open the file at the right place.
/// </summary>
public sealed class SrtDataException : Exception
{
    /// <summary>Creates the exception for <paramref name="source"/> (a file path or a column name).</summary>
    public SrtDataException(string source, long? line, string? field, string problem, Exception? inner = null)
        : base(Format(source, line, field, problem), inner)
    {
        Source = source;
        Line = line;
        Field = field;
        Problem = problem;
    }

    /// <summary>The file path, or a description such as <c>column 'UserId'</c>, where the problem is.</summary>
    public new string Source { get; }

    /// <summary>1-based line (or row) number, when known.</summary>
    public long? Line { get; }

    /// <summary>The field or column name, when known.</summary>
    public string? Field { get; }

    /// <summary>The problem, without location.</summary>
    public string Problem { get; }

    private static string Format(string source, long? line, string? field, string problem)
    {
        var where = source;
        if (line is not null) where += $":{line}";
        if (field is not null) where += $" (field '{field}')";
        return $"{where}: {problem}";
    }
}
