using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Tokenizers;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt tokenizer compare</c>: encodes the text of an item file with a trained tokenizer and with GPT-2's, as SRT
/// does (lower-cased), and prints tokens per text and encoding speed of both as JSON.
/// </summary>
internal sealed class TokenizerCompareCommand(CliStreams streams) : Command<TokenizerCompareCommand.Settings>
{
    /// <summary>The options of <c>srt tokenizer compare</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--tokenizer <DIR>", isRequired: true)]
        [Description("Folder with vocab.json and merges.txt (written by srt tokenizer train).")]
        public string Tokenizer { get; set; } = "";

        [CommandOption("--items <PATH>", isRequired: true)]
        [Description("Item file (RecBole .item, or TSV/CSV with a header) whose text fields are encoded.")]
        public string Items { get; set; } = "";

        [CommandOption("--text-fields <NAMES>")]
        [Description("Comma-separated item fields to encode (default: by the reader's rule).")]
        public string? TextFields { get; set; }

        [CommandOption("--repeats <N>")]
        [Description("Timed passes over the texts per tokenizer (fresh instances, then again warm), alternating between the two; the fastest of each is reported.")]
        [DefaultValue(5)]
        public int Repeats { get; set; } = 5;

        /// <inheritdoc/>
        public override ValidationResult Validate() =>
            Repeats < 1 ? ValidationResult.Error($"option '--repeats' must be at least 1; got {Repeats}.") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var fields = DataSettings.List(settings.TextFields);
        var catalog = Path.GetExtension(settings.Items).Equals(".item", StringComparison.OrdinalIgnoreCase)
            ? RecBoleReader.ReadItems(settings.Items, new RecBoleReader.Options { TextFields = fields })
            : DelimitedItemReader.Read(settings.Items, new DelimitedItemReader.Options { TextColumns = fields });
        var texts = new List<string>();
        for (int i = 0; i < catalog.Count; i++)
            for (int f = 0; f < catalog.TextFields.Count; f++)
                if (!string.IsNullOrWhiteSpace(catalog.GetText(i, f))) texts.Add(catalog.GetText(i, f).ToLowerInvariant());
        if (texts.Count == 0) throw new SrtDataException(settings.Items, null, null, "has no text to encode.");

        // Each pass takes fresh instances (empty word caches, as when SRT featurizes a catalog once), then encodes the text a
        // second time with the same instances (warm caches). Passes alternate between the two tokenizers, so that both see the
        // same machine load; the fastest pass of each kind is reported.
        var cold = new[] { double.MaxValue, double.MaxValue };
        var warm = new[] { double.MaxValue, double.MaxValue };
        for (int r = 0; r < settings.Repeats; r++)
        {
            Tokenizer[] pair = [BpeTokenizerTrainer.Load(settings.Tokenizer), TiktokenTokenizer.CreateForModel("gpt2")];
            for (int k = 0; k < 2; k++)
            {
                cold[k] = Math.Min(cold[k], EncodeAll(pair[k], texts));
                warm[k] = Math.Min(warm[k], EncodeAll(pair[k], texts));
            }
        }
        var trained = BpeTokenizerTrainer.Load(settings.Tokenizer);
        streams.Output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["items_path"] = settings.Items,
            ["texts"] = texts.Count,
            ["trained"] = Describe(trained, trained.Vocabulary.Count, texts, cold[0], warm[0]),
            ["gpt2"] = Describe(TiktokenTokenizer.CreateForModel("gpt2"), ItemFeaturizer.Gpt2VocabularySize, texts, cold[1], warm[1]),
            ["encode_time_ratio"] = Math.Round(cold[0] / cold[1], 3),
            ["warm_encode_time_ratio"] = Math.Round(warm[0] / warm[1], 3),
        }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static double EncodeAll(Tokenizer tokenizer, List<string> texts)
    {
        long sink = 0;
        var clock = Stopwatch.StartNew();
        foreach (var text in texts) sink += tokenizer.EncodeToIds(text).Count;
        double seconds = clock.Elapsed.TotalSeconds;
        GC.KeepAlive(sink);
        return seconds;
    }

    private static Dictionary<string, object> Describe(Tokenizer tokenizer, int vocabularySize, List<string> texts, double cold, double warm)
    {
        var counts = texts.Select(t => tokenizer.EncodeToIds(t).Count).Order().ToArray();
        return new Dictionary<string, object>
        {
            ["vocab_size"] = vocabularySize,
            ["tokens_per_text_mean"] = Math.Round(counts.Average(), 3),
            ["tokens_per_text_median"] = counts[counts.Length / 2],
            ["tokens_per_text_p95"] = counts[(int)(0.95 * (counts.Length - 1))],
            ["encode_seconds"] = Math.Round(cold, 4),
            ["texts_per_second"] = Math.Round(texts.Count / cold),
            ["warm_encode_seconds"] = Math.Round(warm, 4),
        };
    }
}
