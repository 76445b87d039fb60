using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Srt.Data.Synthetic;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt data generate</c>: writes the embedded synthetic data set (a catalog TSV and a sequences file) as a
/// stream, at any size, and prints its statistics as JSON.
/// </summary>
internal sealed class DataGenerateCommand : ICliCommand
{
    private static readonly SyntheticDataOptions _defaults = new();

    public string Name => "data generate";

    public string Description => "Write the synthetic data set (items.tsv and sequences.txt) to a folder, streamed; print its statistics as JSON.";

    public IReadOnlyList<CliOption> Options { get; } =
    [
        new("out", "Folder to write items.tsv and sequences.txt into (created if missing).", "DIR", Required: true),
        new("users", "Number of users.", "N", Default: _defaults.UserCount.ToString(CultureInfo.InvariantCulture)),
        new("items", "Number of items.", "N", Default: _defaults.ItemCount.ToString(CultureInfo.InvariantCulture)),
        new("seed", "Random seed (same seed, same bytes).", "S", Default: _defaults.Seed.ToString(CultureInfo.InvariantCulture)),
    ];

    public int Execute(CliArguments arguments, TextWriter output)
    {
        var seedText = arguments.GetRequired("seed");
        if (!ulong.TryParse(seedText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed))
            throw new CliUsageException($"option '--seed' needs a non-negative integer; got '{seedText}'.");
        var options = new SyntheticDataOptions
        {
            UserCount = arguments.GetInt("users", _defaults.UserCount),
            ItemCount = arguments.GetInt("items", _defaults.ItemCount),
            Seed = seed,
        };
        var folder = arguments.GetRequired("out");
        Directory.CreateDirectory(folder);
        var clock = Stopwatch.StartNew();
        var generator = new SyntheticDataGenerator(options);
        var itemsPath = Path.Combine(folder, "items.tsv");
        var sequencesPath = Path.Combine(folder, "sequences.txt");
        var stats = generator.Write(itemsPath, sequencesPath);
        output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
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
