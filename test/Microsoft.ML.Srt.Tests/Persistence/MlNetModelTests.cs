using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Srt.Cli;
using Microsoft.ML.Srt.Persistence;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Api;
using Microsoft.ML.Srt.Tests.Scoring;

namespace Microsoft.ML.Srt.Tests.Persistence;

public sealed class HistoryTextRow
{
    public string UserId { get; set; } = "";
    public string HistoryText { get; set; } = "";
}

/// <summary>
/// One tiny SRT transformer trained through the ML.NET API, and a two-step ML.NET pipeline around it: ML.NET's word
/// tokenizer turns a text column of ids into the History vector, then SRT recommends.
/// </summary>
public sealed class MlNetPipelineFixture : IDisposable
{
    public MlNetPipelineFixture()
    {
        var ml = new MLContext(seed: 1);
        Srt = ml.Recommendation().Srt(TinyData.TinyOptions(ml)).Fit(ml.Data.LoadFromEnumerable(TinyData.Interactions()));
        var rows = TinyData.Interactions().GroupBy(r => r.UserId)
            .Select(g => new HistoryTextRow { UserId = g.Key, HistoryText = string.Join(' ', g.OrderBy(r => r.Timestamp).Select(r => r.ItemId)) })
            .Append(new HistoryTextRow { UserId = "unknown-items", HistoryText = "i3 nope i7" })
            .Append(new HistoryTextRow { UserId = "all-unknown", HistoryText = "nope" })
            .ToArray();
        Histories = ml.Data.LoadFromEnumerable(rows);
        var tokenizer = ml.Transforms.Text.TokenizeIntoWords("History", "HistoryText").Fit(Histories);
        Pipeline = tokenizer.Append<ITransformer>(Srt);
        using var ms = new MemoryStream();
        ml.Model.Save(Pipeline, Histories.Schema, ms);
        PipelineZip = ms.ToArray();
    }

    /// <summary>The pipeline saved with <c>mlContext.Model.Save</c> to memory.</summary>
    public byte[] PipelineZip { get; }

    public SrtTransformer Srt { get; }

    /// <summary>Rows with UserId and HistoryText (ids separated by spaces).</summary>
    public IDataView Histories { get; }

    public TransformerChain<ITransformer> Pipeline { get; }

    public void Dispose() => Srt.Dispose();
}

public class MlNetModelTests(MlNetPipelineFixture fixture) : IClassFixture<MlNetPipelineFixture>
{
    private static List<RecommendationRow> Recommend(ITransformer model, IDataView input) =>
        new MLContext().Data.CreateEnumerable<RecommendationRow>(model.Transform(input), reuseRowObject: false).ToList();

