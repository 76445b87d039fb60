using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
using Xunit.Abstractions;

namespace Microsoft.ML.Srt.Tests.Docs;

/// <summary>docs/quickstart.cs, the .NET 10 file-based app: <c>dotnet run docs/quickstart.cs OUTPUT_FOLDER</c> as a user runs it.</summary>
public sealed class QuickstartAppTests(ITestOutputHelper output)
{
    private static readonly string _root = RepositoryRoot();
    // A guard against a hang, not a speed target: training slows several-fold on a machine shared with other builds.
    private static readonly TimeSpan _timeLimit = TimeSpan.FromMinutes(10);
    private static readonly CultureInfo _invariant = CultureInfo.InvariantCulture;

    [Fact]
    public void FileBasedAppTrainsEvaluatesRecommendsAndPlotsTheValidationCurve()
    {
        using var t = new TempFiles();
        var outputFolder = Path.Combine(t.Folder, "quickstart output"); // a space: the path must travel as one argument
        var (stdout, seconds) = RunApp(outputFolder);
        output.WriteLine($"dotnet run docs/quickstart.cs: {seconds:F1} s (build included)");
        output.WriteLine(stdout);
        var lines = stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();

        // The data it describes is the seeded synthetic set, split leave-one-out.
        var generator = new SyntheticDataGenerator(new SyntheticDataOptions { Seed = 42, UserCount = 2_000, ItemCount = 500 });
        var (catalog, sequences) = generator.Generate();
        var split = UserSplits.LeaveOneOut(sequences);
        Assert.Contains(string.Create(_invariant,
            $"{sequences.UserCount:N0} users, {catalog.Count:N0} items, {sequences.InteractionCount:N0} interactions; {split.Test.Count:N0} test users."), stdout);

        // One line per epoch, as training reported it; the kept epoch is the last one marked best.
        var epochs = lines.Select(l => Regex.Match(l, @"^\s+epoch\s+(\d+)/(\d+)\s+loss (\S+)\s+val NDCG@10 (\S+)\s+\S+ s(\s+\*)?$"))
            .Where(m => m.Success).ToList();
        Assert.Equal(Enumerable.Range(1, 20), epochs.Select(m => int.Parse(m.Groups[1].Value, _invariant)));
        Assert.All(epochs, m => Assert.Equal("20", m.Groups[2].Value));
        Assert.All(epochs, m => Assert.InRange(Number(m.Groups[4].Value), 0, 1));
        Assert.True(Number(epochs[^1].Groups[3].Value) < Number(epochs[0].Groups[3].Value), "the training loss did not fall");
        int lastBest = int.Parse(epochs.Last(m => m.Groups[5].Success).Groups[1].Value, _invariant);
        Assert.Matches($@"^Trained in \S+ s; kept epoch {lastBest} \(best validation NDCG@10\)\.$", Assert.Single(lines, l => l.StartsWith("Trained in", StringComparison.Ordinal)));

        // Metrics: every test user; SRT above popularity; popularity as this process computes it (no torch: the same numbers).
        Assert.Contains(string.Create(_invariant, $"Test: {split.Test.Count:N0} users, full ranking over {catalog.Count:N0} items"), stdout);
        var srt = MetricsRow(lines, "SRT");
        var popularity = MetricsRow(lines, "popularity");
        Assert.All(srt, v => Assert.InRange(v, 0, 1));
        Assert.True(srt[0] > popularity[0], $"SRT NDCG@10 {srt[0]} is not above popularity's {popularity[0]}");
        var expected = new MLContext().Recommendation().Evaluate(PopularityRecommender.Fit(split.Train),
            DataViewInteractionReader.ToDataView(sequences), new SrtEvaluationOptions { TimestampColumnName = "Timestamp", Ks = [10], MaskHistory = false });
        Assert.Equal(new[] { expected.Ndcg[10], expected.Hit[10], expected.Mrr }.Select(v => v.ToString("F4", _invariant)),
            popularity.Select(v => v.ToString("F4", _invariant)));

        // The first user's last five items (what training saw), then ten recommendations with their catalog titles and
        // brands, best first, none already in the history.
        int brand = catalog.TextFields.ToList().IndexOf(SyntheticDataGenerator.BrandField);
        string Describe(int i) => $"{catalog.GetId(i)}  {catalog.GetTitle(i)} [{catalog.GetText(i, brand)}]";
        var sequence = sequences.GetSequence(0).ToArray();
        Assert.True(sequence.Length >= LeaveOneOutSplit.MinimumEvaluatedLength, "the first user has no test item");
        var seen = sequence[..^1];
        int header = lines.IndexOf($"User {sequences.UserIds[0]} recently bought (oldest first):");
        Assert.True(header >= 0, "the user's history is missing");
        Assert.Equal(seen.TakeLast(5).Select(i => "      " + Describe(i)), lines.Skip(header + 1).Take(5));
        Assert.Equal("Top-10 recommendations:", lines[header + 6]);
        var recommended = lines.Skip(header + 7).Take(10)
            .Select(l => Regex.Match(l, @"^\s*(\d+)\. (\S+)  (.+)  \(score (\S+)\)(  <- held-out next item)?$")).ToList();
        Assert.All(recommended, m => Assert.True(m.Success, $"not a recommendation line: '{m.Value}'"));
        Assert.Equal(Enumerable.Range(1, 10), recommended.Select(m => int.Parse(m.Groups[1].Value, _invariant)));
        var ids = recommended.Select(m => m.Groups[2].Value).ToList();
        Assert.Equal(10, ids.Distinct().Count());
        foreach (var m in recommended)
        {
            Assert.True(catalog.TryGetIndex(m.Groups[2].Value, out int i), $"'{m.Groups[2].Value}' is not in the catalog");
            Assert.Equal(Describe(i), $"{m.Groups[2].Value}  {m.Groups[3].Value}");
            Assert.DoesNotContain(i, seen);
            Assert.Equal(i == sequence[^1], m.Groups[5].Success);
        }
        var scores = recommended.Select(m => Number(m.Groups[4].Value)).ToList();
        Assert.Equal(scores.OrderDescending(), scores);

        // The plot: where it said, a whole PNG of the size it asked for, with more in it than a blank canvas.
        var png = Path.Combine(outputFolder, "quickstart-validation-ndcg10.png");
        Assert.Equal($"Validation curve: {png}", lines.Last(l => l.Length > 0));
        var (width, height, bytes) = CheckPng(png);
        output.WriteLine($"{png}: {width} x {height}, {bytes:N0} bytes");
        Assert.Equal((800, 450), (width, height));
        Assert.InRange(bytes, 10_000, 2_000_000);
    }

