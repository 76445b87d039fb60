namespace Microsoft.ML.Srt.Persistence;

/// <summary>Whole-file writes that never leave a half-written file at the target path.</summary>
internal static class AtomicFile
{
    /// <summary>
    /// Writes a temporary file in the target's folder with <paramref name="write"/>, flushes it to disk, then moves it
    /// over <paramref name="path"/> (a rename within one folder, atomic on local file systems). When anything fails the
    /// temporary file is deleted and an existing target stays as it was. The folder is created when missing.
    /// </summary>
    /// <param name="path">The target file.</param>
    /// <param name="write">Writes the content; the stream is seekable.</param>
    /// <param name="wrap">Test hook: wraps the temp file's stream (for example to make it fail part way).</param>
    public static void Write(string path, Action<Stream> write, Func<Stream, Stream>? wrap = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
            {
                var stream = wrap?.Invoke(file) ?? file;
                write(stream);
                stream.Flush();
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
