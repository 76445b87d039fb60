using System.Diagnostics;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Scoring;
using Xunit.Abstractions;

namespace Microsoft.ML.Srt.Tests.Persistence;

/// <summary>
/// The test assembly's own entry point (the test SDK's generated one is turned off in the project file), so that a test
/// can score with a model in a fresh process: <c>dotnet Microsoft.ML.Srt.Tests.dll score MODEL HISTORIES OUT</c>.
/// With no arguments it does nothing, as the generated one did.
/// </summary>
public static class TestProgram
{
    public static int Main(string[] args)
    {
        if (args is not ["score", var model, var histories, var output]) return args.Length == 0 ? 0 : 2;
        using var loaded = SrtModel.Load(model, "cpu");
        FreshProcessScoringTests.WriteScores(loaded, FreshProcessScoringTests.ReadHistories(histories), output);
        return 0;
    }
}

/// <summary>
/// The host-numerics target (docs/build.md, "Numerics across hosts"): over 1,000 histories, a model and its saved-and-loaded
/// copy in one process score bit for bit alike; a fresh process that loads the file gives the same top-10 and every score
/// within 1e-6 (<see cref="ScoreAgreement.Tolerance"/>).
/// </summary>
public class FreshProcessScoringTests(TinyModelFixture fixture, ITestOutputHelper output) : IClassFixture<TinyModelFixture>
{
    private const int Histories = 1000, TopK = 10, Chunk = 250;

    [Fact]
    public void OneThousandHistoriesScoreBitwiseAfterAReloadAndWithinTheToleranceInAFreshProcess()
    {
        using var t = new TempFiles();
        var model = fixture.Model;
        var random = new Random(13);
        var histories = Enumerable.Range(0, Histories)
            .Select(_ => Enumerable.Range(0, 1 + random.Next(model.MaxLength + 4)).Select(_ => random.Next(model.Catalog.Count)).ToArray()).ToList();
        var historiesPath = t.Write("histories.txt", string.Join('\n', histories.Select(h => string.Join(',', h))));
        var modelPath = Path.Combine(t.Folder, "model.zip");
        model.Save(modelPath);

        var trainedPath = Path.Combine(t.Folder, "trained.bin");
        WriteScores(model, histories, trainedPath);
        var trained = File.ReadAllBytes(trainedPath);

        // A saved-and-loaded copy in this process: the same computation on the same bytes, so the same bits.
        using (var loaded = SrtModel.Load(modelPath, "cpu"))
        {
            var reloadedPath = Path.Combine(t.Folder, "reloaded.bin");
            WriteScores(loaded, histories, reloadedPath);
            Assert.True(trained.AsSpan().SequenceEqual(File.ReadAllBytes(reloadedPath)), "the reloaded model's scores differ from the trained model's in some bit");
        }

        // A fresh process: the same top-10 (up to ties within the tolerance) and every score within it.
        var freshPath = Path.Combine(t.Folder, "fresh.bin");
        RunFreshProcess("score", modelPath, historiesPath, freshPath);
        var (expected, expectedAll) = ReadScores(trainedPath, model.Catalog.Count);
        var (fresh, freshAll) = ReadScores(freshPath, model.Catalog.Count);
        double maxDelta = 0;
        for (int k = 0; k < expectedAll.Length; k++) maxDelta = Math.Max(maxDelta, Math.Abs(expectedAll[k] - freshAll[k]));
        int sameTop = Enumerable.Range(0, Histories).Count(h => expected[h].Select(p => p.Item).SequenceEqual(fresh[h].Select(p => p.Item)));
        int bitwise = Enumerable.Range(0, expectedAll.Length).Count(k => BitConverter.SingleToInt32Bits(expectedAll[k]) == BitConverter.SingleToInt32Bits(freshAll[k]));
        output.WriteLine($"fresh process: max |Δ score| {maxDelta:E2} over {expectedAll.Length:N0} scores ({bitwise:N0} bitwise equal); " +
                         $"identical top-{TopK} for {sameTop} of {Histories} histories");
        ScoreAgreement.AssertClose(expectedAll, freshAll, "all scores, ");
        for (int h = 0; h < Histories; h++) ScoreAgreement.AssertSameTopK(expected[h], fresh[h], $"history {h}, top-{TopK}: ");
    }

    /// <summary>Each history's top-10 (<see cref="SrtModel.Recommend(IReadOnlyList{int[]}, int, bool)"/>), then every catalog
    /// item's score (<see cref="SrtModel.ScoreBatch"/>, <see cref="Chunk"/> histories a call), as raw little-endian values.</summary>
    internal static void WriteScores(SrtModel model, IReadOnlyList<int[]> histories, string path)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write(histories.Count);
        foreach (var top in model.Recommend(histories, TopK))
        {
            w.Write(top.Length);
            foreach (var (item, score) in top) { w.Write(item); w.Write(score); }
        }
        for (int start = 0; start < histories.Count; start += Chunk)
        {
            var chunk = histories.Skip(start).Take(Chunk).ToList();
            var scores = new float[chunk.Count * model.Catalog.Count];
            model.ScoreBatch(chunk, scores);
            foreach (var s in scores) w.Write(s);
        }
    }

    private static (List<(int Item, float Score)[]> Top, float[] All) ReadScores(string path, int items)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        int count = r.ReadInt32();
        var top = new List<(int, float)[]>(count);
        for (int h = 0; h < count; h++) top.Add(Enumerable.Range(0, r.ReadInt32()).Select(_ => (r.ReadInt32(), r.ReadSingle())).ToArray());
        var all = new float[count * items];
        for (int k = 0; k < all.Length; k++) all[k] = r.ReadSingle();
        Assert.Equal(r.BaseStream.Length, r.BaseStream.Position);
        return (top, all);
    }

    internal static List<int[]> ReadHistories(string path) =>
        File.ReadAllLines(path).Select(line => line.Split(',').Select(int.Parse).ToArray()).ToList();

    /// <summary>Runs this test assembly's <see cref="TestProgram"/> in a new process under the dotnet host.</summary>
    private static void RunFreshProcess(params string[] args)
    {
        var (code, stdout, stderr) = DotnetChildProcess.Run(typeof(TestProgram).Assembly.Location, args);
        Assert.True(code == 0, $"exit code {code}: {stdout}{stderr}");
    }
}
