using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Microsoft.ML.Srt.Cli.Serving;

/// <summary>
/// Reads request bodies by hand (not model binding) so that every refusal names the field at fault: malformed JSON,
/// wrong types, unknown fields, out-of-range values and bodies over the size limit become <see cref="ClientInputException"/>.
/// </summary>
internal static class RequestParser
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 16 };

    /// <summary>The body as a JSON object (<paramref name="maxBytes"/>: a larger limit than Kestrel's default for this request, or null).</summary>
    public static async Task<JsonDocument> ReadObjectAsync(HttpContext context, long? maxBytes = null)
    {
        if (maxBytes is { } max && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = max;
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, DocumentOptions, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
            throw new ClientInputException("body", $"The body is not valid JSON{where}.");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ClientInputException("body", $"The body is larger than the limit of {context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize} bytes.", e.StatusCode);
        }
        var kind = document.RootElement.ValueKind;
        if (kind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new ClientInputException("body", $"The body must be a JSON object; got {Kind(kind)}.");
        }
        return document;
    }

    /// <summary>Refuses properties of <paramref name="obj"/> not in <paramref name="allowed"/> (a misspelt field would otherwise be ignored).</summary>
    public static void OnlyKnown(JsonElement obj, string path, params string[] allowed)
    {
        foreach (var p in obj.EnumerateObject())
            if (!allowed.Contains(p.Name, StringComparer.Ordinal))
                throw new ClientInputException(Join(path, p.Name), $"Unknown field '{p.Name}'; expected {string.Join(", ", allowed)}.");
    }

    /// <summary>An array of strings of at most <paramref name="max"/> entries; missing or null: empty (or an error when <paramref name="required"/>).</summary>
    public static string[] Strings(JsonElement obj, string path, string name, int max, bool required = false)
    {
        var field = Join(path, name);
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return required ? throw new ClientInputException(field, $"'{name}' is required: an array of item ids.") : [];
        if (value.ValueKind != JsonValueKind.Array)
            throw new ClientInputException(field, $"'{name}' must be an array of strings; got {Kind(value.ValueKind)}.");
        int count = value.GetArrayLength();
        if (count > max) throw new ClientInputException(field, $"'{name}' holds {count} ids; at most {max} are accepted.");
        var result = new string[count];
        int i = 0;
        foreach (var entry in value.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.String)
                throw new ClientInputException($"{field}[{i}]", $"'{name}' must hold strings; entry {i} is {Kind(entry.ValueKind)}.");
            result[i++] = entry.GetString()!;
        }
        return result;
    }

    /// <summary>An integer <c>k</c> in [1, <paramref name="max"/>]; missing: 10.</summary>
    public static int K(JsonElement obj, string path, int max)
    {
        if (!obj.TryGetProperty("k", out var value) || value.ValueKind == JsonValueKind.Null) return CheckK(10, Join(path, "k"), max);
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int k))
            throw new ClientInputException(Join(path, "k"), $"'k' must be an integer; got {(value.ValueKind == JsonValueKind.Number ? value.GetRawText() : Kind(value.ValueKind))}.");
        return CheckK(k, Join(path, "k"), max);
    }

    /// <summary>A <c>k</c> from the query string; missing: 10.</summary>
    public static int QueryK(HttpContext context, int max)
    {
        var raw = context.Request.Query["k"];
        if (raw.Count == 0) return CheckK(10, "k", max);
        if (raw.Count > 1 || !int.TryParse(raw[0], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int k))
            throw new ClientInputException("k", $"'k' must be one integer; got '{raw}'.");
        return CheckK(k, "k", max);
    }

    private static int CheckK(int k, string field, int max) =>
        k < 1 || k > max ? throw new ClientInputException(field, $"'k' must be between 1 and {max}; got {k}.") : k;

    /// <summary>The array <paramref name="name"/> of <paramref name="obj"/> (required, 1 to <paramref name="max"/> entries).</summary>
    public static JsonElement Array(JsonElement obj, string name, int max)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Array)
            throw new ClientInputException(name, $"'{name}' is required: an array.");
        int n = value.GetArrayLength();
        if (n == 0 || n > max) throw new ClientInputException(name, $"'{name}' must hold 1 to {max} entries; got {n}.");
        return value;
    }

    public static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    public static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
}
