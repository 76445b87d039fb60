namespace Microsoft.ML.Srt.Tests;

/// <summary>A temporary folder of small fixture files, deleted after the test.</summary>
public sealed class TempFiles : IDisposable
{
    public TempFiles()
    {
        Folder = Path.Combine(Path.GetTempPath(), "srt-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    /// <summary>Writes <paramref name="content"/> (lines joined with \n) to a file named <paramref name="name"/>.</summary>
    public string Write(string name, params string[] lines)
    {
        var path = Path.Combine(Folder, name);
        File.WriteAllText(path, string.Join("\n", lines) + (lines.Length > 0 ? "\n" : ""));
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
