using Microsoft.ML.Runtime;
using Microsoft.ML.Srt.Persistence;

namespace Microsoft.ML.Srt;

/// <summary>
/// ML.NET model files with an <see cref="Scoring.SrtTransformer"/> in them: <c>mlContext.Model.Save</c> and
/// <c>mlContext.Model.Load</c> work as for any ML.NET pipeline; these two calls add what ML.NET leaves out
/// (docs/model-files.md).
/// </summary>
public static class SrtModelOperationsExtensions
{
    /// <summary>
    /// Makes <c>mlContext.Model.Load</c> able to read SRT transformers; the SRT counterpart of
    /// <c>mlContext.ComponentCatalog.RegisterAssembly(...)</c>. Call it once before loading. It is idempotent and cheap,
    /// and it is only strictly needed when the app has not used any type of Microsoft.ML.Srt yet: the library's
    /// module initializer does the same when the runtime first loads it for the app's code.
    /// </summary>
    /// <param name="catalog">The loading MLContext's <see cref="MLContext.ComponentCatalog"/>.</param>
    /// <exception cref="NotSupportedException">The loaded Microsoft.ML is not a supported version (6.x) or lacks an internal
    /// member that loading needs; the message names the found and the supported versions.</exception>
    public static void RegisterSrt(this ComponentCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        MlNetInternals.InstallResolver();
        catalog.RegisterAssembly(MlNetInternals.LoaderAssembly);
    }

    /// <summary>
    /// <c>mlContext.Model.Save(model, inputSchema, filePath)</c>, written atomically: into a temporary file in the same
    /// folder, flushed to disk, then moved over <paramref name="filePath"/>. A crash or a failing save never leaves a
    /// half-written zip there, and an existing file stays as it was until the new one is complete. (ML.NET's own
    /// <c>Save(..., filePath)</c> truncates the file first and writes it in place.) The folder is created when missing.
    /// </summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="model">The transformer or pipeline to save.</param>
    /// <param name="inputSchema">The schema of its input (what <c>Load</c> returns as the input schema); may be null.</param>
    /// <param name="filePath">The model zip to write.</param>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema? inputSchema, string filePath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        AtomicFile.Write(filePath, stream => catalog.Save(model, inputSchema, stream));
    }
}
