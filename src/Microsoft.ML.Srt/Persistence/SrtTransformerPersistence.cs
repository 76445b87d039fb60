using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.ML.Runtime;
using Microsoft.ML.Srt.Scoring;

namespace Microsoft.ML.Srt.Persistence;

/// <summary>
/// An <see cref="SrtTransformer"/> inside an ML.NET model zip (<c>mlContext.Model.Save</c> / <c>Load</c>). The
/// component's folder (for example <c>TransformerChain/Transform_000/</c>) holds ML.NET's <c>Model.key</c> (its
/// header, then a length-prefixed UTF-8 JSON object: format, version, the transformer's options, and the length and
/// SHA-256 of the model entry) and <c>SrtModel.zip</c>, an ordinary SRT model file (docs/model-files.md). Loading
/// reads data only.
/// </summary>
internal static class SrtTransformerPersistence
{
    /// <summary>The entry holding the SRT model file, next to Model.key.</summary>
    public const string ModelEntry = "SrtModel.zip";

    /// <summary>The <c>format</c> of the JSON in Model.key.</summary>
    public const string FormatName = "srt-transformer";

    /// <summary>
    /// The layout version of the JSON in Model.key. A new option needs no bump (older files lack it and get its default;
    /// older readers refuse a file that has it, naming it); a change of meaning does.
    /// </summary>
    public const int FormatVersion = 1;

    private const int MaxOptionsBytes = 1 << 20;

    /// <summary>The ML.NET header of the component. Model.key's JSON carries its own version, so this stays at 1.1.</summary>
    public static readonly MlNetInternals.ComponentVersion Version = new("SRTTRANS", 0x00010001, 0x00010001, 0x00010001, "SrtTransformer");

    private static readonly JsonSerializerOptions _json = new()
    {
        Converters = { new JsonStringEnumConverter(allowIntegerValues: false) },
        WriteIndented = true,
    };

    // ---------------------------------------------------------------- save

    /// <summary>Writes the transformer into ML.NET's save context (<see cref="SrtTransformer.Save"/>).</summary>
    public static void Save(SrtTransformer transformer, ModelSaveContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        // Everything that can fail (a custom tokenizer, an option of an unsaveable type) fails before ML.NET's entry is written.
        byte[] model;
        using (var ms = new MemoryStream())
        {
            SrtModelFile.Save(transformer.Model, ms);
            model = ms.ToArray();
        }
        var header = new JsonObject
        {
            ["format"] = FormatName,
            ["version"] = FormatVersion,
            ["options"] = OptionsToJson(transformer.CopyOptions()),
            ["model"] = new JsonObject
            {
                ["entry"] = ModelEntry,
                ["bytes"] = model.LongLength,
                ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(model)),
            },
        };
        var json = Encoding.UTF8.GetBytes(header.ToJsonString(_json));

