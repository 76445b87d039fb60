using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Srt.Data;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary><c>srt data inspect</c>: loads a data set, splits it leave-one-out and prints what it found as one JSON object.</summary>
internal sealed class DataInspectCommand(CliStreams streams) : Command<DataSettings>
{
    public override int Execute(CommandContext context, DataSettings settings, CancellationToken cancellationToken)
    {
        var options = settings.ToLoaderOptions();
        var clock = Stopwatch.StartNew();
        var data = DataSettings.Load(options);
        var format = options.Format;
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
        streams.Output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
        return 0;
    }

    private static void WriteArray(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var v in values) json.WriteStringValue(v);
        json.WriteEndArray();
    }
}
