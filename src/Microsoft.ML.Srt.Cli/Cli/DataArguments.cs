using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Cli;

/// <summary>The data-set options every command that reads interaction files shares, and their parsing.</summary>
internal static class DataArguments
{
    private static readonly string[] _formats = ["auto", "sequences", "recbole", "csv"];
    private static readonly string[] _policies = ["error", "add-placeholder", "drop"];

    /// <summary>--interactions, --items, --attributes, --format, --unknown-items, --text-fields, --token-fields.</summary>
    public static IReadOnlyList<CliOption> Options { get; } =
    [
        new("interactions", "Interaction file: sequences (user item item ...), RecBole .inter, or CSV/TSV with a header.", "PATH", Required: true),
        new("items", "Item file: RecBole .item or TSV/CSV with a header (for .inter, the sibling .item is used when omitted).", "PATH"),
        new("attributes", "JSON file {\"item_id\": [attribute ids]} merged into the items as the token list 'attributes'.", "PATH"),
        new("format", "Interaction file format.", "FORMAT", Default: "auto", Choices: _formats),
        new("unknown-items", "Items in interactions but not in the item file.", "POLICY", Default: "error", Choices: _policies),
        new("text-fields", "Comma-separated item fields to use as text (default: by the reader's rule).", "NAMES"),
        new("token-fields", "Comma-separated item fields to use as token lists, split on spaces (for RecBole Beauty: attributes).", "NAMES"),
    ];

    /// <summary>Loader options from the parsed arguments (no file is opened; <see cref="Load"/> detects an <c>auto</c> format).</summary>
    public static InteractionFileLoader.Options Parse(CliArguments arguments)
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
        return options;
    }

    /// <summary>Detects the format when it is <c>auto</c> (recorded in <paramref name="options"/>), then loads.</summary>
    public static InteractionSequences Load(InteractionFileLoader.Options options)
    {
        if (options.Format == DataFormat.Auto) options.Format = DataFormatDetector.Detect(options.InteractionsPath);
        return InteractionFileLoader.Load(options);
    }
}
