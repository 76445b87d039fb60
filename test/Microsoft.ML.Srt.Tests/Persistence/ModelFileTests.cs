using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Persistence;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Scoring;
using Microsoft.ML.Srt.Training;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Srt.Tests.Persistence;

/// <summary>One tiny model trained once (synthetic data with title, brand and a token-list field), shared by the tests.</summary>
public sealed class TinyModelFixture : IDisposable
{
    public TinyModelFixture()
    {
        var generator = new SyntheticDataGenerator(new SyntheticDataOptions { Seed = 5, ItemCount = 200, UserCount = 150 });
        var (_, sequences) = generator.Generate();
        Split = UserSplits.LeaveOneOut(sequences);
        var trainer = new SrtTrainer(new SrtTrainer.Options
        {
            Dimension = 16, Layers = 1, Heads = 1, Epochs = 1, BatchSize = 32, Negatives = 20, MaxLength = 20,
            Device = "cpu", TokenFieldTableSize = 64, TokenFieldHashBuckets = 8,
        });
        Model = trainer.Train(Split.Train, Split.Validation);
        Bytes = Save(Model);
    }

    public LeaveOneOutSplit Split { get; }

    public SrtModel Model { get; }

    /// <summary>The model saved to memory.</summary>
    public byte[] Bytes { get; }

    public static byte[] Save(SrtModel model)
    {
        using var ms = new MemoryStream();
        model.Save(ms);
        return ms.ToArray();
    }

    public void Dispose() => Model.Dispose();
}

