using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// The saved results of <c>srt benchmark beauty</c> (<c>&lt;row&gt;.json</c> and <c>speed.json</c> in the out folder),
/// read back for the document and plots: every number they show comes from these files.
/// </summary>
internal sealed class BeautyBenchmarkResults
{
    private BeautyBenchmarkResults(string outDir, Dictionary<string, JsonObject> rows, JsonObject? speed)
    {
        OutDir = outDir;
        Rows = rows;
        Speed = speed;
    }

    /// <summary>The folder the results were read from.</summary>
    public string OutDir { get; }

    /// <summary>Each finished row's file, by row name.</summary>
    public IReadOnlyDictionary<string, JsonObject> Rows { get; }

    /// <summary>The speed step's file, when it ran.</summary>
    public JsonObject? Speed { get; }

    /// <summary>Reads every result file present in <paramref name="outDir"/>; a file that is not JSON is an error naming it.</summary>
    public static BeautyBenchmarkResults Load(string outDir)
    {
        var rows = new Dictionary<string, JsonObject>();
        foreach (var row in BeautyBenchmarkRows.All)
            if (Read(Path.Combine(outDir, row.Name + ".json")) is { } file) rows[row.Name] = file;
        return new BeautyBenchmarkResults(outDir, rows, Read(Path.Combine(outDir, "speed.json")));
    }

    /// <summary>The row's test metrics with the history not masked: from <c>srt train</c>, or <c>srt evaluate</c> for popularity.</summary>
    public JsonObject? Unmasked(string row) => Result(row, "train") ?? Result(row, "evaluate");

    /// <summary>The row's test metrics with the history masked (<c>srt evaluate --mask-history</c>).</summary>
    public JsonObject? Masked(string row) => Result(row, "evaluate_masked");

    /// <summary>The row's <c>srt train</c> JSON (null for popularity or a row not run).</summary>
    public JsonObject? Train(string row) => Result(row, "train");

    /// <summary>The result of one command of the speed step (<c>step</c> or <c>scoring</c>).</summary>
    public JsonObject? SpeedResult(string step) => Speed?["results"]?[step] as JsonObject;

    /// <summary>A number of a JSON object, or null when absent or not a number.</summary>
    public static double? Number(JsonNode? node, params string[] path)
    {
        foreach (var key in path) node = node is JsonObject o ? o[key] : null;
        return node is JsonValue v && v.TryGetValue(out double d) ? d : null;
    }

    /// <summary>A string of a JSON object, or null.</summary>
    public static string? Text(JsonNode? node, params string[] path)
    {
        foreach (var key in path) node = node is JsonObject o ? o[key] : null;
        return node is JsonValue v && v.TryGetValue(out string? s) ? s : null;
    }

    private JsonObject? Result(string row, string step) => Rows.TryGetValue(row, out var file) ? file["results"]?[step] as JsonObject : null;

    private static JsonObject? Read(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message}); delete it to run that row again.", e);
        }
    }
}
