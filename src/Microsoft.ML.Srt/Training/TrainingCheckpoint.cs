using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>
/// Where a training run stands after an epoch, as <see cref="SrtTrainer.Options.CheckpointPath"/> holds it: enough to continue
/// the run as if it had never stopped.
/// <para>
/// The file (format <c>srt-training-checkpoint</c>, version 1) is a zip of two entries, stored uncompressed (it is rewritten
/// every epoch): <c>manifest.json</c> holds the <see cref="Fingerprint"/> of the options and data that wrote it, the last
/// epoch done and its fine-tuning stage, whether the run had finished and why, the step, sequence and time counters, the
/// early-stopping counters, both optimizers' step counts, the random states (the batching and negatives generator's 58
/// ints, the dropout stream's 64 bits) and the epoch reports; <c>tensors.bin</c> holds named tensors, each as its name, type
/// code, rank, dimensions, byte count and raw little-endian bytes: <c>weights/NAME</c> (every parameter),
/// <c>best/NAME</c> (the best epoch's weights, when kept apart from the current ones), <c>dense/m</c> and <c>dense/v</c>
/// (the dense optimizer's flat moments), <c>tables/m/K</c> and <c>tables/v/K</c> (the embedding tables' moments) and
/// <c>torch/rng</c> (torch's CPU generator).
/// </para>
/// </summary>
internal sealed class TrainingCheckpoint : IDisposable
{
    public const string FormatName = "srt-training-checkpoint";
    public const int FormatVersion = 1;
    private const string ManifestEntry = "manifest.json";
    private const string TensorsEntry = "tensors.bin";
    private const uint TensorsMagic = 0x4B435253; // "SRCK" little-endian

