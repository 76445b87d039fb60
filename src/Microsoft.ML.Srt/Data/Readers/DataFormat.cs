namespace Microsoft.ML.Srt.Data;

/// <summary>The interaction file formats that <see cref="InteractionFileLoader"/> reads.</summary>
public enum DataFormat
{
    /// <summary>Decide from the file: see <see cref="DataFormatDetector.Detect"/>.</summary>
    Auto,

    /// <summary>One user per line: <c>user item item ...</c> (<see cref="SequenceFileReader"/>).</summary>
    Sequences,

    /// <summary>RecBole atomic files, <c>.inter</c> and <c>.item</c> (<see cref="RecBoleReader"/>).</summary>
    RecBole,

    /// <summary>CSV or TSV with a header, one interaction per row (<see cref="DelimitedInteractionReader"/>).</summary>
    Csv,
}

/// <summary>Guesses the format of an interaction file from its extension and first line.</summary>
internal static class DataFormatDetector
{
    /// <summary>
    /// Rules, in order: <c>.inter</c> or <c>.item</c> is RecBole; a first line with a typed RecBole column
    /// (<c>:token</c>, <c>:float</c>...) is RecBole; a <c>.csv</c> or <c>.tsv</c> file whose first line has a field that is
    /// not a number (a header) is CSV; anything else is the sequences format.
    /// </summary>
    public static DataFormat Detect(string path)
    {
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is ".inter" or ".item") return DataFormat.RecBole;
        string firstLine;
        using (var reader = TextFile.Open(path)) firstLine = reader.ReadLine() ?? "";
        if (firstLine.Split('\t').Any(f => f.Contains(":token") || f.EndsWith(":float", StringComparison.Ordinal) || f.EndsWith(":float_seq", StringComparison.Ordinal)))
            return DataFormat.RecBole;
        if (extension is ".csv" or ".tsv")
        {
            char separator = extension == ".csv" ? ',' : '\t';
            if (firstLine.Split(separator).Any(f => !TextFile.TryParseNumber(f.Trim().Trim('"'), out _))) return DataFormat.Csv;
        }
        return DataFormat.Sequences;
    }
}
