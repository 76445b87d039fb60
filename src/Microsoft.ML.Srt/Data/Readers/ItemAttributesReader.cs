using System.Text.Json;

namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Reads a JSON attributes file, <c>{"item_id": [attribute ids]}</c> (as the S3-Rec <c>item2attributes.json</c>),
/// and merges it into a catalog as a token-list field.
/// </summary>
/// <remarks>
/// Keys must be catalog item ids (an unknown key is an error naming the line); values are arrays of numbers or
/// strings. Items without an entry get an empty list and are counted in a note.
/// </remarks>
public static class ItemAttributesReader
{
    /// <summary>A new catalog: <paramref name="catalog"/> plus the token-list field <paramref name="fieldName"/> read from <paramref name="path"/>.</summary>
    public static ItemCatalog Merge(ItemCatalog catalog, string path, string fieldName = "attributes", LoadReport? report = null)
    {
        report ??= new LoadReport();
        if (catalog.TextFields.Contains(fieldName) || catalog.TokenFields.Contains(fieldName))
            throw new ArgumentException($"The catalog already has a field named '{fieldName}'.", nameof(fieldName));
        var attributes = Read(path, catalog);

        var builder = new ItemCatalog.Builder(catalog.TextFields, catalog.TokenFields.Append(fieldName), catalog.Count);
        var text = new string[catalog.TextFields.Count];
        var tokens = new string[catalog.TokenFields.Count + 1][];
        int without = 0;
        for (int i = 0; i < catalog.Count; i++)
        {
            for (int f = 0; f < text.Length; f++) text[f] = catalog.GetText(i, f);
            for (int f = 0; f < catalog.TokenFields.Count; f++) tokens[f] = catalog.GetTokens(i, f).ToArray();
            tokens[^1] = attributes[i] ?? [];
            if (attributes[i] is null) without++;
            builder.AddCore(catalog.GetId(i), text, tokens, catalog.IsPlaceholder(i));
        }
        if (without > 0) report.Note($"{path}: {without} item(s) have no '{fieldName}' entry; their list is empty.");
        return builder.Build();
    }

    private static string[]?[] Read(string path, ItemCatalog catalog)
    {
        if (!File.Exists(path)) throw new SrtDataException(path, null, null, "the file does not exist.");
        var bytes = File.ReadAllBytes(path);
        if (bytes.All(b => b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')) throw new SrtDataException(path, null, null, "the file is empty.");
        var result = new string[]?[catalog.Count];
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw Error(path, bytes, reader, null, "expected a JSON object {\"item_id\": [attribute ids]}.");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var key = reader.GetString()!;
                if (!catalog.TryGetIndex(key, out int item))
                    throw Error(path, bytes, reader, key, $"item '{key}' is not in the item catalog.");
                if (result[item] is not null) throw Error(path, bytes, reader, key, $"item '{key}' appears twice.");
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                    throw Error(path, bytes, reader, key, "expected an array of attribute ids.");
                var list = new List<string>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    list.Add(reader.TokenType switch
                    {
                        JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.ValueSpan),
                        JsonTokenType.String => reader.GetString()!,
                        _ => throw Error(path, bytes, reader, key, $"attribute ids must be numbers or strings, found {reader.TokenType}."),
                    });
                }
                result[item] = list.ToArray();
            }
        }
        catch (JsonException e)
        {
            throw new SrtDataException(path, (e.LineNumber ?? 0) + 1, null, $"invalid JSON: {e.Message}", e);
        }
        return result;
    }

    private static SrtDataException Error(string path, byte[] bytes, Utf8JsonReader reader, string? key, string problem)
    {
        long line = 1 + bytes.AsSpan(0, (int)Math.Min(reader.TokenStartIndex, bytes.Length)).Count((byte)'\n');
        return new SrtDataException(path, line, key, problem);
    }
}
