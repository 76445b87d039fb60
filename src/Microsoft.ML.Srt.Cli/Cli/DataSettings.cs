using System.ComponentModel;
using Microsoft.ML.Srt.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>The data-set options every command that reads interaction files shares, and their loading.</summary>
internal class DataSettings : CommandSettings
{
    private static readonly string[] _formats = ["auto", "sequences", "recbole", "csv"];
    private static readonly string[] _policies = ["error", "add-placeholder", "drop"];

    [CommandOption("--interactions <PATH>", isRequired: true)]
    [Description("Interaction file: sequences (user item item ...), RecBole .inter, or CSV/TSV with a header. srt train takes it several times to train on several data sets at once (ids become FOLDER:id).")]
    public string[] Interactions { get; set; } = [];

    [CommandOption("--items <PATH>")]
    [Description("Item file: RecBole .item or TSV/CSV with a header (for .inter, the sibling .item is used when omitted). With several --interactions: once per --interactions, in the same order.")]
    public string[] Items { get; set; } = [];

    /// <summary>Whether the command reads several data sets (<c>--interactions</c> given more than once).</summary>
    protected virtual bool ReadsSeveralSources => false;

    [CommandOption("--attributes <PATH>")]
    [Description("JSON file {\"item_id\": [[attribute ids]]} merged into the items as the token list 'attributes'.")]
    public string? Attributes { get; set; }

    [CommandOption("--format <FORMAT>")]
    [Description("Interaction file format: auto, sequences, recbole or csv.")]
    [DefaultValue("auto")]
    public string Format { get; set; } = "auto";

    [CommandOption("--unknown-items <POLICY>")]
    [Description("Items in interactions but not in the item file: error, add-placeholder or drop.")]
    [DefaultValue("error")]
    public string UnknownItems { get; set; } = "error";

    [CommandOption("--text-fields <NAMES>")]
    [Description("Comma-separated item fields to use as text (default: by the reader's rule).")]
    public string? TextFields { get; set; }

    [CommandOption("--token-fields <NAMES>")]
    [Description("Comma-separated item fields to use as token lists, split on spaces (for RecBole Beauty: attributes).")]
    public string? TokenFields { get; set; }

    /// <inheritdoc/>
    public override ValidationResult Validate() =>
        Choice("--format", Format, _formats) ?? Choice("--unknown-items", UnknownItems, _policies) ?? ValidateSources() ?? ValidationResult.Success();

    private ValidationResult? ValidateSources()
    {
        if (Interactions.Length > 1 && !ReadsSeveralSources)
            return ValidationResult.Error($"option '--interactions' is given {Interactions.Length} times; this command reads one data set (srt train reads several).");
        if (Items.Length > 0 && Items.Length != Interactions.Length)
            return ValidationResult.Error($"option '--items' needs one file per '--interactions', in the same order, or none; got {Items.Length} for {Interactions.Length}.");
        if (Attributes is not null && Interactions.Length > 1)
            return ValidationResult.Error("option '--attributes' reads one data set's attributes; it cannot be combined with several '--interactions'.");
        return null;
    }

    /// <summary>
    /// The name of each data set when several are read: the interaction file's folder name (amazon-games for
    /// ../shared/data/amazon-games/sequences.txt), with -2, -3... appended where two folders share a name.
    /// </summary>
    internal static string[] SourceNames(IReadOnlyList<string> interactionPaths)
    {
        var names = new string[interactionPaths.Count];
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int k = 0; k < names.Length; k++)
        {
            var folder = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(interactionPaths[k])));
            var name = (string.IsNullOrEmpty(folder) ? Path.GetFileNameWithoutExtension(interactionPaths[k]) : folder)
                .Replace(InteractionSequences.SourceSeparator, '_');
            seen[name] = seen.TryGetValue(name, out int n) ? n + 1 : 1;
            names[k] = seen[name] == 1 ? name : $"{name}-{seen[name]}";
        }
        return names;
    }

    /// <summary>An error naming <paramref name="option"/> when <paramref name="value"/> is not one of <paramref name="choices"/>; null when it is.</summary>
    internal static ValidationResult? Choice(string option, string? value, IReadOnlyList<string> choices) =>
        choices.Contains(value) ? null : ValidationResult.Error($"option '{option}' must be one of {string.Join(", ", choices)}; got '{value}'.");

    /// <summary>A comma-separated list option, or null when absent.</summary>
    internal static string[]? List(string? value) => value?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Loader options of the first (for most commands, the only) data set; no file is opened (<see cref="Load(InteractionFileLoader.Options)"/> detects an <c>auto</c> format).</summary>
    public InteractionFileLoader.Options ToLoaderOptions() => ToLoaderOptions(0);

    /// <summary>Loader options of every data set, by name (<see cref="SourceNames"/>); one entry for a single data set.</summary>
    public IReadOnlyList<KeyValuePair<string, InteractionFileLoader.Options>> ToSourceLoaderOptions()
    {
        var names = SourceNames(Interactions);
        return names.Select((name, k) => KeyValuePair.Create(name, ToLoaderOptions(k))).ToArray();
    }

    private InteractionFileLoader.Options ToLoaderOptions(int source) => new()
    {
        InteractionsPath = Interactions[source],
        ItemsPath = Items.Length > source ? Items[source] : null,
        AttributesPath = Attributes,
        Format = Format switch
        {
            "sequences" => DataFormat.Sequences,
            "recbole" => DataFormat.RecBole,
            "csv" => DataFormat.Csv,
            _ => DataFormat.Auto,
        },
        UnknownItems = UnknownItems switch
        {
            "add-placeholder" => UnknownItemPolicy.AddPlaceholder,
            "drop" => UnknownItemPolicy.Drop,
            _ => UnknownItemPolicy.Error,
        },
        TextFields = List(TextFields),
        TokenFields = List(TokenFields),
    };

    /// <summary>Detects the format when it is <c>auto</c> (recorded in <paramref name="options"/>), then loads.</summary>
    public static InteractionSequences Load(InteractionFileLoader.Options options)
    {
        if (options.Format == DataFormat.Auto) options.Format = DataFormatDetector.Detect(options.InteractionsPath);
        return InteractionFileLoader.Load(options);
    }

    /// <summary>Loads every data set; several are combined with <see cref="InteractionSequences.Combine"/> (ids become NAME:id), one is returned as it is.</summary>
    public static InteractionSequences Load(IReadOnlyList<KeyValuePair<string, InteractionFileLoader.Options>> sources)
    {
        if (sources.Count == 1) return Load(sources[0].Value);
        return InteractionSequences.Combine(sources.Select(s => KeyValuePair.Create(s.Key, Load(s.Value))).ToArray());
    }
}
