using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Srt.Data.Synthetic;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt data generate</c>: writes the embedded synthetic data set (a catalog TSV and a sequences file) as a
/// stream, at any size, and prints its statistics as JSON.
/// </summary>
internal sealed class DataGenerateCommand(CliStreams streams) : Command<DataGenerateCommand.Settings>
{
    private static readonly SyntheticDataOptions _defaults = new();

    /// <summary>The options of <c>srt data generate</c>; the defaults are the generator's own.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--out <DIR>", isRequired: true)]
        [Description("Folder to write items.tsv and sequences.txt into (created if missing).")]
        public string Out { get; set; } = "";

        [CommandOption("--users <N>")]
        [Description("Number of users.")]
        [DefaultFrom(typeof(DataGenerateCommand), nameof(DefaultUsers))]
        public int Users { get; set; }

        [CommandOption("--items <N>")]
        [Description("Number of items.")]
        [DefaultFrom(typeof(DataGenerateCommand), nameof(DefaultItems))]
        public int Items { get; set; }

        [CommandOption("--seed <S>")]
        [Description("Random seed (same seed, same bytes).")]
        [DefaultFrom(typeof(DataGenerateCommand), nameof(DefaultSeed))]
        public ulong Seed { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate() =>
            Users < 1 ? ValidationResult.Error($"option '--users' must be at least 1; got {Users}.")
            : Items < 1 ? ValidationResult.Error($"option '--items' must be at least 1; got {Items}.")
            : ValidationResult.Success();
    }

    private static int DefaultUsers => _defaults.UserCount;

    private static int DefaultItems => _defaults.ItemCount;

    private static ulong DefaultSeed => _defaults.Seed;

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var options = new SyntheticDataOptions { UserCount = settings.Users, ItemCount = settings.Items, Seed = settings.Seed };
        var folder = settings.Out;
        Directory.CreateDirectory(folder);
        var clock = Stopwatch.StartNew();
        var generator = new SyntheticDataGenerator(options);
        var itemsPath = Path.Combine(folder, "items.tsv");
        var sequencesPath = Path.Combine(folder, "sequences.txt");
        var stats = generator.Write(itemsPath, sequencesPath);
        streams.Output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["items_path"] = itemsPath, ["sequences_path"] = sequencesPath,
            ["users"] = stats.Users, ["items"] = generator.ItemCount, ["interactions"] = stats.Interactions,
            ["mean_length"] = Math.Round(stats.MeanLength, 3), ["min_length"] = stats.MinLength, ["max_length"] = stats.MaxLength,
            ["same_topic_share"] = Math.Round(stats.SameTopicShare, 4), ["reserved_items"] = stats.ReservedItems,
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
        }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }
}
