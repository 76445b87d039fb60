using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Featurization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt tokenizer train</c>: trains a byte-level BPE tokenizer on the text fields of one or more item files and
/// writes <c>vocab.json</c> + <c>merges.txt</c>; prints the vocabulary size, merges, seconds and files as JSON.
/// </summary>
internal sealed class TokenizerTrainCommand(CliStreams streams) : Command<TokenizerTrainCommand.Settings>
{
    /// <summary>The options of <c>srt tokenizer train</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--items <PATH>", isRequired: true)]
        [Description("Item file (RecBole .item, or TSV/CSV with a header); repeat the option for several catalogs. Every text field is read.")]
        public string[] Items { get; set; } = [];

        [CommandOption("--vocab-size <N>")]
        [Description("Target vocabulary size: 256 byte tokens plus the learned merges (at least 257).")]
        [DefaultValue(BpeTokenizerTrainer.Defaults.VocabularySize)]
        public int VocabSize { get; set; } = BpeTokenizerTrainer.Defaults.VocabularySize;

        [CommandOption("--out <DIR>", isRequired: true)]
        [Description("Folder to write vocab.json and merges.txt into (created if missing).")]
        public string Out { get; set; } = "";

        [CommandOption("--text-fields <NAMES>")]
        [Description("Comma-separated item fields to train on (default: by the reader's rule, as srt train uses them).")]
        public string? TextFields { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate() =>
            VocabSize <= 256 ? ValidationResult.Error($"option '--vocab-size' must be at least 257 (256 byte tokens plus one merge); got {VocabSize}.")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var fields = DataSettings.List(settings.TextFields);
        var texts = new List<string>();
        var perFile = new List<Dictionary<string, object>>();
        foreach (var path in settings.Items)
        {
            var catalog = Path.GetExtension(path).Equals(".item", StringComparison.OrdinalIgnoreCase)
                ? RecBoleReader.ReadItems(path, new RecBoleReader.Options { TextFields = fields })
                : DelimitedItemReader.Read(path, new DelimitedItemReader.Options { TextColumns = fields });
            if (catalog.TextFields.Count == 0)
                throw new SrtDataException(path, null, null, "has no text field to train a tokenizer on (name one with --text-fields).");
            for (int i = 0; i < catalog.Count; i++)
                for (int f = 0; f < catalog.TextFields.Count; f++)
                    texts.Add(catalog.GetText(i, f));
            perFile.Add(new Dictionary<string, object> { ["path"] = path, ["items"] = catalog.Count, ["text_fields"] = catalog.TextFields });
        }
        double readSeconds = clock.Elapsed.TotalSeconds;
        streams.Error.WriteLine($"srt: training a {settings.VocabSize:N0}-token BPE on {texts.Count:N0} texts from {settings.Items.Length} item file(s)");

        var trained = BpeTokenizerTrainer.TrainModel(texts, new BpeTokenizerTrainer.Options { VocabularySize = settings.VocabSize });
        double trainSeconds = clock.Elapsed.TotalSeconds - readSeconds;
        Directory.CreateDirectory(settings.Out);
        var vocabPath = Path.Combine(settings.Out, BpeTokenizerTrainer.VocabularyFileName);
        var mergesPath = Path.Combine(settings.Out, BpeTokenizerTrainer.MergesFileName);
        File.WriteAllBytes(vocabPath, trained.VocabularyJson);
        File.WriteAllBytes(mergesPath, trained.MergesText);
        if (trained.VocabularySize < settings.VocabSize)
            streams.Error.WriteLine($"srt: the text had no pair left to merge at {trained.VocabularySize:N0} tokens (asked for {settings.VocabSize:N0}).");

        streams.Output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["vocab_size"] = trained.VocabularySize,
            ["merges"] = trained.Merges,
            ["texts"] = texts.Count,
            ["inputs"] = perFile,
            ["read_seconds"] = Math.Round(readSeconds, 2),
            ["train_seconds"] = Math.Round(trainSeconds, 2),
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
            ["files"] = new[] { vocabPath, mergesPath },
        }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }
}
