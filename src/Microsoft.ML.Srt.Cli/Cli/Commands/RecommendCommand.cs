using System.ComponentModel;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Scoring;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt recommend</c>: loads a saved model, either an SRT model file (<c>srt train --model</c>, <c>SrtModel.Save</c>)
/// or an ML.NET model zip (<c>mlContext.Model.Save</c>) whose pipeline holds an <see cref="SrtTransformer"/>, scores one
/// history through it and prints the top-K items with titles and scores (or JSON with <c>--json</c>). An ML.NET zip is
/// loaded with <c>mlContext.Model.Load</c> and scored through the whole loaded pipeline (the history goes into
/// <c>--input-column</c>, else the transformer's history column, else the pipeline input's only text column).
/// </summary>
internal sealed class RecommendCommand(CliStreams streams) : Command<RecommendCommand.Settings>
{
    /// <summary>The <c>kind</c> printed for an SRT model file.</summary>
    public const string SrtModelKind = "srt-model";

    /// <summary>The <c>kind</c> printed for an ML.NET model zip.</summary>
    public const string MlNetKind = "ml.net";

    /// <summary>The options of <c>srt recommend</c>: the model, the history and how many items to print.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <PATH>", isRequired: true)]
        [Description("The model: an SRT model file (srt train --model) or an ML.NET model zip (mlContext.Model.Save) holding an SrtTransformer.")]
        public string Model { get; set; } = "";

        [CommandOption("--history <ID,ID,...>", isRequired: true)]
        [Description("The user's items so far, oldest first, as comma-separated ids.")]
        public string History { get; set; } = "";

        [CommandOption("-k|--top-k <N>")]
        [Description("Recommendations to print (default 10; an ML.NET zip returns at most its transformer's saved TopK, which is also its default).")]
        public int? TopK { get; set; }

        [CommandOption("--input-column <NAME>")]
        [Description("ML.NET zips: the pipeline input column that receives the history (default: the SrtTransformer's history column, else the input's only text column).")]
        public string? InputColumn { get; set; }

        [CommandOption("--json")]
        [Description("Print one JSON object (items, titles, scores) instead of text.")]
        public bool Json { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate() =>
            (DataSettings.List(History) ?? []).Length == 0 ? ValidationResult.Error("option '--history' needs at least one item id.")
            : TopK < 1 ? ValidationResult.Error($"option '--top-k' must be at least 1; got {TopK}.")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var path = settings.Model;
        var history = DataSettings.List(settings.History) ?? [];
        int? topK = settings.TopK;
        var output = streams.Output;

        using var loaded = Load(path, topK ?? 10);
        var srt = loaded.Transformer;
        var catalog = srt.Model.Catalog;
        var known = history.Where(id => catalog.TryGetIndex(id, out _)).ToArray();
        var skipped = history.Where(id => !catalog.TryGetIndex(id, out _)).ToArray();
        if (known.Length == 0)
            throw new SrtDataException("--history", null, null,
                $"none of the {history.Length} item ids is in the model's catalog of {catalog.Count:N0} items (for example: {string.Join(", ", catalog.Ids.Take(3))}).");

        var (items, scores) = Score(loaded, path, settings.InputColumn, history);
        int count = Math.Min(items.Length, topK ?? items.Length);

        if (settings.Json)
        {
            WriteJson(output, path, loaded.Kind, srt, history, skipped, items[..count], scores[..count]);
            return 0;
        }
        output.WriteLine(loaded.Kind == MlNetKind
            ? $"Model: {path} (ML.NET model zip; SrtTransformer with TopK {srt.TopK}{(srt.ExcludeHistory ? ", history excluded" : "")})"
            : $"Model: {path} (SRT model file)");
        output.WriteLine("History (oldest first):");
        foreach (var id in known) output.WriteLine($"      {id}  {Title(catalog, id)}");
        if (skipped.Length > 0) output.WriteLine($"Skipped (not in the model's catalog): {string.Join(", ", skipped)}");
        output.WriteLine($"Top-{count} recommendations:");
        for (int r = 0; r < count; r++)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {r + 1,2}. {items[r]}  {Title(catalog, items[r])}  (score {scores[r]:F4})"));
        if (topK > items.Length && loaded.Kind == MlNetKind)
            output.WriteLine($"(the saved transformer returns at most {srt.TopK} items: its TopK)");
        return 0;
    }

    /// <summary>A loaded model: the pipeline to score through, its saved input schema (when any) and the SRT transformer in it.</summary>
    private sealed class LoadedModel(string kind, ITransformer pipeline, DataViewSchema? inputSchema, SrtTransformer transformer) : IDisposable
    {
        public string Kind { get; } = kind;

        public ITransformer Pipeline { get; } = pipeline;

        public DataViewSchema? InputSchema { get; } = inputSchema;

        public SrtTransformer Transformer { get; } = transformer;

        public void Dispose() => Transformer.Dispose();
    }

