using System.IO.Compression;
using System.Text.Json.Nodes;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Training;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Srt.Tests.Persistence;

/// <summary>A model trained with a BPE tokenizer that <see cref="BpeTokenizerTrainer"/> learned on the catalog's text.</summary>
public class TrainedTokenizerModelTests
{
    [Fact]
    public void TheVocabularySizeIsInferredAndTheModelFileCarriesTheTokenizer()
    {
        var generator = new SyntheticDataGenerator(new SyntheticDataOptions { Seed = 7, ItemCount = 150, UserCount = 100 });
        var (catalog, sequences) = generator.Generate();
        var split = UserSplits.LeaveOneOut(sequences);
        var texts = Enumerable.Range(0, catalog.Count).SelectMany(i => catalog.TextFields.Select((_, f) => catalog.GetText(i, f)));
        using var t = new TempFiles();
        var tokenizer = BpeTokenizerTrainer.Train(texts, Path.Combine(t.Folder, "tok"), new BpeTokenizerTrainer.Options { VocabularySize = 400 });

        var trainer = new SrtTrainer(new SrtTrainer.Options
        {
            Dimension = 16, Layers = 1, Heads = 1, Epochs = 1, BatchSize = 32, Negatives = 20, MaxLength = 20,
            Device = "cpu", TokenFieldTableSize = 64, TokenFieldHashBuckets = 8, Tokenizer = tokenizer,
        });
        using var model = trainer.Train(split.Train, split.Validation);
        Assert.Equal(400 + 1, model.Featurizer.TextVocabularySize); // inferred from the tokenizer, padding row added
        Assert.Equal(400 + 1, model.Network.Shape.TextVocabularySize);

        var path = Path.Combine(t.Folder, "model.zip");
        model.Save(path);
        using (var zip = ZipFile.OpenRead(path))
        {
            var manifest = JsonNode.Parse(zip.GetEntry("manifest.json")!.Open())!;
            Assert.Equal("byte-level-bpe", (string?)manifest["tokenizer"]);
            using var stored = new StreamReader(zip.GetEntry("tokenizer/merges.txt")!.Open());
            Assert.Equal(File.ReadAllText(Path.Combine(t.Folder, "tok", BpeTokenizerTrainer.MergesFileName)), stored.ReadToEnd());
        }

        using var loaded = SrtModel.Load(path, "cpu");
        var loadedTokenizer = Assert.IsType<BpeTokenizer>(loaded.Featurizer.Tokenizer);
        Assert.Equal(400, loadedTokenizer.Vocabulary.Count);
        foreach (var text in new[] { catalog.GetText(0, 0), "a title never seen, crème brûlée 日本" })
            Assert.Equal(tokenizer.EncodeToIds(text), loadedTokenizer.EncodeToIds(text));
        // Featurizing the catalog again with the loaded tokenizer gives the rows the trained model used.
        var before = model.Featurizer.Featurize(catalog);
        var after = loaded.Featurizer.Featurize(catalog);
        Assert.Equal(before.Select(m => m.Tokens), after.Select(m => m.Tokens));

        var history = split.Test.GetHistory(0);
        Assert.Equal(model.Recommend(history, 10).Select(p => p.Item), loaded.Recommend(history, 10).Select(p => p.Item));

        // Saved again from the loaded model: the tokenizer survives a second round trip.
        var again = Path.Combine(t.Folder, "again.zip");
        loaded.Save(again);
        using var reloaded = SrtModel.Load(again, "cpu");
        Assert.Equal(tokenizer.EncodeToIds("lipstick"), reloaded.Featurizer.Tokenizer.EncodeToIds("lipstick"));
    }
}
