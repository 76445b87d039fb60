namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Loads interactions and, optionally, an item catalog from files in any supported <see cref="DataFormat"/>: the
/// one entry point that the command line and quick starts use.
/// </summary>
public static class InteractionFileLoader
{
    /// <summary>What to load and how.</summary>
    public sealed class Options
    {
        /// <summary>The interaction file (sequences, <c>.inter</c> or CSV/TSV). Required.</summary>
        public string InteractionsPath = "";

        /// <summary>
        /// The item file: <c>.item</c> (RecBole) or a TSV/CSV with a header. Default: null; for RecBole interactions the
        /// <c>.item</c> file next to the <c>.inter</c> file is used when it exists, otherwise the catalog is built from the ids.
        /// </summary>
        public string? ItemsPath;

        /// <summary>A JSON file <c>{"item_id": [attribute ids]}</c> merged into the catalog as the token-list field <c>attributes</c>. Default: none.</summary>
        public string? AttributesPath;

        /// <summary>The interaction file format. Default: <see cref="DataFormat.Auto"/>.</summary>
        public DataFormat Format = DataFormat.Auto;

        /// <summary>What to do with interaction items missing from the item file. Default: <see cref="UnknownItemPolicy.Error"/>.</summary>
        public UnknownItemPolicy UnknownItems = UnknownItemPolicy.Error;

        /// <summary>Item fields (columns) to use as text; null keeps each reader's default.</summary>
        public string[]? TextFields;

        /// <summary>Item fields (columns) to use as token lists; null keeps each reader's default.</summary>
        public string[]? TokenFields;
    }

    /// <summary>Loads the data; the result's <see cref="InteractionSequences.Report"/> holds the drops and notes of every file read.</summary>
    public static InteractionSequences Load(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.InteractionsPath, nameof(options.InteractionsPath));
        var path = options.InteractionsPath;
        var format = options.Format == DataFormat.Auto ? DataFormatDetector.Detect(path) : options.Format;
        var itemsPath = options.ItemsPath ?? (format == DataFormat.RecBole ? RecBoleReader.FindSiblingItemFile(path) : null);
        var report = new LoadReport();

        ItemCatalog? catalog = null;
        if (itemsPath is not null)
        {
            catalog = Path.GetExtension(itemsPath).Equals(".item", StringComparison.OrdinalIgnoreCase)
                ? RecBoleReader.ReadItems(itemsPath, new RecBoleReader.Options { TextFields = options.TextFields, TokenFields = options.TokenFields }, report)
                : DelimitedItemReader.Read(itemsPath, new DelimitedItemReader.Options { TextColumns = options.TextFields, TokenColumns = options.TokenFields }, report);
        }
        if (options.AttributesPath is not null)
        {
            if (catalog is null) throw new SrtDataException(options.AttributesPath, null, null, "an attributes file needs an item file to attach to (give the items too).");
            catalog = ItemAttributesReader.Merge(catalog, options.AttributesPath, report: report);
        }

        return format switch
        {
            DataFormat.Sequences => SequenceFileReader.Read(path, catalog, options.UnknownItems, report),
            DataFormat.RecBole => RecBoleReader.ReadInteractions(path, catalog, new RecBoleReader.Options { UnknownItems = options.UnknownItems }, report),
            DataFormat.Csv => DelimitedInteractionReader.Read(path, catalog, new DelimitedInteractionReader.Options { UnknownItems = options.UnknownItems }, report),
            _ => throw new ArgumentOutOfRangeException(nameof(options), $"Unknown format {format}."),
        };
    }
}