    private static LoadedModel Load(string path, int topK)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"'{path}': no such model file.", path);
        bool isSrtModelFile;
        try
        {
            using var zip = ZipFile.OpenRead(path);
            isSrtModelFile = zip.GetEntry("manifest.json") is not null;
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is neither an SRT model file nor an ML.NET model zip: it is not a zip archive, or it is truncated ({e.Message}).", e);
        }
        if (isSrtModelFile)
        {
            var transformer = new SrtTransformer(SrtModel.Load(path), new SrtTransformer.Options { TopK = topK });
            return new LoadedModel(SrtModelKind, transformer, null, transformer);
        }

        var ml = new MLContext();
        ml.ComponentCatalog.RegisterSrt(); // what an app calls before Load (docs/model-files.md)
        ITransformer pipeline;
        DataViewSchema? inputSchema;
        try
        {
            pipeline = ml.Model.Load(path, out inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw LoadError(path, e);
        }
        var srt = FindSrt(pipeline) ?? throw new InvalidDataException($"'{path}' is an ML.NET model zip without an SrtTransformer in its pipeline.");
        return new LoadedModel(MlNetKind, pipeline, inputSchema, srt);
    }

    /// <summary>
    /// ML.NET calls component loaders through reflection, so an SRT error arrives wrapped in
    /// <see cref="TargetInvocationException"/>s: report its base exception (it names the entry) with the file's path.
    /// </summary>
    internal static InvalidDataException LoadError(string path, Exception e)
    {
        var root = e.GetBaseException();
        var detail = root is InvalidDataException or SrtDataException || ReferenceEquals(root, e) ? root.Message : $"{e.Message} ({root.Message})";
        return new InvalidDataException($"'{path}' cannot be loaded as an ML.NET model: {detail}", e);
    }

    /// <summary>The last SRT transformer of a (possibly nested) transformer chain.</summary>
    internal static SrtTransformer? FindSrt(ITransformer transformer) => transformer switch
    {
        SrtTransformer srt => srt,
        IEnumerable<ITransformer> chain => chain.Select(FindSrt).LastOrDefault(t => t is not null),
        _ => null,
    };

    private sealed class HistoryVector
    {
        public string[] History = [];
    }

    private sealed class HistoryText
    {
        public string History = "";
    }

    /// <summary>
    /// The input column to put the history in: <paramref name="requested"/> when given; else the SRT transformer's
    /// history column when the pipeline's input has it (or no input schema was saved); else the input's only text
    /// column (a pipeline that builds the history column itself, for example by tokenizing text). A vector column gets
    /// the ids, a text column gets them joined by spaces.
    /// </summary>
    private static (string Name, bool Vector) InputColumn(LoadedModel loaded, string path, string? requested)
    {
        var schema = loaded.InputSchema;
        var name = requested ?? loaded.Transformer.HistoryColumnName;
        if (schema is null) return (name, true);
        static bool IsText(DataViewType t) => t is TextDataViewType || t is VectorDataViewType { ItemType: TextDataViewType };
        string Columns() => string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"{c.Name} ({c.Type})"));
        var column = schema.GetColumnOrNull(name);
        if (column is { } c && IsText(c.Type)) return (name, c.Type is VectorDataViewType);
        if (requested is not null)
            throw new CliUsageException($"option '--input-column': the pipeline's input has no text column '{requested}' (its input columns: {Columns()}).");
        var text = schema.Where(c => !c.IsHidden && IsText(c.Type)).ToList();
        if (text.Count == 1) return (text[0].Name, text[0].Type is VectorDataViewType);
        throw new CliUsageException(
            $"the pipeline's input has no text column '{name}' and {text.Count} other text columns: name the one that receives the history " +
            $"with --input-column (its input columns: {Columns()}).");
    }

    /// <summary>Transforms one row holding <paramref name="history"/> through the loaded pipeline and reads the SRT outputs.</summary>
    private static (string[] Items, float[] Scores) Score(LoadedModel loaded, string path, string? inputColumn, string[] history)
    {
        var ml = new MLContext();
        var srt = loaded.Transformer;
        var (columnName, vector) = InputColumn(loaded, path, inputColumn);
        var definition = SchemaDefinition.Create(vector ? typeof(HistoryVector) : typeof(HistoryText));
        definition[0].ColumnName = columnName;
        var input = vector
            ? ml.Data.LoadFromEnumerable([new HistoryVector { History = history }], definition)
            : ml.Data.LoadFromEnumerable([new HistoryText { History = string.Join(' ', history) }], definition);
        var scored = loaded.Pipeline.Transform(input);
        var itemsColumn = scored.Schema[srt.RecommendedItemsColumnName];
        var scoresColumn = scored.Schema[srt.ScoresColumnName];
        using var cursor = scored.GetRowCursor([itemsColumn, scoresColumn]);
        if (!cursor.MoveNext()) throw new InvalidOperationException("The pipeline returned no row for the history.");
        VBuffer<ReadOnlyMemory<char>> items = default;
        VBuffer<float> scores = default;
        cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(itemsColumn)(ref items);
        cursor.GetGetter<VBuffer<float>>(scoresColumn)(ref scores);
        return (items.DenseValues().Select(v => v.ToString()).ToArray(), scores.DenseValues().ToArray());
    }

    private static string Title(ItemCatalog catalog, string id) => catalog.TryGetIndex(id, out int index) ? catalog.GetTitle(index) : id;

    private static void WriteJson(TextWriter output, string path, string kind, SrtTransformer srt, string[] history, string[] skipped, string[] items, float[] scores)
    {
        var catalog = srt.Model.Catalog;
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("model", path);
            json.WriteString("kind", kind);
            json.WriteStartArray("history");
            foreach (var id in history) json.WriteStringValue(id);
            json.WriteEndArray();
            json.WriteStartArray("skipped");
            foreach (var id in skipped) json.WriteStringValue(id);
            json.WriteEndArray();
            json.WriteStartArray("recommendations");
            for (int r = 0; r < items.Length; r++)
            {
                json.WriteStartObject();
                json.WriteNumber("rank", r + 1);
                json.WriteString("item", items[r]);
                json.WriteString("title", Title(catalog, items[r]));
                json.WriteNumber("score", scores[r]);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
