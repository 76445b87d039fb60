using Microsoft.ML.Srt.Persistence;

namespace Microsoft.ML.Srt.Scoring;

public sealed partial class SrtModel
{
    /// <summary>
    /// Saves the model (network shape and weights, featurizer, similarity, item catalog and training summary) as an
    /// SRT model file: a zip described in docs/model-files.md. The write is atomic: the file is written to a temporary
    /// file in the same folder, flushed, then moved over <paramref name="path"/>, so a failed save never leaves a
    /// half-written file there (an existing file stays as it was). The folder is created when missing.
    /// </summary>
    /// <exception cref="NotSupportedException">The model uses a custom <see cref="Training.SrtTrainer.Options.Tokenizer"/>, which a file cannot store.</exception>
    public void Save(string path) => SrtModelFile.Save(this, path);

    /// <summary>Writes the model file (see <see cref="Save(string)"/>) to <paramref name="stream"/>, which stays open.</summary>
    /// <exception cref="NotSupportedException">The model uses a custom <see cref="Training.SrtTrainer.Options.Tokenizer"/>, which a file cannot store.</exception>
    public void Save(Stream stream) => SrtModelFile.Save(this, stream);

    /// <summary>
    /// Loads a model saved by <see cref="Save(string)"/>. Scores of the loaded model equal the saved model's bit for bit
    /// on the same device. Nothing in the file is executed: weights are plain named float tensors checked against the
    /// network's shapes before they are copied.
    /// </summary>
    /// <param name="path">The model file.</param>
    /// <param name="device">Torch device: <c>auto</c> (CUDA when available, else CPU; default), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</param>
    /// <exception cref="InvalidDataException">The file is not a zip, not an SRT model file, truncated, of an unsupported
    /// format version, or damaged (an entry's SHA-256 differs from the manifest's, or shapes are inconsistent); the
    /// message names the file and the problem.</exception>
    public static SrtModel Load(string path, string device = "auto")
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return SrtModelFile.Load(stream, $"'{path}'", device);
    }

    /// <summary>Loads a model from a stream holding a model file (see <see cref="Load(string, string)"/>); the stream stays open.</summary>
    /// <param name="stream">A readable stream; it is read to its end (seekable or not).</param>
    /// <param name="device">Torch device: <c>auto</c> (default), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</param>
    /// <exception cref="InvalidDataException">The data is not a valid SRT model file (see <see cref="Load(string, string)"/>).</exception>
    public static SrtModel Load(Stream stream, string device = "auto")
    {
        ArgumentNullException.ThrowIfNull(stream);
        return SrtModelFile.Load(stream, stream is FileStream fs ? $"'{fs.Name}'" : "the stream", device);
    }
}