    /// <summary>Runs the app as a user would, with the configuration this test was built in (Release: the library is already built).</summary>
    private (string Stdout, double Seconds) RunApp(string outputFolder)
    {
        var testOutput = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)); // bin/<configuration>/<framework>/<rid>
        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = _root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "run", "-c", testOutput.Parent!.Parent!.Name, "docs/quickstart.cs", "--", outputFolder }) start.ArgumentList.Add(a);
        // Build nodes that outlive the run would hold on to this test host's output pipes.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(_timeLimit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet run docs/quickstart.cs did not finish within {_timeLimit.TotalMinutes} minutes. Output so far:\n{stdout.Result}\n{stderr.Result}");
        }
        Assert.True(process.ExitCode == 0, $"dotnet run docs/quickstart.cs exited with {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        return (stdout.Result, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Reads a PNG's chunks: the signature, an 8-bit RGB(A) IHDR first, IDAT whose zlib stream inflates to exactly one
    /// filter byte plus one row of pixels per line, IEND last. Returns the size and the file's length.
    /// </summary>
    private static (int Width, int Height, long Bytes) CheckPng(string path)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        var png = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        int at = 8, width = 0, height = 0, channels = 0;
        var chunks = new List<string>();
        using var idat = new MemoryStream();
        while (at < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            Assert.InRange(at + 12 + length, 0, png.Length);
            var data = png.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]); // bit depth
                channels = data[9] switch { 2 => 3, 6 => 4, var c => throw new InvalidDataException($"colour type {c}") };
            }
            if (type == "IDAT") idat.Write(data);
            chunks.Add(type);
            at += 12 + length;
        }
        Assert.Equal("IHDR", chunks[0]);
        Assert.Equal("IEND", chunks[^1]);
        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionMode.Decompress)) zlib.CopyTo(inflated);
        Assert.Equal((long)height * (1 + width * channels), inflated.Length);
        return (width, height, png.LongLength);
    }

    /// <summary>NDCG@10, HIT@10 and MRR from the metrics table row of <paramref name="model"/>.</summary>
    private static double[] MetricsRow(List<string> lines, string model)
    {
        var m = Regex.Match(Assert.Single(lines, l => Regex.IsMatch(l, $@"^\s+{model}\s+\d")), $@"^\s+{model}\s+(\S+)\s+(\S+)\s+(\S+)$");
        Assert.True(m.Success, $"no metrics row for {model}");
        return [Number(m.Groups[1].Value), Number(m.Groups[2].Value), Number(m.Groups[3].Value)];
    }

    private static double Number(string text) => double.Parse(text, NumberStyles.Float, _invariant);

    private static string DotnetHost()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host)) return host;
        return Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.Srt.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No Microsoft.ML.Srt.sln above {AppContext.BaseDirectory}.");
    }
}