    private static readonly JsonSerializerOptions _json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = true,
    };

    private TrainingCheckpoint(string path, Manifest manifest, Dictionary<string, Tensor> tensors)
    {
        Path = path;
        State = manifest;
        _tensors = tensors;
    }

    private readonly Dictionary<string, Tensor> _tensors;

    /// <summary>The file it was read from.</summary>
    public string Path { get; }

    /// <summary>Everything but the tensors.</summary>
    public Manifest State { get; }

    /// <summary>The manifest: where the run stands (all but the tensors).</summary>
    internal sealed record Manifest
    {
        public string Format { get; init; } = FormatName;
        public int Version { get; init; } = FormatVersion;
        public required SortedDictionary<string, string> Fingerprint { get; init; }
        /// <summary>The last epoch whose state this is.</summary>
        public int Epoch { get; init; }
        /// <summary>Index of the fine-tuning stage <see cref="Epoch"/> belongs to (0 without fine-tuning stages).</summary>
        public int Stage { get; init; }
        /// <summary>True when the run had ended (epochs done, early stopping, time budget): nothing is left to train.</summary>
        public bool Finished { get; init; }
        public string StopReason { get; init; } = "epochs";
        public long Steps { get; init; }
        public long Sequences { get; init; }
        public double StepSeconds { get; init; }
        public double ElapsedSeconds { get; init; }
        public required EarlyStoppingState EarlyStopping { get; init; }
        /// <summary>True when the best epoch's weights are the current ones (it is <see cref="Epoch"/>), so they are not stored twice.</summary>
        public bool BestIsCurrent { get; init; }
        public long DenseSteps { get; init; }
        public long TableSteps { get; init; }
        public required int[] Random { get; init; }
        public ulong DropoutStream { get; init; }
        public required List<SrtEpochReport> Epochs { get; init; }
    }

    /// <summary>
    /// What must be the same for a run to continue from a checkpoint: every option that changes what training computes, the
    /// seed, the network's size and the training data (counts, and a hash of the training windows).
    /// </summary>
    public static SortedDictionary<string, string> Fingerprint(SrtTrainer.Options o, int seed, SrtNetwork network, InteractionSequences train,
        int[][] windows, int validationUsers)
    {
        static string N(double value) => value.ToString("R", CultureInfo.InvariantCulture);
        static string I(long value) => value.ToString(CultureInfo.InvariantCulture);
        var s = network.Shape;
        return new(StringComparer.Ordinal)
        {
            ["seed"] = I(seed), ["epochs"] = I(o.Epochs), ["batch_size"] = I(o.BatchSize), ["learning_rate"] = N(o.LearningRate),
            ["weight_decay"] = N(o.WeightDecay), ["warmup_fraction"] = N(o.WarmupFraction), ["gradient_clip_norm"] = N(o.GradientClipNorm),
            ["early_stopping_patience"] = I(o.EarlyStoppingPatience), ["max_minutes"] = N(o.MaxMinutes),
            ["validation_interval"] = I(o.ValidationInterval), ["validation_users"] = I(validationUsers),
            ["negatives"] = I(o.Negatives), ["negative_sharing"] = o.NegativeSharing.ToString(), ["popularity_exponent"] = N(o.PopularityExponent),
            ["logq_correction"] = o.LogQCorrection.ToString(), ["temperature"] = N(o.Temperature), ["cosine_similarity"] = o.CosineSimilarity.ToString(),
            ["learn_repeat_bias"] = o.LearnRepeatBias.ToString(), ["item_representation"] = o.ItemRepresentation.ToString(),
            ["dimension"] = I(s.Dimension), ["layers"] = I(s.Layers), ["heads"] = I(s.Heads), ["max_length"] = I(s.MaxLength),
            ["dropout"] = N(s.Dropout), ["feed_forward_multiplier"] = I(s.FeedForwardMultiplier), ["parameters"] = I(network.ParameterCount()),
            ["fine_tuning"] = o.FineTuning.ToString(), ["stage_epochs"] = I(o.StageEpochs), ["stage_learning_rate"] = N(o.StageLearningRate ?? o.LearningRate),
            ["initial_model"] = o.InitialModel is null && o.InitialModelPath is null ? "none" : "given",
            ["ewc_lambda"] = N(o.EwcLambda), ["ewc_batches"] = I(o.EwcBatches),
            ["users"] = I(train.UserCount), ["interactions"] = I(train.InteractionCount), ["items"] = I(train.Catalog.Count),
            ["training_sequences"] = I(windows.Length), ["training_data_hash"] = Hash(windows),
        };
    }

    /// <summary>FNV-1a over the training windows' lengths and item indices.</summary>
    private static string Hash(int[][] windows)
    {
        ulong h = 14695981039346656037UL;
        void Mix(int value)
        {
            for (int b = 0; b < 4; b++, value >>= 8) h = (h ^ (byte)value) * 1099511628211UL;
        }
        foreach (var w in windows)
        {
            Mix(w.Length);
            foreach (int item in w) Mix(item);
        }
        return h.ToString("x16", CultureInfo.InvariantCulture);
    }

    /// <summary>Writes the checkpoint atomically (a temporary file beside <paramref name="path"/>, then moved over it).</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="manifest">Where the run stands.</param>
    /// <param name="tensors">The tensors, by entry name (any device; copied to the CPU).</param>
    /// <param name="wrap">Test hook: wraps the temporary file's stream (for example to make it fail part way).</param>
    public static void Write(string path, Manifest manifest, IReadOnlyList<(string Name, Tensor Tensor)> tensors, Func<Stream, Stream>? wrap = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Training checkpoints are written on little-endian machines only.");
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            using (var entry = zip.CreateEntry(ManifestEntry, CompressionLevel.NoCompression).Open())
                JsonSerializer.Serialize(entry, manifest, _json);
            using var data = zip.CreateEntry(TensorsEntry, CompressionLevel.NoCompression).Open();
            using var w = new BinaryWriter(data, Encoding.UTF8);
            w.Write(TensorsMagic);
            w.Write(tensors.Count);
            foreach (var (name, tensor) in tensors)
            {
                using var cpu = tensor.detach().cpu().contiguous();
                w.Write(name);
                w.Write((byte)cpu.dtype);
                w.Write(cpu.shape.Length);
                foreach (long d in cpu.shape) w.Write(d);
                var bytes = cpu.bytes;
                w.Write((long)bytes.Length);
                w.Write(bytes);
            }
        }, wrap);
    }

    /// <summary>Reads a checkpoint and checks that <paramref name="fingerprint"/> matches the one it was written with.</summary>
    /// <exception cref="InvalidDataException">The file is not a readable checkpoint.</exception>
    /// <exception cref="InvalidOperationException">It was written by a run with other options or data (the message lists them).</exception>
    public static TrainingCheckpoint Read(string path, IReadOnlyDictionary<string, string> fingerprint)
    {
        var full = System.IO.Path.GetFullPath(path);
        InvalidDataException Bad(string what, Exception? inner = null) =>
            new($"The training checkpoint '{full}' cannot be read: {what}. Delete it to start afresh.", inner) { Data = { [nameof(TrainingCheckpoint)] = full } };
        Manifest manifest;
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var zip = ZipFile.OpenRead(full);
            var manifestEntry = zip.GetEntry(ManifestEntry) ?? throw Bad($"it has no {ManifestEntry}");
            using (var s = manifestEntry.Open())
                manifest = JsonSerializer.Deserialize<Manifest>(s, _json) ?? throw Bad($"{ManifestEntry} is empty");
            if (manifest.Format != FormatName) throw Bad($"its format is '{manifest.Format}', not {FormatName}");
            if (manifest.Version != FormatVersion) throw Bad($"it is version {manifest.Version}; this library reads version {FormatVersion}");
            var differences = Differences(manifest.Fingerprint, fingerprint);
            if (differences.Count > 0)
                throw new InvalidOperationException($"Cannot resume from the training checkpoint '{full}': it was written by a run with other options or data: " +
                    string.Join("; ", differences) + ". Resume with the options and data it was written with, or delete it (or turn resuming off) to start afresh.");
            var tensorEntry = zip.GetEntry(TensorsEntry) ?? throw Bad($"it has no {TensorsEntry}");
            using var data = tensorEntry.Open();
            using var r = new BinaryReader(data, Encoding.UTF8);
            if (r.ReadUInt32() != TensorsMagic) throw Bad($"{TensorsEntry} does not start with the checkpoint's magic number");
            int count = r.ReadInt32();
            if (count is < 0 or > 1_000_000) throw Bad($"{TensorsEntry} claims {count} tensors");
            for (int k = 0; k < count; k++)
            {
                var name = r.ReadString();
                var type = (ScalarType)r.ReadByte();
                if (type is not (ScalarType.Float32 or ScalarType.Int64 or ScalarType.Int32 or ScalarType.Byte or ScalarType.Float64))
                    throw Bad($"tensor '{name}' has the unsupported type code {(int)type}");
                int rank = r.ReadInt32();
                if (rank is < 0 or > 8) throw Bad($"tensor '{name}' has rank {rank}");
                var shape = new long[rank];
                for (int i = 0; i < rank; i++)
                    if ((shape[i] = r.ReadInt64()) is < 0 or > int.MaxValue) throw Bad($"tensor '{name}' has dimension {shape[i]}");
                long length = r.ReadInt64();
                var t = empty(shape, type);
                tensors[name] = t; // owned (disposed on failure) from here on
                var bytes = t.bytes;
                if (length != bytes.Length) throw Bad($"tensor '{name}' holds {length} bytes; its shape and type need {bytes.Length}");
                data.ReadExactly(bytes);
            }
        }
        catch (Exception e)
        {
            foreach (var t in tensors.Values) t.Dispose();
            // A truncated or foreign file surfaces as the zip's or the reader's error: say which file, and what to do.
            if (!e.Data.Contains(nameof(TrainingCheckpoint)) && e is EndOfStreamException or InvalidDataException or JsonException or IOException)
                throw Bad(e.Message, e);
            throw;
        }
        return new TrainingCheckpoint(full, manifest, tensors);
    }

    /// <summary>What differs between the fingerprint a checkpoint was written with and this run's, as "name: X in the checkpoint, Y now".</summary>
    private static List<string> Differences(IReadOnlyDictionary<string, string> saved, IReadOnlyDictionary<string, string> now) =>
        saved.Keys.Union(now.Keys).Order(StringComparer.Ordinal)
            .Where(k => !saved.TryGetValue(k, out var a) || !now.TryGetValue(k, out var b) || a != b)
            .Select(k => $"{k}: {saved.GetValueOrDefault(k, "(none)")} in the checkpoint, {now.GetValueOrDefault(k, "(none)")} now")
            .ToList();

    /// <summary>The tensor <paramref name="name"/>; a missing one means a damaged file.</summary>
    public Tensor Saved(string name) => _tensors.TryGetValue(name, out var t) ? t
        : throw new InvalidDataException($"The training checkpoint '{Path}' lacks the tensor '{name}'. Delete it to start afresh.");

    /// <summary>Whether the file holds the tensor <paramref name="name"/>.</summary>
    public bool Has(string name) => _tensors.ContainsKey(name);

    /// <summary>Copies the saved weights into <paramref name="network"/>'s parameters (every one must be there, same shape).</summary>
    public void RestoreWeights(SrtNetwork network)
    {
        using var _ = no_grad();
        foreach (var (name, p) in network.named_parameters())
        {
            var saved = Saved("weights/" + name);
            if (!saved.shape.SequenceEqual(p.shape) || saved.dtype != p.dtype)
                throw new InvalidDataException($"The training checkpoint '{Path}' holds '{name}' as {saved.dtype} [{string.Join(", ", saved.shape)}]; the network has {p.dtype} [{string.Join(", ", p.shape)}].");
            p.copy_(saved);
        }
    }

    /// <summary>The best epoch's weights as early stopping keeps them, or null when none were kept: copies on <paramref name="device"/>,
    /// owned by the caller (early stopping disposes them when it keeps another epoch's).</summary>
    public Dictionary<string, Tensor>? BestWeights(SrtNetwork network, Device device)
    {
        if (State.BestIsCurrent)
        {
            using var _ = no_grad();
            return network.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
        }
        var names = _tensors.Keys.Where(k => k.StartsWith("best/", StringComparison.Ordinal)).ToList();
        return names.Count == 0 ? null : names.ToDictionary(k => k["best/".Length..], k => device.type == DeviceType.CPU ? _tensors[k].clone() : _tensors[k].to(device));
    }

    /// <summary>Puts both optimizers' moments and step counts back.</summary>
    public void RestoreOptimizers(FlatAdamW dense, LazyAdamW tables)
    {
        dense.Restore(Saved("dense/m"), Saved("dense/v"), State.DenseSteps);
        int count = tables.State.M.Count;
        tables.Restore(Enumerable.Range(0, count).Select(k => Saved($"tables/m/{k}")).ToList(),
            Enumerable.Range(0, count).Select(k => Saved($"tables/v/{k}")).ToList(), State.TableSteps);
    }

    /// <summary>The tensors that <see cref="Write"/> stores for a run in this state.</summary>
    /// <param name="network">The network, whose parameters are the current weights.</param>
    /// <param name="bestWeights">Early stopping's kept weights, or null when they are the current ones or none are kept.</param>
    /// <param name="dense">The dense parameters' optimizer.</param>
    /// <param name="tables">The embedding tables' optimizer.</param>
    /// <param name="torchRandom">torch's CPU generator state.</param>
    public static List<(string Name, Tensor Tensor)> TensorsOf(SrtNetwork network, IReadOnlyDictionary<string, Tensor>? bestWeights,
        FlatAdamW dense, LazyAdamW tables, Tensor torchRandom)
    {
        var list = network.named_parameters().Select(p => ("weights/" + p.name, (Tensor)p.parameter)).ToList();
        if (bestWeights is not null) list.AddRange(bestWeights.Select(p => ("best/" + p.Key, p.Value)));
        var (m, v, _) = dense.State;
        list.Add(("dense/m", m));
        list.Add(("dense/v", v));
        var (tm, tv, _) = tables.State;
        for (int k = 0; k < tm.Count; k++)
        {
            list.Add(($"tables/m/{k}", tm[k]));
            list.Add(($"tables/v/{k}", tv[k]));
        }
        list.Add(("torch/rng", torchRandom));
        return list;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }
}
