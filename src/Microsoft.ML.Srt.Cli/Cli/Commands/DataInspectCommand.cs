using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Cli;

/// <summary><c>srt data inspect</c>: loads a data set, splits it leave-one-out and prints what it found as one JSON object.</summary>
internal sealed class DataInspectCommand : ICliCommand
{
    private static readonly string[] _formats = ["auto", "sequences", "recbole", "csv"];
    private static readonly string[] _policies = ["error", "add-placeholder", "drop"];

    public string Name => "data inspect";

    public string Description => "Load interactions (and items), split leave-one-out, and print counts, drops and notes as JSON.";

    public IReadOnlyList<CliOption> Options { get; } =
    [
        new("interactions", "Interaction file: sequences (user item item ...), RecBole .inter, or CSV/TSV with a header.", "PATH", Required: true),
        new("items", "Item file: RecBole .item or TSV/CSV with a header (for .inter, the sibling .item is used when omitted).", "PATH"),
        new("attributes", "JSON file {\"item_id\": [attribute ids]} merged into the items as the token list 'attributes'.", "PATH"),
        new("format", "Interaction file format.", "FORMAT", Default: "auto", Choices: _formats),
        new("unknown-items", "Items in interactions but not in the item file.", "POLICY", Default: "error", Choices: _policies),
        new("text-fields", "Comma-separated item fields to use as text (default: by the reader's rule).", "NAMES"),
        new("token-fields", "Comma-separated item fields to use as token lists (split on spaces).", "NAMES"),
    ];

    public int Execute(CliArguments arguments, TextWriter output)
    {
        var options = new InteractionFileLoader.Options
        {
            InteractionsPath = arguments.GetRequired("interactions"),
            ItemsPath = arguments.Get("items"),
            AttributesPath = arguments.Get("attributes"),
            Format = arguments.Get("format") switch
            {
                "sequences" => DataFormat.Sequences,
                "recbole" => DataFormat.RecBole,
                "csv" => DataFormat.Csv,
                _ => DataFormat.Auto,
            },
            UnknownItems = arguments.Get("unknown-items") switch
            {
                "add-placeholder" => UnknownItemPolicy.AddPlaceholder,
                "drop" => UnknownItemPolicy.Drop,
                _ => UnknownItemPolicy.Error,
            },
            TextFields = arguments.GetList("text-fields"),
            TokenFields = arguments.GetList("token-fields"),
        };
        var format = options.Format == DataFormat.Auto ? DataFormatDetector.Detect(options.InteractionsPath) : options.Format;
        options.Format = format;

        var clock = Stopwatch.StartNew();
        var data = InteractionFileLoader.Load(options);
        var split = UserSplits.LeaveOneOut(data);
        double seconds = clock.Elapsed.TotalSeconds;

        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("format", format.ToString().ToLowerInvariant());
            json.WriteNumber("users", data.UserCount);
            json.WriteNumber("items", data.Catalog.Count);
            json.WriteNumber("items_in_interactions", data.DistinctItemCount());
            json.WriteNumber("interactions", data.InteractionCount);
            json.WriteNumber("placeholder_items", data.Catalog.PlaceholderCount);
            WriteArray(json, "text_fields", data.Catalog.TextFields);
            WriteArray(json, "token_fields", data.Catalog.TokenFields);
            json.WriteStartObject("dropped");
            foreach (var (reason, count) in data.Report.Dropped) json.WriteNumber(reason, count);
            json.WriteEndObject();
            WriteArray(json, "notes", data.Report.Notes);
            json.WriteStartObject("leave_one_out");
            json.WriteNumber("train_interactions", split.Train.InteractionCount);
            json.WriteNumber("validation_cases", split.Validation.Count);
            json.WriteNumber("test_cases", split.Test.Count);
            json.WriteNumber("users_not_evaluated", split.UsersNotEvaluated);
            json.WriteEndObject();
            json.WriteNumber("seconds", Math.Round(seconds, 3));
            json.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
        return 0;
    }

    private static void WriteArray(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var v in values) json.WriteStringValue(v);
        json.WriteEndArray();
    }
}
