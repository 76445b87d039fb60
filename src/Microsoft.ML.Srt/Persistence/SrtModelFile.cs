using System.IO.Compression;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Training;
using Microsoft.ML.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Persistence;

/// <summary>
/// The SRT model file (format <c>srt-model</c>, version 1): a zip with
/// <c>manifest.json</c> (format, version, network shape, similarity, tokenizer, and the SHA-256 and length of every
/// other entry), <c>featurizer.json</c> (text field caps, token-list vocabularies), <c>weights.bin</c> (named tensors
/// in a plain binary layout), <c>catalog.jsonl</c> (the item catalog, one JSON array per line) and, when present,
/// <c>training-summary.json</c>, and (files written since 2026-12-07) <c>popularity.bin</c>, the training count of every
/// catalog item. Loading reads data only; nothing in the file is executed. See docs/model-files.md.
/// The ML.NET <c>mlContext.Model.Save</c> bridge stores this same zip as a binary stream.
/// </summary>
internal static class SrtModelFile
{
    public const string FormatName = "srt-model";
    public const int FormatVersion = 1;
    public const string GptTokenizerName = "gpt2";
    public const string BpeTokenizerName = "byte-level-bpe";

    internal const string ManifestEntry = "manifest.json";
    internal const string FeaturizerEntry = "featurizer.json";
    internal const string WeightsEntry = "weights.bin";
    internal const string CatalogEntry = "catalog.jsonl";
    internal const string TokensEntry = "tokens.bin";
    internal const string SummaryEntry = "training-summary.json";
    internal const string PopularityEntry = "popularity.bin";
    internal const string BpeVocabularyEntry = "tokenizer/" + BpeTokenizerTrainer.VocabularyFileName;
    internal const string BpeMergesEntry = "tokenizer/" + BpeTokenizerTrainer.MergesFileName;

    private const uint WeightsMagic = 0x57545253; // "SRTW" little-endian
    private const uint TokensMagic = 0x54545253; // "SRTT" little-endian
    private const uint PopularityMagic = 0x50545253; // "SRTP" little-endian
    private const int MaxManifestBytes = 16 << 20;

    private static readonly JsonSerializerOptions _json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonSerializerOptions _jsonIndented = new(_json) { WriteIndented = true };

    // ---------------------------------------------------------------- save

    /// <summary>Atomic save: temp file in the target folder, flushed to disk, then moved over the target.</summary>
    /// <param name="model">The model to save.</param>
    /// <param name="path">The target file.</param>
    /// <param name="wrap">Test hook: wraps the temp file's stream (for example to make it fail part way).</param>
    public static void Save(SrtModel model, string path, Func<Stream, Stream>? wrap = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var entries = BuildEntries(model); // fails (custom tokenizer) before any file exists
        AtomicFile.Write(path, stream => WriteZip(entries, stream), wrap);
    }

    public static void Save(SrtModel model, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        WriteZip(BuildEntries(model), stream);
    }