public class ModelFileTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    private readonly SrtModel _model = fixture.Model;

    [Fact]
    public void RoundTripGivesBitwiseEqualScoresAndEqualMetrics()
    {
        using var t = new TempFiles();
        var path = Path.Combine(t.Folder, "sub", "model.zip");
        _model.Save(path);
        using var loaded = SrtModel.Load(path, "cpu");

        Assert.Equal(_model.Catalog.Ids, loaded.Catalog.Ids);
        Assert.Equal(_model.Catalog.TextFields, loaded.Catalog.TextFields);
        Assert.Equal(_model.Catalog.TokenFields, loaded.Catalog.TokenFields);
        for (int i = 0; i < _model.Catalog.Count; i += 17)
        {
            Assert.Equal(_model.Catalog.GetText(i, 0), loaded.Catalog.GetText(i, 0));
            Assert.Equal(_model.Catalog.GetTokens(i, 0), loaded.Catalog.GetTokens(i, 0));
        }
        Assert.Equal(_model.ParameterCount, loaded.ParameterCount);
        Assert.Equal(_model.CosineSimilarity, loaded.CosineSimilarity);
        Assert.Equal(_model.MaxLength, loaded.MaxLength);
        Assert.Equal(_model.Featurizer.Fields, loaded.Featurizer.Fields);
        Assert.Equal(_model.Featurizer.TextFieldCaps, loaded.Featurizer.TextFieldCaps);
        var vocab = _model.Featurizer.TokenFieldVocabularies.Single();
        Assert.Equal(vocab.Value.ExactTokens, loaded.Featurizer.TokenFieldVocabularies[vocab.Key].ExactTokens);
        Assert.Equal(_model.TrainingSummary!.BestEpoch, loaded.TrainingSummary!.BestEpoch);
        Assert.Equal(_model.TrainingSummary.Epochs[0].TrainLoss, loaded.TrainingSummary.Epochs[0].TrainLoss);

        var test = fixture.Split.Test;
        for (int k = 0; k < test.Count; k += 7)
        {
            var history = test.GetHistory(k);
            var a = _model.Recommend(history, 20);
            var b = loaded.Recommend(history, 20);
            Assert.Equal(a.Select(p => p.Item), b.Select(p => p.Item));
            Assert.Equal(a.Select(p => BitConverter.SingleToInt32Bits(p.Score)), b.Select(p => BitConverter.SingleToInt32Bits(p.Score)));
        }

        var expected = _model.Evaluate(test);
        var onLoaded = new EvaluationCases(test.Source.WithCatalog(loaded.Catalog), test.Users, test.HistoryLengths, test.Targets);
        var actual = loaded.Evaluate(onLoaded);
        Assert.Equal(expected.Ndcg, actual.Ndcg);
        Assert.Equal(expected.Hit, actual.Hit);
        Assert.Equal(expected.Mrr, actual.Mrr);
    }

    [Fact]
    public void EveryWeightOfATrainedAndOfALoadedModelStartsOn64Bytes()
    {
        // The same computation on the same bytes gives the same bits only if the bytes are placed alike (libtorch's
        // kernels may round differently for operands off a 64-byte boundary): see AlignedStorage.
        static void AssertAligned(SrtNetwork network, string which)
        {
            foreach (var (name, tensor) in network.state_dict())
                if (tensor.dtype == TorchSharp.torch.ScalarType.Float32)
                    Assert.True(AlignedStorage.Address(tensor) % AlignedStorage.Bytes == 0,
                        $"{which}: {name} starts {AlignedStorage.Address(tensor) % AlignedStorage.Bytes} bytes past a 64-byte boundary");
        }
        // The trained model's dense parameters are still slices of the optimizer's one buffer: the case padding is for.
        var trained = _model.Network;
        var perStorage = trained.parameters().GroupBy(p => (long)p.storage<float>().data_ptr()).Max(g => g.Count());
        Assert.True(perStorage > 10, $"expected the dense parameters in one buffer; at most {perStorage} share one");
        AssertAligned(trained, "trained");
        using var loaded = SrtModel.Load(new MemoryStream(fixture.Bytes), "cpu");
        AssertAligned(loaded.Network, "loaded");
    }

    [Fact]
    public void StreamRoundTripAndManifestDescribeTheModel()
    {
        using (var loaded = SrtModel.Load(new MemoryStream(fixture.Bytes), "cpu"))
            Assert.Equal(_model.Recommend(fixture.Split.Test.GetHistory(0), 5), loaded.Recommend(fixture.Split.Test.GetHistory(0), 5));

        using var zip = new ZipArchive(new MemoryStream(fixture.Bytes));
        Assert.Equal(
            new[] { SrtModelFile.ManifestEntry, SrtModelFile.FeaturizerEntry, SrtModelFile.WeightsEntry, SrtModelFile.CatalogEntry, SrtModelFile.TokensEntry, SrtModelFile.SummaryEntry, SrtModelFile.PopularityEntry },
            zip.Entries.Select(e => e.FullName));
        var manifest = JsonNode.Parse(Read(zip, SrtModelFile.ManifestEntry))!;
        Assert.Equal("srt-model", manifest["format"]!.GetValue<string>());
        Assert.Equal(1, manifest["version"]!.GetValue<int>());
        Assert.Equal("cosine", manifest["similarity"]!.GetValue<string>());
        Assert.Equal("gpt2", manifest["tokenizer"]!.GetValue<string>());
        Assert.Equal(16, manifest["shape"]!["dimension"]!.GetValue<int>());
        foreach (var name in new[] { SrtModelFile.FeaturizerEntry, SrtModelFile.WeightsEntry, SrtModelFile.CatalogEntry, SrtModelFile.TokensEntry, SrtModelFile.PopularityEntry })
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Read(zip, name))), manifest["entries"]![name]!["sha256"]!.GetValue<string>());
    }

    [Fact]
    public void StoredCatalogTokensAreTheFeaturizersAndFilesWithoutThemAreTokenizedAtLoad()
    {
        // tokens.bin holds exactly what the featurizer makes of the catalog: [items + 1, width] int32 rows per field.
        using (var zip = new ZipArchive(new MemoryStream(fixture.Bytes)))
        {
            var stored = Read(zip, SrtModelFile.TokensEntry);
            var expected = _model.Featurizer.Featurize(_model.Catalog);
            using var r = new BinaryReader(new MemoryStream(stored));
            Assert.Equal(0x54545253u, r.ReadUInt32());
            Assert.Equal(1u, r.ReadUInt32());
            Assert.Equal(expected.Count, r.ReadInt32());
            foreach (var m in expected)
            {
                Assert.Equal(m.Field, r.ReadString());
                Assert.Equal(m.IsText, r.ReadByte() == 1);
                Assert.Equal(m.Width, r.ReadInt32());
                Assert.Equal(m.Rows, r.ReadInt32());
                Assert.Equal(m.Tokens, Enumerable.Range(0, m.Tokens.Length).Select(_ => (long)r.ReadInt32()));
            }
            Assert.Equal(stored.Length, r.BaseStream.Position);
        }

        // A file without the entry (as written before it existed) tokenizes its catalog at load and scores the same.
        var without = Rewrite(fixture.Bytes, manifest: m => ((JsonObject)m["entries"]!).Remove(SrtModelFile.TokensEntry),
            entry: (SrtModelFile.TokensEntry, null), rehash: false);
        using (var old = SrtModel.Load(new MemoryStream(without), "cpu"))
        using (var current = SrtModel.Load(new MemoryStream(fixture.Bytes), "cpu"))
            for (int k = 0; k < fixture.Split.Test.Count; k += 11)
            {
                var history = fixture.Split.Test.GetHistory(k);
                Assert.Equal(_model.Recommend(history, 10), current.Recommend(history, 10));
                Assert.Equal(_model.Recommend(history, 10), old.Recommend(history, 10));
            }

        // A stored row outside its table is refused with a message naming the entry and the field, before torch sees it.
        var outOfRange = Rewrite(fixture.Bytes, entry: (SrtModelFile.TokensEntry, d =>
        {
            var copy = d.ToArray();
            var firstField = _model.Featurizer.Featurize(_model.Catalog)[0];
            int headerBytes = 12 + 1 + System.Text.Encoding.UTF8.GetByteCount(firstField.Field) + 1 + 4 + 4;
            BitConverter.GetBytes(int.MaxValue).CopyTo(copy, headerBytes + 4 * firstField.Width); // item 0's first token
            return copy;
        }));
        var e = Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(outOfRange), "cpu"));
        Assert.Contains(SrtModelFile.TokensEntry, e.Message);
        Assert.Contains($"field '{_model.Featurizer.Fields[0]}'", e.Message);
    }

    [Fact]
    public void TruncatedFilesAreRejectedWithClearErrors()
    {
        using var t = new TempFiles();
        var bytes = fixture.Bytes;
        foreach (var length in new[] { 0, 10, 200, bytes.Length / 3, bytes.Length / 2, bytes.Length - 30, bytes.Length - 1 })
        {
            var path = Path.Combine(t.Folder, $"cut{length}.zip");
            File.WriteAllBytes(path, bytes[..length]);
            var e = Assert.Throws<InvalidDataException>(() => SrtModel.Load(path, "cpu"));
            Assert.Contains(path, e.Message);
            Assert.Contains("not a valid SRT model file", e.Message);
        }
    }

    [Fact]
    public void ForeignFilesAreRejected()
    {
        using var t = new TempFiles();
        var text = t.Write("notes.zip", "just text, not a zip");
        var e = Assert.Throws<InvalidDataException>(() => SrtModel.Load(text, "cpu"));
        Assert.Contains(text, e.Message);
        Assert.Contains("not a zip", e.Message);

        var other = Path.Combine(t.Folder, "other.zip");
        using (var zip = ZipFile.Open(other, ZipArchiveMode.Create))
        using (var w = new StreamWriter(zip.CreateEntry("readme.txt").Open()))
            w.Write("hello");
        e = Assert.Throws<InvalidDataException>(() => SrtModel.Load(other, "cpu"));
        Assert.Contains("no manifest.json", e.Message);
        Assert.Contains("readme.txt", e.Message);

        var wrongFormat = Rewrite(fixture.Bytes, manifest: m => m["format"] = "onnx-model");
        e = Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(wrongFormat), "cpu"));
        Assert.Contains("format 'onnx-model'", e.Message);
    }

    [Fact]
    public void WrongVersionIsRejected()
    {
        var newer = Rewrite(fixture.Bytes, manifest: m => m["version"] = 2);
        var e = Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(newer), "cpu"));
        Assert.Contains("version 2 is newer", e.Message);
        var zero = Rewrite(fixture.Bytes, manifest: m => m["version"] = 0);
        Assert.Contains("version 0", Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(zero), "cpu")).Message);
    }

    [Fact]
    public void ChangedEntriesAreDetectedByTheirHash()
    {
        foreach (var name in new[] { SrtModelFile.WeightsEntry, SrtModelFile.CatalogEntry, SrtModelFile.FeaturizerEntry })
        {
            var tampered = Rewrite(fixture.Bytes, entry: (name, data => { data[data.Length / 2] ^= 0x20; return data; }), rehash: false);
            var e = Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(tampered), "cpu"));
            Assert.Contains($"'{name}' was changed or damaged", e.Message);
        }
        var missing = Rewrite(fixture.Bytes, entry: (SrtModelFile.CatalogEntry, null), rehash: false);
        Assert.Contains("missing", Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(missing), "cpu")).Message);
    }

    [Fact]
    public void InconsistentContentIsRejectedBeforeTorchSeesIt()
    {
        // Shapes changed in the manifest (which the hashes do not cover).
        var wider = Rewrite(fixture.Bytes, manifest: m => m["shape"]!["dimension"] = 32);
        Assert.Contains("shape", Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(wider), "cpu")).Message);
        var deeper = Rewrite(fixture.Bytes, manifest: m => m["shape"]!["layers"] = 2);
        Assert.Contains("shape", Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(deeper), "cpu")).Message);
        var huge = Rewrite(fixture.Bytes, manifest: m => m["shape"]!["text_vocabulary_size"] = 2_000_000_000);
        Assert.Contains("inconsistent", Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(huge), "cpu")).Message);
        var heads = Rewrite(fixture.Bytes, manifest: m => m["shape"]!["heads"] = 3);
        Assert.Contains("multiple of heads", Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(heads), "cpu")).Message);

        // Entries changed with the hashes recomputed: the structural checks still hold.
        var cutWeights = Rewrite(fixture.Bytes, entry: (SrtModelFile.WeightsEntry, d => d[..(d.Length - 100)]), rehash: true);
        Assert.Contains("weights.bin is malformed", Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(cutWeights), "cpu")).Message);
        var fewerItems = Rewrite(fixture.Bytes, entry: (SrtModelFile.CatalogEntry, d => Encoding.UTF8.GetBytes(
            string.Join('\n', Encoding.UTF8.GetString(d).Split('\n').SkipLast(3)) + "\n")), rehash: true);
        Assert.Contains("catalog.jsonl", Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(fewerItems), "cpu")).Message);
        var badJson = Rewrite(fixture.Bytes, entry: (SrtModelFile.FeaturizerEntry, _ => "{ not json"u8.ToArray()), rehash: true);
        Assert.Contains("not a valid SRT model file", Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(badJson), "cpu")).Message);
    }

    [Fact]
    public void FailedSaveLeavesNoFileAndKeepsAnExistingOne()
    {
        using var t = new TempFiles();
        var target = Path.Combine(t.Folder, "model.zip");
        Assert.Throws<IOException>(() => SrtModelFile.Save(_model, target, s => new FailingStream(s, 5000)));
        Assert.False(File.Exists(target));
        Assert.Empty(Directory.GetFiles(t.Folder));

        File.WriteAllText(target, "previous model");
        Assert.Throws<IOException>(() => SrtModelFile.Save(_model, target, s => new FailingStream(s, 5000)));
        Assert.Equal("previous model", File.ReadAllText(target));
        Assert.Single(Directory.GetFiles(t.Folder));

        _model.Save(target); // overwrites
        using var loaded = SrtModel.Load(target, "cpu");
        Assert.Single(Directory.GetFiles(t.Folder));
    }

    [Fact]
    public void CustomTokenizerIsRejectedAtSave()
    {
        var custom = BpeTokenizer.Create(new MemoryStream("{\"a\": 0, \"b\": 1, \"ab\": 2}"u8.ToArray()), new MemoryStream("#version: 0.2\na b\n"u8.ToArray()));
        var f = _model.Featurizer;
        var featurizer = new ItemFeaturizer(custom, f.TextVocabularySize, f.TextFieldCaps, f.TokenFieldVocabularies, f.TokenFieldCap);
        using var model = new SrtModel(new SrtNetwork(_model.Network.Shape), featurizer, _model.Catalog, true, TorchSharp.torch.CPU, null);
        using var t = new TempFiles();
        var target = Path.Combine(t.Folder, "custom.zip");
        var e = Assert.Throws<NotSupportedException>(() => model.Save(target));
        Assert.Contains("Options.Tokenizer", e.Message);
        Assert.False(File.Exists(target));
        Assert.Empty(Directory.GetFiles(t.Folder));
        Assert.Throws<NotSupportedException>(() => model.Save(new MemoryStream()));
    }

    [Fact]
    public void FilesWrittenBeforeTheRepeatBiasLoadWithABiasOfZero()
    {
        // The fixture's model learned some bias; a file without the tensor (as written before 2026-11-28) must load, score as if it
        // were zero, and otherwise score exactly as before (one process, the same bytes: bit for bit). Any other missing tensor
        // is still an error.
        Assert.NotEqual(0f, _model.RepeatBias);
        var withoutBias = Rewrite(fixture.Bytes, entry: (SrtModelFile.WeightsEntry, d => DropTensor(d, SrtNetwork.RepeatBiasName)));
        using var loaded = SrtModel.Load(new MemoryStream(withoutBias), "cpu");
        Assert.Equal(0f, loaded.RepeatBias);

        var history = fixture.Split.Test.GetHistory(0);
        Assert.False(history.IsEmpty);
        var items = Enumerable.Range(0, _model.Catalog.Count).ToArray();
        var original = _model.Score(history, items);
        var old = loaded.Score(history, items);
        for (int i = 0; i < items.Length; i++)
        {
            if (!history.Contains(i)) { Assert.Equal(BitConverter.SingleToInt32Bits(original[i]), BitConverter.SingleToInt32Bits(old[i])); continue; }
            // (s + b) - b rounds: within the score tolerance.
            float expected = original[i] - _model.RepeatBias;
            Assert.True(ScoreAgreement.Close(expected, old[i]), $"item {i}: {expected} vs {old[i]}");
        }

        var noAdapter = Rewrite(fixture.Bytes, entry: (SrtModelFile.WeightsEntry, d => DropTensor(d, "items.adapter.weight")));
        var e = Assert.Throws<InvalidDataException>(() => SrtModel.Load(new MemoryStream(noAdapter), "cpu"));
        Assert.Contains("lacks the tensor 'items.adapter.weight'", e.Message);
    }

    /// <summary>weights.bin without one named tensor (format: magic, version, count, then name, dtype, rank, dims, raw bytes per tensor).</summary>
    private static byte[] DropTensor(byte[] weights, string name)
    {
        using var r = new BinaryReader(new MemoryStream(weights));
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(r.ReadUInt32());
            w.Write(r.ReadUInt32());
            int count = r.ReadInt32();
            var kept = new List<(string, byte, long[], byte[])>();
            for (int t = 0; t < count; t++)
            {
                string tensorName = r.ReadString();
                byte type = r.ReadByte();
                var dims = new long[r.ReadInt32()];
                for (int k = 0; k < dims.Length; k++) dims[k] = r.ReadInt64();
                int size = type switch { 6 => 4, 7 => 8, 3 => 4, 4 => 8, 11 => 1, _ => throw new InvalidDataException($"dtype {type}") };
                var data = r.ReadBytes((int)(dims.Aggregate(1L, (a, x) => a * x) * size));
                if (tensorName != name) kept.Add((tensorName, type, dims, data));
            }
            Assert.Equal(count - 1, kept.Count); // the tensor was there
            w.Write(kept.Count);
            foreach (var (tensorName, type, dims, data) in kept)
            {
                w.Write(tensorName);
                w.Write(type);
                w.Write(dims.Length);
                foreach (var d in dims) w.Write(d);
                w.Write(data);
            }
        }
        return ms.ToArray();
    }

    private static byte[] Read(ZipArchive zip, string name)
    {
        using var s = zip.GetEntry(name)!.Open();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>A copy of a model file with the manifest and/or one entry changed (null removes the entry); optionally with hashes recomputed.</summary>
    internal static byte[] Rewrite(byte[] original, Action<JsonNode>? manifest = null, (string Name, Func<byte[], byte[]>? Change)? entry = null, bool rehash = true)
    {
        using var source = new ZipArchive(new MemoryStream(original));
        var contents = source.Entries.ToDictionary(e => e.FullName, e => Read(source, e.FullName));
        var m = JsonNode.Parse(contents[SrtModelFile.ManifestEntry])!;
        if (entry is { } change)
        {
            if (change.Change is null) contents.Remove(change.Name);
            else contents[change.Name] = change.Change(contents[change.Name]);
            if (rehash && change.Change is not null)
            {
                m["entries"]![change.Name]!["sha256"] = Convert.ToHexStringLower(SHA256.HashData(contents[change.Name]));
                m["entries"]![change.Name]!["bytes"] = contents[change.Name].LongLength;
            }
        }
        manifest?.Invoke(m);
        contents[SrtModelFile.ManifestEntry] = Encoding.UTF8.GetBytes(m.ToJsonString());
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, data) in contents)
                using (var s = zip.CreateEntry(name).Open())
                    s.Write(data);
        return ms.ToArray();
    }
}
