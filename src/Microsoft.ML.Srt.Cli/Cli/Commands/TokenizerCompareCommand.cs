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
        [Description("Timed passes over the texts per tokenizer (after one warm-up pass); the fastest is reported.")]
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

        var trained = BpeTokenizerTrainer.Load(settings.Tokenizer);
        var gpt2 = TiktokenTokenizer.CreateForModel("gpt2");
        streams.Output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["items_path"] = settings.Items,
            ["texts"] = texts.Count,
            ["trained"] = Measure(trained, trained.Vocabulary.Count, texts, settings.Repeats),
            ["gpt2"] = Measure(gpt2, ItemFeaturizer.Gpt2VocabularySize, texts, settings.Repeats),
        }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static Dictionary<string, object> Measure(Tokenizer tokenizer, int vocabularySize, List<string> texts, int repeats)
    {
        var counts = texts.Select(t => tokenizer.EncodeToIds(t).Count).Order().ToArray();
        double best = double.MaxValue;
        long sink = 0;
        for (int r = 0; r < repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var text in texts) sink += tokenizer.EncodeToIds(text).Count;
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        GC.KeepAlive(sink);
        return new Dictionary<string, object>
        {
            ["vocab_size"] = vocabularySize,
            ["tokens_per_text_mean"] = Math.Round(counts.Average(), 3),
            ["tokens_per_text_median"] = counts[counts.Length / 2],
            ["tokens_per_text_p95"] = counts[(int)(0.95 * (counts.Length - 1))],
            ["encode_seconds"] = Math.Round(best, 4),
            ["texts_per_second"] = Math.Round(texts.Count / best),
        };
    }
}