        MlNetInternals.BeginSave(ctx, Version);
        var writer = MlNetInternals.Writer(ctx);
        writer.Write(json.Length);
        writer.Write(json);
        MlNetInternals.SaveEntry(ctx, ModelEntry, s => s.Write(model));
    }

    /// <summary>
    /// The options as a JSON object keyed by field name. Every public field of <see cref="SrtTransformer.Options"/> is
    /// written, so a new option is saved without touching this code; one of a type JSON cannot hold fails here.
    /// </summary>
    internal static JsonObject OptionsToJson(SrtTransformer.Options options)
    {
        var result = new JsonObject();
        foreach (var field in OptionFields())
            result[field.Name] = JsonSerializer.SerializeToNode(field.GetValue(options), field.FieldType, _json);
        return result;
    }

    /// <summary>The public fields of <see cref="SrtTransformer.Options"/>; throws for a field of a type that cannot be saved.</summary>
    internal static IReadOnlyList<FieldInfo> OptionFields()
    {
        var fields = typeof(SrtTransformer.Options).GetFields(BindingFlags.Instance | BindingFlags.Public);
        foreach (var field in fields)
            if (!IsSaveable(field.FieldType))
                throw new NotSupportedException(
                    $"SrtTransformer.Options.{field.Name} has type {field.FieldType.Name}, which an ML.NET model zip cannot store " +
                    "(saveable: text, numbers, booleans, enums and arrays of them).");
        return fields;
    }

    private static bool IsSaveable(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsArray) return IsSaveable(type.GetElementType()!);
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal);
    }

    // ---------------------------------------------------------------- load

    /// <summary>
    /// ML.NET's loader of the component (called through the generated assembly, see <see cref="MlNetInternals"/>).
    /// <paramref name="ctx"/> is ML.NET's internal ModelLoadContext. Bad data throws <see cref="InvalidDataException"/>
    /// naming the entry in the zip. ML.NET invokes loaders through reflection and passes their exceptions on wrapped
    /// in <see cref="TargetInvocationException"/>s, so these carry no inner exception (the cause is in the message):
    /// the caller's <c>exception.GetBaseException()</c> is then the SRT error itself.
    /// </summary>
    public static SrtTransformer Load(IHostEnvironment env, object ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var folder = MlNetInternals.Directory(ctx);
        var keyEntry = folder.Length == 0 ? "Model.key" : $"{folder}/Model.key";
        var modelEntry = folder.Length == 0 ? ModelEntry : $"{folder}/{ModelEntry}";
        const string Prefix = "The SRT transformer in this ML.NET model zip cannot be loaded: ";
        InvalidDataException Fail(string entry, string what) => new($"{Prefix}'{entry}' {what}");

        try
        {
            MlNetInternals.BeginLoad(ctx, Version);
        }
        catch (FormatException e)
        {
            throw Fail(keyEntry, $"has a header this library cannot read ({e.Message})");
        }

        JsonNode header;
        try
        {
            var reader = MlNetInternals.Reader(ctx);
            int length = reader.ReadInt32();
            if (length <= 0 || length > MaxOptionsBytes) throw Fail(keyEntry, $"declares {length} bytes of options (the file is damaged)");
            var bytes = reader.ReadBytes(length);
            if (bytes.Length != length) throw Fail(keyEntry, "ends inside the options (truncated)");
            header = JsonNode.Parse(bytes) ?? throw Fail(keyEntry, "holds empty options");
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or JsonException or DecoderFallbackException)
        {
            throw Fail(keyEntry, $"cannot be read ({e.Message})");
        }

        string? format = Text(header, "format");
        if (format != FormatName) throw Fail(keyEntry, $"names format '{format}', not '{FormatName}'");
        int version = Number(header, "version") is { } v ? (int)v : throw Fail(keyEntry, "has no 'version'");
        if (version > FormatVersion)
            throw Fail(keyEntry, $"has format version {version}, newer than this library reads (version {FormatVersion}); upgrade Microsoft.ML.Srt");
        if (version < 1) throw Fail(keyEntry, $"has format version {version}, which is not valid");
        var options = OptionsFromJson(header["options"] as JsonObject ?? throw Fail(keyEntry, "has no 'options'"), what => Fail(keyEntry, what));

        var modelInfo = header["model"] as JsonObject ?? throw Fail(keyEntry, "has no 'model'");
        if (Text(modelInfo, "entry") != ModelEntry) throw Fail(keyEntry, $"names model entry '{Text(modelInfo, "entry")}', not '{ModelEntry}'");
        long expectedBytes = Number(modelInfo, "bytes") ?? throw Fail(keyEntry, "gives no model length");
        string expectedHash = Text(modelInfo, "sha256") ?? throw Fail(keyEntry, "gives no model SHA-256");
        if (expectedBytes < 0 || expectedBytes > Array.MaxLength) throw Fail(keyEntry, $"gives an impossible model length {expectedBytes}");

        byte[]? model = null;
        try
        {
            MlNetInternals.TryLoadEntry(ctx, ModelEntry, s => model = ReadAtMost(s, expectedBytes + 1));
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw Fail(modelEntry, $"cannot be read; the zip is truncated or damaged ({e.Message})");
        }
        if (model is null) throw Fail(modelEntry, "is missing");
        if (model.LongLength != expectedBytes)
            throw Fail(modelEntry, $"has {(model.LongLength > expectedBytes ? "more than " : "")}{Math.Min(model.LongLength, expectedBytes)} bytes; Model.key says {expectedBytes} (the file was changed or damaged)");
        var actualHash = Convert.ToHexStringLower(SHA256.HashData(model));
        if (!string.Equals(actualHash, expectedHash, StringComparison.OrdinalIgnoreCase))
            throw Fail(modelEntry, $"was changed or damaged: its SHA-256 is {actualHash}, Model.key says {expectedHash}");

        SrtModel srtModel;
        try
        {
            srtModel = SrtModelFile.Load(new MemoryStream(model, writable: false), $"'{modelEntry}'", "auto");
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException(Prefix + e.Message);
        }
        return new SrtTransformer(srtModel, options);
    }

    /// <summary>
    /// Options from their JSON object. Unknown names and bad values fail (nothing is silently dropped); an option the
    /// file lacks keeps its default, which is how a file written before that option existed behaves.
    /// </summary>
    internal static SrtTransformer.Options OptionsFromJson(JsonObject json, Func<string, InvalidDataException> fail)
    {
        var fields = OptionFields().ToDictionary(f => f.Name, StringComparer.Ordinal);
        var options = new SrtTransformer.Options();
        foreach (var (name, value) in json)
        {
            if (!fields.TryGetValue(name, out var field))
                throw fail($"holds the option '{name}', which this version of SrtTransformer.Options does not have");
            try
            {
                var parsed = value?.Deserialize(field.FieldType, _json);
                if (parsed is null && field.FieldType.IsValueType && Nullable.GetUnderlyingType(field.FieldType) is null)
                    throw fail($"gives null for the option '{name}' ({field.FieldType.Name})");
                field.SetValue(options, parsed);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or NotSupportedException or FormatException)
            {
                throw fail($"gives a bad value for the option '{name}' ({field.FieldType.Name}): {value?.ToJsonString()}");
            }
        }
        try
        {
            options.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw fail($"holds invalid options: {e.Message}");
        }
        return options;
    }

    private static string? Text(JsonNode node, string name)
    {
        try { return node[name]?.GetValue<string>(); }
        catch (InvalidOperationException) { return null; }
    }

    private static long? Number(JsonNode node, string name)
    {
        try { return node[name]?.GetValue<long>(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException) { return null; }
    }

    private static byte[] ReadAtMost(Stream stream, long limit)
    {
        using var ms = new MemoryStream();
        var buffer = new byte[81920];
        int n;
        while (ms.Length < limit && (n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, limit - ms.Length))) > 0)
            ms.Write(buffer, 0, n);
        return ms.ToArray();
    }
}