    private static (byte[] Manifest, List<(string Name, byte[] Data)> Entries) BuildEntries(SrtModel model)
    {
        var featurizer = model.Featurizer;
        var bpe = featurizer.UsesDefaultTokenizer ? null : BpeTokenizerTrainer.FilesOf(featurizer.Tokenizer)
            ?? throw new NotSupportedException(
                $"This model uses a custom tokenizer ({featurizer.Tokenizer.GetType().Name}, set through SrtTrainer.Options.{nameof(SrtTrainer.Options.Tokenizer)}), " +
                $"which a model file cannot store. A model file stores GPT-2's tokenizer (Options.{nameof(SrtTrainer.Options.Tokenizer)} = null) or one that " +
                $"{nameof(BpeTokenizerTrainer)}.{nameof(BpeTokenizerTrainer.Train)} or .{nameof(BpeTokenizerTrainer.Load)} returned.");
        var tokenizerName = bpe is null ? GptTokenizerName : BpeTokenizerName;
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Model files are written on little-endian machines only.");

        var entries = new List<(string Name, byte[] Data)>
        {
            (FeaturizerEntry, JsonSerializer.SerializeToUtf8Bytes(FeaturizerFile.From(featurizer, tokenizerName), _jsonIndented)),
            (WeightsEntry, WriteWeights(model.Network)),
            (CatalogEntry, WriteCatalog(model.Catalog)),
            (TokensEntry, WriteTokens(featurizer.Featurize(model.Catalog))),
        };
        if (bpe is not null)
        {
            entries.Add((BpeVocabularyEntry, bpe.VocabularyJson));
            entries.Add((BpeMergesEntry, bpe.MergesText));
        }
        if (model.TrainingSummary is { } summary)
            entries.Add((SummaryEntry, JsonSerializer.SerializeToUtf8Bytes(summary, _jsonIndented)));
        if (model.ItemCounts is { } counts)
            entries.Add((PopularityEntry, WritePopularity(counts)));

        var list = new JsonObject();
        foreach (var (name, data) in entries)
            list[name] = new JsonObject { ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(data)), ["bytes"] = data.LongLength };
        var manifest = new JsonObject
        {
            ["format"] = FormatName,
            ["version"] = FormatVersion,
            ["library"] = typeof(SrtModelFile).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            ["created_utc"] = DateTime.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["similarity"] = model.CosineSimilarity ? "cosine" : "dot",
            ["tokenizer"] = tokenizerName,
            ["items"] = model.Catalog.Count,
            ["shape"] = JsonSerializer.SerializeToNode(model.Network.Shape, _json),
            ["entries"] = list,
        };
        return (Encoding.UTF8.GetBytes(manifest.ToJsonString(_jsonIndented)), entries);
    }

    private static void WriteZip((byte[] Manifest, List<(string Name, byte[] Data)> Entries) content, Stream stream)
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        void Add(string name, byte[] data, CompressionLevel level)
        {
            var entry = zip.CreateEntry(name, level);
            entry.LastWriteTime = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero); // reproducible bytes apart from the manifest's date
            using var s = entry.Open();
            s.Write(data);
        }
        Add(ManifestEntry, content.Manifest, CompressionLevel.Optimal);
        foreach (var (name, data) in content.Entries)
            Add(name, data, name == WeightsEntry ? CompressionLevel.Fastest : CompressionLevel.Optimal);
    }

    // Weights: "SRTW", u32 version, i32 count; per tensor: name (BinaryWriter string), u8 dtype, i32 rank,
    // i64 dims[rank], raw little-endian elements. Parameters and buffers, in state_dict order.
    private static byte[] WriteWeights(SrtNetwork network)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            var state = network.state_dict();
            w.Write(WeightsMagic);
            w.Write(1u);
            w.Write(state.Count);
            foreach (var (name, tensor) in state)
            {
                using var cpu = tensor.detach().cpu().contiguous();
                w.Write(name);
                w.Write((byte)cpu.dtype);
                w.Write(cpu.shape.Length);
                foreach (var d in cpu.shape) w.Write(d);
                w.Write(ElementBytes(cpu));
            }
        }
        return ms.ToArray();
    }

    /// <summary>
    /// Files written before 2026-11-28 also held every explicitly registered module a second time under its C# field
    /// name (TorchSharp's automatic registration, e.g. <c>items._textTokens.weight</c> beside <c>items.text_tokens.weight</c>):
    /// the same tensors, so such aliases are skipped. The encoders' own children never start with '_'.
    /// </summary>
    private static bool IsFieldAlias(string name) => name.Split('.') is [_, var child, ..] && child.StartsWith('_');

    private static byte[] ElementBytes(Tensor t) => t.dtype switch
    {
        ScalarType.Float32 => MemoryMarshal.AsBytes<float>(t.data<float>().ToArray()).ToArray(),
        ScalarType.Float64 => MemoryMarshal.AsBytes<double>(t.data<double>().ToArray()).ToArray(),
        ScalarType.Int64 => MemoryMarshal.AsBytes<long>(t.data<long>().ToArray()).ToArray(),
        ScalarType.Int32 => MemoryMarshal.AsBytes<int>(t.data<int>().ToArray()).ToArray(),
        ScalarType.Bool => t.data<bool>().ToArray().Select(b => b ? (byte)1 : (byte)0).ToArray(),
        _ => throw new NotSupportedException($"Tensors of type {t.dtype} cannot be saved."),
    };

    private static int ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Bool => 1,
        _ => 0,
    };

    private static Tensor ToTensor(ScalarType type, long[] shape, ReadOnlySpan<byte> data) => type switch
    {
        ScalarType.Float32 => tensor(MemoryMarshal.Cast<byte, float>(data).ToArray(), shape),
        ScalarType.Float64 => tensor(MemoryMarshal.Cast<byte, double>(data).ToArray(), shape),
        ScalarType.Int64 => tensor(MemoryMarshal.Cast<byte, long>(data).ToArray(), shape),
        ScalarType.Int32 => tensor(MemoryMarshal.Cast<byte, int>(data).ToArray(), shape),
        ScalarType.Bool => tensor(data.ToArray().Select(b => b != 0).ToArray(), shape),
        _ => throw new InvalidOperationException($"unsupported tensor type {type}"),
    };

    // Catalog: line 1 = {"text_fields": [...], "token_fields": [...], "items": N}; then one line per item:
    // [id, [text per field], [[tokens] per field], placeholder]. JSON escapes newlines, tabs and quotes.
    private static byte[] WriteCatalog(ItemCatalog catalog)
    {
        using var ms = new MemoryStream();
        var header = new CatalogHeader(catalog.TextFields.ToArray(), catalog.TokenFields.ToArray(), catalog.Count);
        ms.Write(JsonSerializer.SerializeToUtf8Bytes(header, _json));
        ms.WriteByte((byte)'\n');
        var writerOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        for (int i = 0; i < catalog.Count; i++)
        {
            using (var w = new Utf8JsonWriter(ms, writerOptions))
            {
                w.WriteStartArray();
                w.WriteStringValue(catalog.GetId(i));
                w.WriteStartArray();
                for (int f = 0; f < catalog.TextFields.Count; f++) w.WriteStringValue(catalog.GetText(i, f));
                w.WriteEndArray();
                w.WriteStartArray();
                for (int f = 0; f < catalog.TokenFields.Count; f++)
                {
                    w.WriteStartArray();
                    foreach (var t in catalog.GetTokens(i, f)) w.WriteStringValue(t);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
                w.WriteBooleanValue(catalog.IsPlaceholder(i));
                w.WriteEndArray();
            }
            ms.WriteByte((byte)'\n');
        }
        return ms.ToArray();
    }

    // Tokens: "SRTT", u32 version, i32 fields; per field: name (BinaryWriter string), u8 is-text, i32 width, i32 rows
    // (items + 1, the padding row first), then rows x width i32 embedding rows. The catalog's token matrices, so that loading
    // does not run the tokenizer (files without this entry are tokenized at load, as before).
    private static byte[] WriteTokens(IReadOnlyList<ItemTokenMatrix> fields)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(TokensMagic);
            w.Write(1u);
            w.Write(fields.Count);
            foreach (var m in fields)
            {
                w.Write(m.Field);
                w.Write(m.IsText ? (byte)1 : (byte)0);
                w.Write(m.Width);
                w.Write(m.Rows);
                foreach (var t in m.Tokens) w.Write(checked((int)t));
            }
        }
        return ms.ToArray();
    }

    // Popularity: "SRTP", u32 version, i32 items, then one i64 training count per catalog item, in catalog order. Optional:
    // older files lack it, and the recommender then falls back to catalog order (docs/api.md, "Serving recommendations").
    private static byte[] WritePopularity(IReadOnlyList<long> counts)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(PopularityMagic);
            w.Write(1u);
            w.Write(counts.Count);
            foreach (var c in counts) w.Write(c);
        }
        return ms.ToArray();
    }

    private static long[] ReadPopularity(byte[] data, int items, Func<string, InvalidDataException> fail)
    {
        InvalidDataException Bad(string what) => fail($"{PopularityEntry} is malformed: {what}");
        using var r = new BinaryReader(new MemoryStream(data, writable: false), Encoding.UTF8);
        try
        {
            ReadHeader(r, data.Length, PopularityMagic, "SRTP", "popularity", Bad);
            int count = r.ReadInt32();
            if (count != items) throw Bad($"it holds {count} counts; the catalog has {items} items");
            if ((long)count * 8 != data.Length - 12) throw Bad($"{count} counts need {(long)count * 8} bytes after the header; it has {data.Length - 12}");
            var counts = new long[count];
            for (int i = 0; i < count; i++)
            {
                counts[i] = r.ReadInt64();
                if (counts[i] < 0) throw Bad($"item {i} has the negative count {counts[i]}");
            }
            return counts;
        }
        catch (EndOfStreamException) { throw Bad("it ends early (truncated)"); }
    }

    /// <summary>The token matrices of <see cref="TokensEntry"/>, checked against the featurizer (fields, caps, table sizes) and the catalog.</summary>
    private static IReadOnlyList<ItemTokenMatrix> ReadTokens(byte[] data, ItemFeaturizer featurizer, int items, Func<string, InvalidDataException> fail)
    {
        InvalidDataException Bad(string what) => fail($"{TokensEntry} is malformed: {what}");
        var fields = featurizer.Fields;
        var result = new List<ItemTokenMatrix>(fields.Count);
        using var r = new BinaryReader(new MemoryStream(data, writable: false), Encoding.UTF8);
        try
        {
            ReadHeader(r, data.Length, TokensMagic, "SRTT", "tokens", Bad);
            int count = r.ReadInt32();
            if (count != fields.Count) throw Bad($"it holds {count} fields; {FeaturizerEntry} reads {fields.Count}");
            for (int f = 0; f < count; f++)
            {
                var name = r.ReadString();
                bool isText = r.ReadByte() == 1;
                int width = r.ReadInt32(), rows = r.ReadInt32();
                bool expectText = f < featurizer.TextFieldCaps.Count;
                if (name != fields[f] || isText != expectText)
                    throw Bad($"field {f} is '{name}' ({(isText ? "text" : "token list")}); {FeaturizerEntry} expects '{fields[f]}' ({(expectText ? "text" : "token list")})");
                int cap = isText ? featurizer.TextFieldCaps[name] : featurizer.TokenFieldCap;
                if (width < 1 || width > Math.Max(1, cap)) throw Bad($"field '{name}' has width {width}; its cap is {cap}");
                if (rows != items + 1) throw Bad($"field '{name}' has {rows} rows; the catalog has {items} items plus the padding row");
                long tableRows = isText ? featurizer.TextVocabularySize : featurizer.TokenFieldVocabularies[name].TableSize;
                long length = (long)rows * width;
                if (length * 4 > data.Length - r.BaseStream.Position) throw Bad($"it ends inside field '{name}' (truncated)");
                var tokens = new long[length];
                var raw = MemoryMarshal.Cast<byte, int>(data.AsSpan((int)r.BaseStream.Position, (int)(length * 4)));
                for (int k = 0; k < raw.Length; k++)
                {
                    int t = raw[k];
                    if (t < 0 || t >= tableRows || (k < width && t != 0))
                        throw Bad($"field '{name}' holds the row {t} at item {k / width - 1}; rows must be in 0..{tableRows - 1} and the padding item all 0");
                    tokens[k] = t;
                }
                r.BaseStream.Position += length * 4;
                result.Add(new ItemTokenMatrix(name, isText, width, tokens));
            }
            if (r.BaseStream.Position != data.Length) throw Bad($"{data.Length - r.BaseStream.Position} bytes follow the last field");
        }
        catch (EndOfStreamException) { throw Bad("it ends early (truncated)"); }
        return result;
    }

    // ---------------------------------------------------------------- load

    public static SrtModel Load(Stream stream, string source, string device)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var resolved = SrtTrainer.ResolveDevice(device);
        InvalidDataException Fail(string what, Exception? inner = null) =>
            new($"{source} is not a valid SRT model file: {what}", inner);

        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or NotSupportedException)
        {
            throw Fail($"it is not a zip archive, or it is truncated ({e.Message})", e);
        }
        using (zip)
        {
            try
            {
                return Read(zip, resolved, Fail);
            }
            catch (InvalidDataException e) when (e.Message.StartsWith(source, StringComparison.Ordinal))
            {
                throw;
            }
            catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException or FormatException or ArgumentException
                                          or KeyNotFoundException or EndOfStreamException or OverflowException or IOException or NotSupportedException)
            {
                throw Fail(e.Message, e);
            }
        }
    }

    private static SrtModel Read(ZipArchive zip, Device device, Func<string, Exception?, InvalidDataException> fail)
    {
        InvalidDataException Fail(string what) => fail(what, null);
        // SRT_PROFILE=1: where loading spends its time, written to stderr (diagnostics, like the training step profile).
        var phases = Environment.GetEnvironmentVariable("SRT_PROFILE") == "1" ? new List<string>() : null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Mark(string phase)
        {
            if (phases is null) return;
            phases.Add($"{phase} {clock.Elapsed.TotalSeconds:F3}");
            clock.Restart();
        }

        var manifestEntry = zip.GetEntry(ManifestEntry) ?? throw Fail(
            $"it is a zip archive but has no {ManifestEntry}, so it is not an SRT model (it holds: {string.Join(", ", zip.Entries.Take(5).Select(e => e.FullName))}{(zip.Entries.Count > 5 ? ", ..." : "")})");
        var manifestBytes = ReadEntry(manifestEntry, MaxManifestBytes, Fail);
        JsonNode manifest;
        try { manifest = JsonNode.Parse(manifestBytes) ?? throw Fail($"{ManifestEntry} is empty"); }
        catch (JsonException e) { throw Fail($"{ManifestEntry} is not valid JSON ({e.Message})"); }

        var format = Str(manifest, "format", Fail);
        if (format != FormatName) throw Fail($"{ManifestEntry} names format '{format}', not '{FormatName}'");
        int version = Int(manifest, "version", Fail);
        if (version > FormatVersion)
            throw Fail($"format version {version} is newer than this library reads (version {FormatVersion}); upgrade Microsoft.ML.Srt");
        if (version < 1) throw Fail($"format version {version} is not a valid version");
        var similarity = Str(manifest, "similarity", Fail);
        bool cosine = similarity switch
        {
            "cosine" => true,
            "dot" => false,
            _ => throw Fail($"similarity '{similarity}' is unknown (expected cosine or dot)"),
        };
        var tokenizer = Str(manifest, "tokenizer", Fail);
        if (tokenizer is not (GptTokenizerName or BpeTokenizerName))
            throw Fail($"tokenizer '{tokenizer}' is unknown (expected '{GptTokenizerName}' or '{BpeTokenizerName}')");
        var shape = (manifest["shape"] ?? throw Fail($"{ManifestEntry} has no 'shape'")).Deserialize<SrtNetworkShape>(_json)
                    ?? throw Fail($"{ManifestEntry} has an empty 'shape'");
        var entries = manifest["entries"] as JsonObject ?? throw Fail($"{ManifestEntry} has no 'entries'");

        byte[] Entry(string name, bool required)
        {
            var declared = entries[name];
            if (declared is null)
            {
                if (required) throw Fail($"{ManifestEntry} does not list the entry '{name}'");
                return Array.Empty<byte>();
            }
            var entry = zip.GetEntry(name) ?? throw Fail($"the entry '{name}' listed in the manifest is missing");
            long bytes = declared["bytes"]?.GetValue<long>() ?? throw Fail($"{ManifestEntry} gives no length for '{name}'");
            var expected = declared["sha256"]?.GetValue<string>() ?? throw Fail($"{ManifestEntry} gives no SHA-256 for '{name}'");
            if (bytes < 0 || bytes > Array.MaxLength) throw Fail($"{ManifestEntry} gives an impossible length for '{name}'");
            var data = ReadEntry(entry, bytes, Fail);
            if (data.LongLength != bytes)
                throw Fail($"the entry '{name}' has {data.LongLength} bytes, the manifest says {bytes} (the file was changed or damaged)");
            var actual = Convert.ToHexStringLower(SHA256.HashData(data));
            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw Fail($"the entry '{name}' was changed or damaged: its SHA-256 is {actual}, the manifest says {expected}");
            return data;
        }

        Mark("manifest");
        var featurizerFile = JsonSerializer.Deserialize<FeaturizerFile>(Entry(FeaturizerEntry, true), _json) ?? throw Fail($"{FeaturizerEntry} is empty");
        if (featurizerFile.Tokenizer != tokenizer)
            throw Fail($"{FeaturizerEntry} names the tokenizer '{featurizerFile.Tokenizer}', {ManifestEntry} names '{tokenizer}'");
        var featurizer = featurizerFile.ToFeaturizer(Fail, tokenizer == BpeTokenizerName ? ReadBpe(Entry(BpeVocabularyEntry, true), Entry(BpeMergesEntry, true), Fail) : null);
        Mark("featurizer");
        var catalog = ReadCatalog(Entry(CatalogEntry, true), Fail);
        Mark("catalog");
        var weightBytes = Entry(WeightsEntry, true);
        Mark("weights_inflate_and_hash");
        var weights = ReadWeights(weightBytes, Fail);
        Mark("weights_parse");
        var tokenBytes = Entry(TokensEntry, false);
        var storedTokens = tokenBytes.Length == 0 ? null : ReadTokens(tokenBytes, featurizer, catalog.Count, Fail);
        Mark("tokens");
        var summaryBytes = Entry(SummaryEntry, false);
        var summary = summaryBytes.Length == 0 ? null : JsonSerializer.Deserialize<SrtTrainingSummary>(summaryBytes, _json);
        var popularityBytes = Entry(PopularityEntry, false);
        var itemCounts = popularityBytes.Length == 0 ? null : ReadPopularity(popularityBytes, catalog.Count, Fail);

        CheckShape(shape, featurizer, catalog, weights, Fail);
        if (Int(manifest, "items", Fail) != catalog.Count)
            throw Fail($"{ManifestEntry} says {Int(manifest, "items", Fail)} items, {CatalogEntry} holds {catalog.Count}");

        // Every tensor is overwritten below (a missing one is an error), so the tables skip their random initialisation.
        var network = new SrtNetwork(shape, initializeTables: false);
        Mark("network_init");
        try
        {
            var state = network.state_dict();
            foreach (var name in weights.Keys)
                if (!state.ContainsKey(name) && !IsFieldAlias(name)) throw Fail($"{WeightsEntry} holds the tensor '{name}', which the network of this shape does not have");
            using (no_grad())
            {
                foreach (var (name, target) in state)
                {
                    // Files written before the repeat bias existed score as if it were zero, which is what it is.
                    if (!weights.TryGetValue(name, out var w) && name == SrtNetwork.RepeatBiasName) continue;
                    if (w is null) throw Fail($"{WeightsEntry} lacks the tensor '{name}', which the network shape in {ManifestEntry} needs");
                    if (w.Type != target.dtype) throw Fail($"tensor '{name}' is {w.Type} in {WeightsEntry}; the network expects {target.dtype}");
                    if (!w.Shape.SequenceEqual(target.shape))
                        throw Fail($"tensor '{name}' has shape [{string.Join(", ", w.Shape)}] in {WeightsEntry}; the network's shape (from {ManifestEntry}) expects [{string.Join(", ", target.shape)}]");
                    using var source = ToTensor(w.Type, w.Shape, w.Data.Span);
                    target.copy_(source);
                }
            }
            Mark("weights_copy");
            network.to(device);
            var tokens = storedTokens ?? featurizer.Featurize(catalog);
            Mark(storedTokens is null ? "tokenize_catalog" : "stored_tokens");
            network.Items.SetCatalog(tokens, device);
            var model = new SrtModel(network, featurizer, catalog, cosine, device, summary, itemCounts);
            Mark("bind");
            if (phases is not null) Console.Error.WriteLine("load profile (s): " + string.Join(", ", phases));
            return model;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>Checks the shape against the featurizer, the catalog and the weights' size before any network is built.</summary>
    private static void CheckShape(SrtNetworkShape s, ItemFeaturizer featurizer, ItemCatalog catalog,
        Dictionary<string, WeightTensor> weights, Func<string, InvalidDataException> fail)
    {
        void Require(bool ok, string what) { if (!ok) throw fail($"the network shape in {ManifestEntry} is inconsistent: {what}"); }
        Require(s.Dimension is >= 1 and <= 1 << 16, $"dimension {s.Dimension} is out of range");
        Require(s.Heads >= 1 && s.Dimension % s.Heads == 0, $"dimension {s.Dimension} is not a multiple of heads {s.Heads}");
        Require(s.Layers is >= 0 and <= 1024, $"layers {s.Layers} is out of range");
        Require(s.MaxLength is >= 1 and <= 1 << 20, $"max length {s.MaxLength} is out of range");
        Require(s.FeedForwardMultiplier is >= 1 and <= 64, $"feed-forward multiplier {s.FeedForwardMultiplier} is out of range");
        Require(s.Dropout is >= 0 and < 1, $"dropout {s.Dropout} is out of range");
        Require(s.UsesText || s.UsesIds, "the network uses neither text nor ids");
        Require(s.TokenFieldTableSizes is not null, "token field table sizes are missing");
        if (s.UsesText)
        {
            Require(s.TextVocabularySize == featurizer.TextVocabularySize,
                $"text vocabulary {s.TextVocabularySize} differs from the featurizer's {featurizer.TextVocabularySize}");
            Require(s.TextFieldCount == featurizer.TextFieldCaps.Count, $"{s.TextFieldCount} text fields, the featurizer has {featurizer.TextFieldCaps.Count}");
            Require(s.TokenFieldTableSizes!.SequenceEqual(featurizer.TokenFieldVocabularies.Values.Select(v => v.TableSize)),
                "token field table sizes differ from the featurizer's vocabularies");
            foreach (var field in featurizer.Fields)
                Require(catalog.TextFields.Contains(field) || catalog.TokenFields.Contains(field), $"the catalog lacks the field '{field}'");
        }
        if (s.UsesIds) Require(s.IdTableSize == catalog.Count + 1, $"id table {s.IdTableSize} does not fit {catalog.Count} items");
        // A lower bound of the parameter count (embedding tables and d*d per layer) must fit in the weights, so a forged shape
        // cannot make the loader allocate far more than the file holds.
        long d = s.Dimension;
        long lower = s.Layers * d * d + (s.UsesIds ? s.IdTableSize * d : 0)
                     + (s.UsesText ? (s.TextVocabularySize + s.TokenFieldTableSizes!.Sum(x => (long)x)) * d : 0);
        long stored = weights.Values.Sum(w => w.Shape.Aggregate(1L, (a, b) => a * b));
        Require(lower <= stored, $"it needs at least {lower:N0} weights; {WeightsEntry} holds {stored:N0}");
    }

    private sealed record WeightTensor(ScalarType Type, long[] Shape, ReadOnlyMemory<byte> Data);

    /// <summary>Checks the start shared by the binary entries: a 4-byte signature, then layout version 1 (a count follows).</summary>
    private static void ReadHeader(BinaryReader r, int length, uint magic, string signature, string layout, Func<string, InvalidDataException> bad)
    {
        if (length < 12 || r.ReadUInt32() != magic) throw bad($"it does not start with the {signature} signature");
        uint version = r.ReadUInt32();
        if (version != 1) throw bad($"{layout} layout version {version} is unknown");
    }

    private static Dictionary<string, WeightTensor> ReadWeights(byte[] data, Func<string, InvalidDataException> fail)
    {
        InvalidDataException Bad(string what) => fail($"{WeightsEntry} is malformed: {what}");
        var result = new Dictionary<string, WeightTensor>(StringComparer.Ordinal);
        using var r = new BinaryReader(new MemoryStream(data, writable: false), Encoding.UTF8);
        try
        {
            ReadHeader(r, data.Length, WeightsMagic, "SRTW", "weights", Bad);
            int count = r.ReadInt32();
            if (count < 0 || count > 100_000) throw Bad($"it claims {count} tensors");
            for (int k = 0; k < count; k++)
            {
                var name = r.ReadString();
                var type = (ScalarType)r.ReadByte();
                int size = ElementSize(type);
                if (size == 0) throw Bad($"tensor '{name}' has an unsupported type code {(int)type}");
                int rank = r.ReadInt32();
                if (rank is < 0 or > 8) throw Bad($"tensor '{name}' has rank {rank}");
                var shape = new long[rank];
                long elements = 1;
                for (int i = 0; i < rank; i++)
                {
                    shape[i] = r.ReadInt64();
                    if (shape[i] < 0 || shape[i] > int.MaxValue) throw Bad($"tensor '{name}' has dimension {shape[i]}");
                    elements = checked(elements * shape[i]);
                }
                long bytes = checked(elements * size);
                long at = r.BaseStream.Position;
                if (bytes > data.Length - at) throw Bad($"it ends inside tensor '{name}' (truncated)");
                if (!result.TryAdd(name, new WeightTensor(type, shape, data.AsMemory((int)at, (int)bytes))))
                    throw Bad($"tensor '{name}' appears twice");
                r.BaseStream.Position = at + bytes;
            }
            if (r.BaseStream.Position != data.Length) throw Bad($"{data.Length - r.BaseStream.Position} bytes follow the last tensor");
        }
        catch (EndOfStreamException) { throw Bad("it ends early (truncated)"); }
        catch (OverflowException) { throw Bad("a tensor's size overflows"); }
        return result;
    }

    private sealed record CatalogHeader(string[] TextFields, string[] TokenFields, int Items);

    private static ItemCatalog ReadCatalog(byte[] data, Func<string, InvalidDataException> fail)
    {
        InvalidDataException Bad(int line, string what) => fail($"{CatalogEntry} line {line}: {what}");
        using var reader = new StreamReader(new MemoryStream(data, writable: false), new UTF8Encoding(false, throwOnInvalidBytes: true));
        var headerLine = reader.ReadLine() ?? throw Bad(1, "the entry is empty");
        CatalogHeader header;
        try { header = JsonSerializer.Deserialize<CatalogHeader>(headerLine, _json) ?? throw Bad(1, "no header"); }
        catch (JsonException e) { throw Bad(1, e.Message); }
        if (header.TextFields is null || header.TokenFields is null || header.Items < 0) throw Bad(1, "the header is incomplete");
        var builder = new ItemCatalog.Builder(header.TextFields, header.TokenFields, Math.Min(header.Items, 1 << 20));
        for (int i = 0; i < header.Items; i++)
        {
            int lineNo = i + 2;
            var line = reader.ReadLine() ?? throw Bad(lineNo, $"the catalog ends after {i} of {header.Items} items");
            JsonElement row;
            try { row = JsonDocument.Parse(line).RootElement; }
            catch (JsonException e) { throw Bad(lineNo, e.Message); }
            if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() != 4) throw Bad(lineNo, "expected [id, text, tokens, placeholder]");
            var id = row[0].GetString() ?? throw Bad(lineNo, "the id is null");
            var text = row[1].EnumerateArray().Select(e => e.GetString() ?? "").ToArray();
            var tokens = row[2].EnumerateArray().Select(f => f.EnumerateArray().Select(e => e.GetString() ?? "").ToArray()).ToArray();
            if (text.Length != header.TextFields.Length || tokens.Length != header.TokenFields.Length)
                throw Bad(lineNo, "the item's field count differs from the header's");
            try { builder.AddCore(id, text, tokens, row[3].GetBoolean()); }
            catch (ArgumentException e) { throw Bad(lineNo, e.Message); }
        }
        if (reader.ReadLine() is { Length: > 0 }) throw Bad(header.Items + 2, "more items than the header says");
        return builder.Build();
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, long maxBytes, Func<string, InvalidDataException> fail)
    {
        try
        {
            using var s = entry.Open();
            using var ms = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = s.Read(buffer)) > 0)
            {
                if (ms.Length + n > maxBytes) throw fail($"the entry '{entry.FullName}' is longer than the manifest says ({maxBytes} bytes)");
                ms.Write(buffer, 0, n);
            }
            return ms.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or IOException && !e.Message.Contains(" is not a valid SRT model file", StringComparison.Ordinal))
        {
            throw fail($"the entry '{entry.FullName}' cannot be read; the file is truncated or damaged ({e.Message})");
        }
    }

    private static string Str(JsonNode node, string name, Func<string, InvalidDataException> fail)
    {
        try { return node[name]?.GetValue<string>() ?? throw fail($"{ManifestEntry} has no '{name}'"); }
        catch (InvalidOperationException) { throw fail($"'{name}' in {ManifestEntry} is not a string"); }
    }

    private static int Int(JsonNode node, string name, Func<string, InvalidDataException> fail)
    {
        try { return node[name]?.GetValue<int>() ?? throw fail($"{ManifestEntry} has no '{name}'"); }
        catch (Exception e) when (e is InvalidOperationException or FormatException) { throw fail($"'{name}' in {ManifestEntry} is not an integer"); }
    }

    // ---------------------------------------------------------------- featurizer description

    /// <summary>The stored byte-level BPE (tokenizer/vocab.json and tokenizer/merges.txt, as srt tokenizer train writes them),
    /// created now so that a damaged one fails at load rather than when a new catalog is featurized.</summary>
    private static Lazy<Tokenizer> ReadBpe(byte[] vocabulary, byte[] merges, Func<string, InvalidDataException> fail)
    {
        try { return new Lazy<Tokenizer>(BpeTokenizerTrainer.Create(new TrainedBpe(vocabulary, merges, 0, 0))); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException or InvalidDataException)
        {
            throw fail($"the stored tokenizer ({BpeVocabularyEntry}, {BpeMergesEntry}) does not load: {e.Message}");
        }
    }

    private sealed record TextFieldFile(string Name, int MaxTokens);

    private sealed record TokenFieldFile(string Name, int TableSize, int HashBuckets, string[] ExactTokens);

    private sealed record FeaturizerFile(string Tokenizer, int TextVocabularySize, TextFieldFile[] TextFields, int TokenFieldMaxTokens, TokenFieldFile[] TokenFields)
    {
        public static FeaturizerFile From(ItemFeaturizer f, string tokenizer) => new(
            tokenizer, f.TextVocabularySize,
            f.TextFieldCaps.Select(p => new TextFieldFile(p.Key, p.Value)).ToArray(),
            f.TokenFieldCap,
            f.TokenFieldVocabularies.Select(p => new TokenFieldFile(p.Key, p.Value.TableSize, p.Value.HashBuckets, p.Value.ExactTokens.ToArray())).ToArray());

        /// <param name="fail">Makes the error for a damaged file.</param>
        /// <param name="bpe">The stored byte-level BPE, or null for GPT-2's tokenizer.</param>
        public ItemFeaturizer ToFeaturizer(Func<string, InvalidDataException> fail, Lazy<Tokenizer>? bpe)
        {
            InvalidDataException Bad(string what) => fail($"{FeaturizerEntry}: {what}");
            if (Tokenizer is not (GptTokenizerName or BpeTokenizerName))
                throw Bad($"tokenizer '{Tokenizer}' is unknown (expected '{GptTokenizerName}' or '{BpeTokenizerName}')");
            if (TextFields is null || TokenFields is null) throw Bad("the field lists are missing");
            if (TextVocabularySize < 1) throw Bad($"text vocabulary size {TextVocabularySize} is not positive");
            if (TokenFieldMaxTokens < 1) throw Bad($"token field cap {TokenFieldMaxTokens} is not positive");
            var caps = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var t in TextFields)
            {
                if (t?.Name is null || t.MaxTokens < 1) throw Bad("a text field has no name or a cap below 1");
                if (!caps.TryAdd(t.Name, t.MaxTokens)) throw Bad($"text field '{t.Name}' appears twice");
            }
            var vocabularies = new Dictionary<string, TokenFieldVocabulary>(StringComparer.Ordinal);
            foreach (var t in TokenFields)
            {
                if (t?.Name is null || t.ExactTokens is null) throw Bad("a token field has no name or no tokens");
                if (t.HashBuckets < 1 || t.TableSize <= t.HashBuckets) throw Bad($"token field '{t.Name}' has table size {t.TableSize} and {t.HashBuckets} hash buckets");
                if (t.ExactTokens.Distinct(StringComparer.Ordinal).Count() != t.ExactTokens.Length) throw Bad($"token field '{t.Name}' lists a token twice");
                try
                {
                    if (!vocabularies.TryAdd(t.Name, TokenFieldVocabulary.FromExactTokens(t.ExactTokens, t.TableSize, t.HashBuckets)))
                        throw Bad($"token field '{t.Name}' appears twice");
                }
                catch (ArgumentException e) { throw Bad($"token field '{t.Name}': {e.Message}"); }
            }
            // The tokenizer (0.2 s to create) is needed only to featurize a catalog the file does not hold tokens for.
            return new ItemFeaturizer(bpe ?? ItemFeaturizer.DefaultTokenizer, TextVocabularySize, caps, vocabularies, TokenFieldMaxTokens);
        }
    }
}