    private static void AssertSameRecommendations(List<RecommendationRow> expected, List<RecommendationRow> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].UserId, actual[i].UserId);
            Assert.Equal(expected[i].RecommendedItems, actual[i].RecommendedItems);
            Assert.Equal(expected[i].RecommendationScores.Select(BitConverter.SingleToInt32Bits), actual[i].RecommendationScores.Select(BitConverter.SingleToInt32Bits));
        }
    }

    private byte[] SavePipeline() => fixture.PipelineZip;

    /// <summary>Every exception in the chain (outer first).</summary>
    private static IEnumerable<Exception> Chain(Exception? e)
    {
        for (; e is not null; e = e.InnerException) yield return e;
    }

    [Fact]
    public void PipelineRoundTripsThroughModelSaveAndLoadWithIdenticalScores()
    {
        using var t = new TempFiles();
        var path = Path.Combine(t.Folder, "pipeline.zip");
        new MLContext().Model.Save(fixture.Pipeline, fixture.Histories.Schema, path);

        // A fresh MLContext and no registration call: ML.NET resolves the loader assembly the model header names.
        var ml = new MLContext();
        var loaded = ml.Model.Load(path, out var schema);
        var chain = Assert.IsAssignableFrom<IEnumerable<ITransformer>>(loaded).ToList();
        Assert.Equal(2, chain.Count);
        using var srt = Assert.IsType<SrtTransformer>(chain[1]);
        Assert.NotSame(fixture.Srt, srt);
        Assert.Equal(fixture.Srt.Model.ParameterCount, srt.Model.ParameterCount);
        Assert.Equal(fixture.Srt.Model.Catalog.Ids, srt.Model.Catalog.Ids);
        Assert.Equal(fixture.Srt.Model.Catalog.GetTitle(7), srt.Model.Catalog.GetTitle(7));
        Assert.Equal(fixture.Srt.TopK, srt.TopK);
        Assert.Equal(["UserId", "HistoryText"], schema.Select(c => c.Name));

        var expected = Recommend(fixture.Pipeline, fixture.Histories);
        var actual = Recommend(loaded, fixture.Histories);
        AssertSameRecommendations(expected, actual);
        Assert.Equal(5, actual[0].RecommendedItems.Length);
        Assert.Empty(actual.Single(r => r.UserId == "all-unknown").RecommendedItems);

        // The SRT part is an ordinary SRT model file inside the zip.
        using var zip = new ZipArchive(File.OpenRead(path));
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(SrtTransformerPersistence.ModelEntry, StringComparison.Ordinal));
        Assert.Equal("TransformerChain/Transform_001/SrtModel.zip", entry.FullName.Replace('\\', '/'));
        using var inner = new MemoryStream();
        using (var s = entry.Open()) s.CopyTo(inner);
        inner.Position = 0;
        using var model = SrtModel.Load(inner, "cpu");
        Assert.Equal(fixture.Srt.Model.Recommend([3, 4], 5), model.Recommend([3, 4], 5));
    }

    [Fact]
    public void EveryTransformerOptionIsSavedAndRestored()
    {
        // Every public option set to a value other than its default, found by reflection: an option added later is covered too.
        var options = new SrtTransformer.Options();
        var defaults = new SrtTransformer.Options();
        foreach (var field in typeof(SrtTransformer.Options).GetFields(BindingFlags.Instance | BindingFlags.Public))
        {
            object? value = field.GetValue(defaults) switch
            {
                string s => s + "Saved",
                null when field.FieldType == typeof(string) => field.Name + "Saved",
                bool b => !b,
                int i => i + 3,
                long l => l + 3,
                float f => f + 0.5f,
                double d => d + 0.5,
                Enum e => Enum.GetValues(field.FieldType).Cast<object>().First(v => !v.Equals(e)),
                var other => throw new InvalidOperationException($"Extend this test for option {field.Name} of type {field.FieldType.Name} ({other})."),
            };
            field.SetValue(options, value);
        }
        using var model = SrtModel.Load(new MemoryStream(TinyModelFixture.Save(fixture.Srt.Model)), "cpu");
        var transformer = new SrtTransformer(model, options);

        var ml = new MLContext();
        using var ms = new MemoryStream();
        ml.Model.Save(transformer, null, ms);
        ms.Position = 0;
        using var loaded = Assert.IsType<SrtTransformer>(ml.Model.Load(ms, out var schema));
        Assert.Null(schema);
        var restored = loaded.CopyOptions();
        foreach (var field in typeof(SrtTransformer.Options).GetFields(BindingFlags.Instance | BindingFlags.Public))
        {
            Assert.NotEqual(field.GetValue(defaults), field.GetValue(restored));
            Assert.Equal(field.GetValue(options), field.GetValue(restored));
        }
    }

    [Fact]
    public void MlNetInternalsThatPersistenceUsesAllExist()
    {
        // Fails loudly, listing them, when a Microsoft.ML upgrade renames or removes an internal member this library uses.
        Assert.Empty(MlNetInternals.MissingMembers());
        var loader = MlNetInternals.LoaderAssembly;
        Assert.Equal(MlNetInternals.LoaderAssemblyName, loader.GetName().Name);
        var attribute = Assert.Single(loader.GetCustomAttributes(), a => a.GetType().Name == "LoadableClassAttribute");
        Assert.Contains(attribute.GetType().GetProperty("LoadNames", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)?.GetValue(attribute) as string[] ?? [],
            n => n == SrtTransformerPersistence.Version.LoaderSignature);
        Assert.Equal(loader.FullName, Assembly.Load(MlNetInternals.LoaderAssemblyName).FullName); // what ML.NET's Assembly.Load gets

        // Registration is idempotent, and a registered context loads as well.
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterSrt();
        ml.ComponentCatalog.RegisterSrt();
        var loaded = ml.Model.Load(new MemoryStream(SavePipeline()), out _);
        using var srt = Assert.IsType<SrtTransformer>(Assert.IsAssignableFrom<IEnumerable<ITransformer>>(loaded).Last());
    }

    [Fact]
    public void TheLoadedMicrosoftMlIsASupportedVersion()
    {
        var found = MlNetInternals.LoadedVersion(typeof(MLContext).Assembly);
        Assert.NotNull(found);
        Assert.StartsWith("6.", found);
        Assert.Null(MlNetInternals.CompatibilityProblem(found, MlNetInternals.MissingMembers()));
        MlNetInternals.EnsureSupported();
    }

    [Theory]
    [InlineData("7.0.0")]
    [InlineData("5.0.1")]
    [InlineData("6.0.0-preview.1")]
    [InlineData("7.0.0-preview.2")]
    [InlineData(null)]
    public void AnUnsupportedMicrosoftMlVersionGetsAMessageNamingFoundAndSupportedVersions(string? found)
    {
        var message = MlNetInternals.CompatibilityProblem(found, []);
        Assert.NotNull(message);
        Assert.Contains($"Microsoft.ML {found ?? "of an unknown version"} is loaded", message);
        Assert.Contains("supports Microsoft.ML 6.x (6.0.0 or later, before 7.0.0)", message);
        Assert.Null(MlNetInternals.CompatibilityProblem("6.1.2", []));
        Assert.Null(MlNetInternals.CompatibilityProblem("6.2.0-preview.1", []));
    }

    [Fact]
    public void AMissingInternalMemberGetsAMessageNamingItAndTheVersions()
    {
        var message = MlNetInternals.CompatibilityProblem("6.3.0", ["ModelSaveContext.Writer", "type Microsoft.ML.VersionInfo"]);
        Assert.NotNull(message);
        Assert.Contains("Microsoft.ML 6.3.0 is loaded", message);
        Assert.Contains("6.x", message);
        Assert.Contains("ModelSaveContext.Writer; type Microsoft.ML.VersionInfo", message);
    }

    [Fact]
    public void FreshProcessLoadsTheZipAndPrintsTheSameRecommendations()
    {
        using var t = new TempFiles();
        var pipelinePath = Path.Combine(t.Folder, "pipeline.zip");
        new MLContext().Model.SaveAtomically(fixture.Pipeline, fixture.Histories.Schema, pipelinePath);
        var modelPath = Path.Combine(t.Folder, "srt-model.zip");
        fixture.Srt.Model.Save(modelPath);
        string[] history = ["i5", "i6", "i7"];

        // In process: the pipeline on a one-row text history, and the bare model on the same items.
        var ml = new MLContext();
        var row = ml.Data.LoadFromEnumerable([new HistoryTextRow { UserId = "u", HistoryText = string.Join(' ', history) }]);
        var expected = Recommend(fixture.Pipeline, row).Single();
        var catalog = fixture.Srt.Model.Catalog;
        var direct = fixture.Srt.Model.Recommend(history.Select(id => catalog.TryGetIndex(id, out int i) ? i : -1).ToArray(), 7);

        var (code, stdout, stderr) = RunSrt("recommend", "--model", pipelinePath, "--history", string.Join(',', history), "--input-column", "HistoryText", "--json");
        Assert.True(code == 0, stderr);
        using (var json = JsonDocument.Parse(stdout))
        {
            Assert.Equal("ml.net", json.RootElement.GetProperty("kind").GetString());
            var recommendations = json.RootElement.GetProperty("recommendations").EnumerateArray().ToList();
            // Another process: the same ranking within the stated tolerance, not bit for bit (docs/build.md).
            ScoreAgreement.AssertSameTopK(expected.RecommendedItems, expected.RecommendationScores,
                recommendations.Select(r => r.GetProperty("item").GetString()!).ToList(), recommendations.Select(r => r.GetProperty("score").GetSingle()).ToList());
            Assert.Equal(catalog.GetTitle(catalog.Ids.ToList().IndexOf(expected.RecommendedItems[0])), recommendations[0].GetProperty("title").GetString());
        }

        (code, stdout, stderr) = RunSrt("recommend", "--model", modelPath, "--history", string.Join(',', history), "-k", "7", "--json");
        Assert.True(code == 0, stderr);
        using (var json = JsonDocument.Parse(stdout))
        {
            Assert.Equal("srt-model", json.RootElement.GetProperty("kind").GetString());
            var recommendations = json.RootElement.GetProperty("recommendations").EnumerateArray().ToList();
            Assert.Equal(7, recommendations.Count);
            ScoreAgreement.AssertSameTopK(direct.Select(p => catalog.GetId(p.Item)).ToList(), direct.Select(p => p.Score).ToList(),
                recommendations.Select(r => r.GetProperty("item").GetString()!).ToList(), recommendations.Select(r => r.GetProperty("score").GetSingle()).ToList());
        }
        // The pipeline's top 5 are the model's top 5: the same network and catalog on both sides.
        ScoreAgreement.AssertSameTopK(expected.RecommendedItems, expected.RecommendationScores,
            direct.Take(5).Select(p => catalog.GetId(p.Item)).ToList(), direct.Take(5).Select(p => p.Score).ToList());
    }

    /// <summary>Runs the srt CLI built next to the tests (srt.dll) in a new process.</summary>
    private static (int Code, string Stdout, string Stderr) RunSrt(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "srt.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the test project references the CLI project, which puts it there.");
        return DotnetChildProcess.Run(dll, args);
    }

    [Fact]
    public void TruncatedAndForeignZipsFailWithExceptionsNotCrashes()
    {
        // These fail inside ML.NET before any SRT code runs: ML.NET's own exceptions (docs/model-files.md lists them).
        using var t = new TempFiles();
        var bytes = SavePipeline();
        var ml = new MLContext();
        foreach (var length in new[] { 0, 10, 300, bytes.Length / 3, bytes.Length / 2, bytes.Length - 40, bytes.Length - 1 })
        {
            var path = Path.Combine(t.Folder, $"cut{length}.zip");
            File.WriteAllBytes(path, bytes[..length]);
            var e = Assert.Throws<FormatException>(() => ml.Model.Load(path, out _));
            Assert.Contains("Failed to open a zip archive", e.Message);
            Assert.IsType<InvalidDataException>(e.InnerException);

            // The CLI reports it in one line naming the file.
            var error = new StringWriter();
            Assert.Equal(1, CliApp.Run(["recommend", "--model", path, "--history", "i1"], new StringWriter(), error));
            Assert.Contains(path, error.ToString());
            Assert.Contains("not a zip archive, or it is truncated", error.ToString());
        }

        var text = t.Write("notes.zip", "just text, not a zip");
        Assert.Throws<FormatException>(() => ml.Model.Load(text, out _));
        var other = Path.Combine(t.Folder, "other.zip");
        using (var zip = ZipFile.Open(other, ZipArchiveMode.Create))
        using (var w = new StreamWriter(zip.CreateEntry("readme.txt").Open()))
            w.Write("hello");
        var srtFile = Path.Combine(t.Folder, "srt-model.zip");
        fixture.Srt.Model.Save(srtFile);
        foreach (var foreign in new[] { other, srtFile })
            Assert.Contains("Could not load legacy format model", Assert.Throws<InvalidOperationException>(() => ml.Model.Load(foreign, out _)).Message);
        var error2 = new StringWriter();
        Assert.Equal(1, CliApp.Run(["recommend", "--model", other, "--history", "i1"], new StringWriter(), error2));
        Assert.Contains($"'{other}' cannot be loaded as an ML.NET model: ", error2.ToString());
    }

    /// <summary>The zip with <paramref name="edit"/> applied to the bytes of the entry ending in <paramref name="entryName"/>.</summary>
    private static byte[] Tamper(byte[] zipBytes, string entryName, Func<byte[], byte[]> edit)
    {
        var source = new ZipArchive(new MemoryStream(zipBytes));
        var output = new MemoryStream();
        using (var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in source.Entries)
            {
                using var ms = new MemoryStream();
                using (var s = entry.Open()) s.CopyTo(ms);
                var data = entry.FullName.Replace('\\', '/').EndsWith(entryName, StringComparison.Ordinal) ? edit(ms.ToArray()) : ms.ToArray();
                using var d = target.CreateEntry(entry.FullName).Open();
                d.Write(data);
            }
        }
        return output.ToArray();
    }

    /// <summary>Replaces <paramref name="from"/> by <paramref name="to"/> (same length: ML.NET's header records offsets) once.</summary>
    private static Func<byte[], byte[]> Replace(string from, string to) => data =>
    {
        Assert.Equal(from.Length, to.Length);
        var text = Encoding.Latin1.GetString(data);
        int at = text.IndexOf(from, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{from}' not found");
        return Encoding.Latin1.GetBytes(text[..at] + to + text[(at + from.Length)..]);
    };

    [Theory]
    [InlineData("SrtModel.zip", "flip", "Transform_001/SrtModel.zip' was changed or damaged: its SHA-256")]
    [InlineData("SrtModel.zip", "cut", "bytes; Model.key says")]
    [InlineData("Transform_001/Model.key", "\"TopK\": 5|\"TopK\": 0", "holds invalid options: SrtTransformer option TopK must be at least 1")]
    [InlineData("Transform_001/Model.key", "\"ExcludeHistory\"|\"ExcludeHistorX\"", "holds the option 'ExcludeHistorX', which this version")]
    [InlineData("Transform_001/Model.key", "\"version\": 1|\"version\": 7", "format version 7, newer than this library reads")]
    [InlineData("Transform_001/Model.key", "\"TopK\": 5|\"TopK\":{}", "bad value for the option 'TopK'")]
    [InlineData("Transform_001/Model.key", "\"TopK\": 5|\"TopK\": \"", "cannot be read")]
    [InlineData("Transform_001/Model.key", "srt-transformer|srt-transformex", "names format 'srt-transformex'")]
    public void TamperedZipsFailNamingTheEntry(string entry, string edit, string expected)
    {
        var bytes = SavePipeline();
        Func<byte[], byte[]> change = edit switch
        {
            "flip" => data => { var copy = data.ToArray(); copy[copy.Length / 2] ^= 0x40; return copy; },
            "cut" => data => data[..(data.Length - 100)],
            _ => Replace(edit.Split('|')[0], edit.Split('|')[1]),
        };
        var tampered = Tamper(bytes, entry, change);
        var e = Record.Exception(() => new MLContext().Model.Load(new MemoryStream(tampered), out _));
        Assert.NotNull(e);
        // ML.NET wraps loader exceptions in TargetInvocationExceptions; the base exception is the SRT error.
        Assert.IsType<TargetInvocationException>(e);
        var error = Assert.IsType<InvalidDataException>(e.GetBaseException());
        Assert.Contains("The SRT transformer in this ML.NET model zip cannot be loaded", error.Message);
        Assert.Contains(expected, error.Message.Replace('\\', '/'));

        using var t = new TempFiles();
        var path = Path.Combine(t.Folder, "tampered.zip");
        File.WriteAllBytes(path, tampered);
        var stderr = new StringWriter();
        Assert.Equal(1, CliApp.Run(["recommend", "--model", path, "--history", "i1"], new StringWriter(), stderr));
        Assert.Contains(path, stderr.ToString());
        Assert.Contains(expected, stderr.ToString().Replace('\\', '/'));
    }

    [Fact]
    public void SaveAtomicallyNeverLeavesAHalfWrittenZip()
    {
        using var t = new TempFiles();
        var path = Path.Combine(t.Folder, "sub", "model.zip");
        var ml = new MLContext();
        ml.Model.SaveAtomically(fixture.Pipeline, fixture.Histories.Schema, path);
        var good = File.ReadAllBytes(path);
        var loaded = ml.Model.Load(path, out _);
        using (Assert.IsType<SrtTransformer>(Assert.IsAssignableFrom<IEnumerable<ITransformer>>(loaded).Last())) { }

        // A save that fails part way: the old file is untouched and no temporary file is left.
        var failing = new FailingTransformer();
        Assert.Throws<IOException>(() => ml.Model.SaveAtomically(failing, null, path));
        Assert.Equal(good, File.ReadAllBytes(path));
        Assert.Equal(["model.zip"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));

        // ML.NET's own Save(..., path) writes in place: the same failure destroys the old file (why SaveAtomically exists).
        Assert.Throws<IOException>(() => ml.Model.Save(failing, null, path));
        Assert.NotEqual(good, File.ReadAllBytes(path));
    }

    private sealed class FailingTransformer : ITransformer
    {
        public bool IsRowToRowMapper => false;

        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => inputSchema;

        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => throw new NotSupportedException();

        public IDataView Transform(IDataView input) => input;

        public void Save(ModelSaveContext ctx) => throw new IOException("disk full (simulated)");
    }

    [Fact]
    public void RecommendCommandPrintsTitlesAndRejectsUnknownHistories()
    {
        using var t = new TempFiles();
        var path = Path.Combine(t.Folder, "pipeline.zip");
        File.WriteAllBytes(path, SavePipeline());
        var output = new StringWriter();
        Assert.Equal(0, CliApp.Run(["recommend", "--model", path, "--history", "i0,zzz,i1", "-k", "3", "--input-column", "HistoryText"], output, new StringWriter()));
        var text = output.ToString();
        Assert.Contains("ML.NET model zip; SrtTransformer with TopK 5", text);
        Assert.Contains("Skipped (not in the model's catalog): zzz", text);
        Assert.Contains("Top-3 recommendations:", text);
        Assert.Matches(@"\n   1\. i\d+  [a-z ]+ number \d  \(score -?\d\.\d{4}\)", text);

        var error = new StringWriter();
        Assert.Equal(1, CliApp.Run(["recommend", "--model", path, "--history", "x,y", "--input-column", "HistoryText"], new StringWriter(), error));
        Assert.Contains("none of the 2 item ids is in the model's catalog", error.ToString());
        Assert.Equal(2, CliApp.Run(["recommend", "--model", path, "--history", "i1", "-k", "0"], new StringWriter(), new StringWriter()));
        var help = new StringWriter();
        Assert.Equal(0, CliApp.Run(["recommend", "--help"], help, new StringWriter()));
        Assert.Contains("-k, --top-k <N>", help.ToString());
    }
}
