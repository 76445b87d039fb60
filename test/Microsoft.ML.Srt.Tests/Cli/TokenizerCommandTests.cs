using System.Text.Json;
using Microsoft.ML.Srt.Cli;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Api;
using Microsoft.ML.Tokenizers;
using Microsoft.ML.Srt.Tests.Featurization;

namespace Microsoft.ML.Srt.Tests.Cli;

public class TokenizerCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static string[] ItemLines(IEnumerable<string> titles) =>
        ["item_id\ttitle", .. titles.Select((title, i) => $"{i + 1}\t{title.Replace('\t', ' ').Replace('\n', ' ')}")];

    [Fact]
    public void TrainReadsSeveralItemFilesWritesLoadableFilesAndPrintsJson()
    {
        using var t = new TempFiles();
        var titles = BpeTokenizerTrainerTests.Corpus().ToList();
        var a = t.Write("a.tsv", ItemLines(titles.Take(150)));
        var b = t.Write("b.tsv", ItemLines(titles.Skip(150)));
        var outDir = Path.Combine(t.Folder, "tok");
        var (code, output, error) = Run("tokenizer", "train", "--items", a, "--items", b, "--vocab-size", "300", "--out", outDir);
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(300, root.GetProperty("vocab_size").GetInt32());
        Assert.Equal(44, root.GetProperty("merges").GetInt32());
        Assert.Equal(titles.Count, root.GetProperty("texts").GetInt32());
        Assert.Equal(2, root.GetProperty("inputs").GetArrayLength());
        Assert.True(root.GetProperty("seconds").GetDouble() >= 0);
        var files = root.GetProperty("files").EnumerateArray().Select(f => f.GetString()).ToList();
        Assert.All(files, f => Assert.True(File.Exists(f)));

        var tokenizer = BpeTokenizerTrainer.Load(outDir);
        Assert.Equal(300, tokenizer.Vocabulary.Count);
        Assert.Equal("crème brûlée", tokenizer.Decode(tokenizer.EncodeToIds("crème brûlée")));

        (code, output, error) = Run("tokenizer", "compare", "--tokenizer", outDir, "--items", a, "--repeats", "1");
        Assert.True(code == 0, error);
        using var compared = JsonDocument.Parse(output);
        Assert.Equal(300, compared.RootElement.GetProperty("trained").GetProperty("vocab_size").GetInt32());
        Assert.Equal(50257, compared.RootElement.GetProperty("gpt2").GetProperty("vocab_size").GetInt32());
        Assert.True(compared.RootElement.GetProperty("trained").GetProperty("tokens_per_text_mean").GetDouble() > 1);
    }

    [Fact]
    public void ATooSmallVocabularyIsAUsageErrorNamingTheOption()
    {
        using var t = new TempFiles();
        var a = t.Write("a.tsv", ItemLines(["red lipstick"]));
        var (code, _, error) = Run("tokenizer", "train", "--items", a, "--vocab-size", "100", "--out", Path.Combine(t.Folder, "o"));
        Assert.Equal(2, code);
        Assert.Contains("option '--vocab-size' must be at least 257", error);
    }

    [Fact]
    public void AnItemFileWithoutTextIsADataErrorNamingTheFile()
    {
        using var t = new TempFiles();
        var a = t.Write("a.tsv", "item_id\tasin", "1\tB01", "2\tB02");
        var (code, _, error) = Run("tokenizer", "train", "--items", a, "--out", Path.Combine(t.Folder, "o"));
        Assert.Equal(1, code);
        Assert.Contains("a.tsv", error);
        Assert.Contains("no text field", error);
    }

    [Fact]
    public void SrtTrainUsesTheTrainedTokenizerAndTheSavedModelCarriesIt()
    {
        using var t = new TempFiles();
        var (sequences, items) = TrainCommandTests.TinyFiles();
        var seq = t.Write("s.txt", sequences);
        var itemFile = t.Write("items.tsv", items);
        var tokDir = Path.Combine(t.Folder, "tok");
        var (code, output, error) = Run("tokenizer", "train", "--items", itemFile, "--vocab-size", "270", "--out", tokDir);
        Assert.True(code == 0, error);
        int size = JsonDocument.Parse(output).RootElement.GetProperty("vocab_size").GetInt32();

        var modelPath = Path.Combine(t.Folder, "model.zip");
        (code, _, error) = Run(["train", "--interactions", seq, "--items", itemFile, "--negatives", "5", "--tokenizer", tokDir, "--model", modelPath, .. TrainCommandTests.Tiny]);
        Assert.True(code == 0, error);
        using var model = SrtModel.Load(modelPath, "cpu");
        Assert.Equal(size + 1, model.Featurizer.TextVocabularySize);
        var tokenizer = Assert.IsType<BpeTokenizer>(model.Featurizer.Tokenizer);
        Assert.Equal(BpeTokenizerTrainer.Load(tokDir).EncodeToIds("red lipstick"), tokenizer.EncodeToIds("red lipstick"));

        (code, _, error) = Run(["train", "--interactions", seq, "--items", itemFile, "--tokenizer", Path.Combine(t.Folder, "nope"), .. TrainCommandTests.Tiny]);
        Assert.Equal(2, code);
        Assert.Contains("option '--tokenizer'", error);
        Assert.Contains("vocab.json", error);
    }
}
