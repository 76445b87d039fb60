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
    [Description("Interaction file: sequences (user item item ...), RecBole .inter, or CSV/TSV with a header.")]
    public string Interactions { get; set; } = "";

    [CommandOption("--items <PATH>")]
    [Description("Item file: RecBole .item or TSV/CSV with a header (for .inter, the sibling .item is used when omitted).")]
    public string? Items { get; set; }

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
        Choice("--format", Format, _formats) ?? Choice("--unknown-items", UnknownItems, _policies) ?? ValidationResult.Success();

    /// <summary>An error naming <paramref name="option"/> when <paramref name="value"/> is not one of <paramref name="choices"/>; null when it is.</summary>
    internal static ValidationResult? Choice(string option, string? value, IReadOnlyList<string> choices) =>
        choices.Contains(value) ? null : ValidationResult.Error($"option '{option}' must be one of {string.Join(", ", choices)}; got '{value}'.");

    /// <summary>A comma-separated list option, or null when absent.</summary>
    internal static string[]? List(string? value) => value?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Loader options (no file is opened; <see cref="Load"/> detects an <c>auto</c> format).</summary>
    public InteractionFileLoader.Options ToLoaderOptions() => new()
    {
        InteractionsPath = Interactions,
        ItemsPath = Items,
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
}
