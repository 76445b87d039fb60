using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.ML.Srt.Training;
using Xunit.Abstractions;

namespace Microsoft.ML.Srt.Tests.Packaging;

/// <summary>
/// Packs the library the tests were built against into a folder feed, then builds samples/QuickApp (copied out of the
/// repository, so none of its build files apply) against that package and runs it. The package gets a version of its
/// own (VersionPrefix-sampletest.TIME.PID), so NuGet's global packages folder can never serve an older package of the
/// same version; that folder entry is deleted afterwards. Everything else (TorchSharp, libtorch, ML.NET) comes from
/// the global packages folder the test build already filled, so no large download happens here.
/// </summary>
public sealed class PackagedSampleFixture : IDisposable
{
    private static readonly TimeSpan _stepTimeout = TimeSpan.FromMinutes(5);

    public PackagedSampleFixture()
    {
        RepositoryRoot = FindRepositoryRoot();
        Folder = Path.Combine(Path.GetTempPath(), "srt-package-" + Guid.NewGuid().ToString("N"));
        var feed = Path.Combine(Folder, "artifacts", "packages");   // where samples/NuGet.config looks: ../artifacts/packages
        Directory.CreateDirectory(feed);
        CopySamples(Path.Combine(RepositoryRoot, "samples"), Path.Combine(Folder, "samples"));
        VersionPrefix = LibraryVersionPrefix();
        PackageVersion = string.Create(CultureInfo.InvariantCulture, $"{VersionPrefix}-sampletest.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}");
        var watch = Stopwatch.StartNew();

        // Pack what the tests were built against (this configuration, already built): no second compile.
        var configuration = typeof(PackagedSampleFixture).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        Pack = Dotnet(RepositoryRoot, "pack", Path.Combine(RepositoryRoot, "src", "Microsoft.ML.Srt", "Microsoft.ML.Srt.csproj"),
            "-c", configuration, "--no-build", "-o", feed, $"-p:PackageVersion={PackageVersion}");
        PackSeconds = watch.Elapsed.TotalSeconds;
        Package = Path.Combine(feed, $"Microsoft.ML.Srt.{PackageVersion}.nupkg");
        SymbolPackage = Path.Combine(feed, $"Microsoft.ML.Srt.{PackageVersion}.snupkg");
        if (Pack.Code != 0) return;

        // Restore and build the sample as an application would (its NuGet.config: the folder feed, then nuget.org).
        watch.Restart();
        var sample = Path.Combine(Folder, "samples", "QuickApp");
        Build = Dotnet(sample, "build", "-c", "Release", $"-p:SrtPackageVersion={PackageVersion}");
        BuildSeconds = watch.Elapsed.TotalSeconds;
        if (Build.Code != 0) return;
        AssetsFile = Path.Combine(sample, "obj", "project.assets.json");

        // Run it: it trains, saves a zip, and starts itself again to load the zip and recommend.
        watch.Restart();
        var dll = Directory.GetFiles(Path.Combine(sample, "bin"), "QuickApp.dll", SearchOption.AllDirectories).Single();
        Run = Dotnet(sample, dll, Path.Combine(Folder, "quickapp-model.zip"));
        RunSeconds = watch.Elapsed.TotalSeconds;
    }

    public string RepositoryRoot { get; }

    public string Folder { get; }

    public string VersionPrefix { get; }

    public string PackageVersion { get; }

    public string Package { get; }

    public string SymbolPackage { get; }

    public string? AssetsFile { get; private set; }

    public (int Code, string Output) Pack { get; }

    public (int Code, string Output) Build { get; }

    public (int Code, string Output) Run { get; }

    public double PackSeconds { get; }

    public double BuildSeconds { get; }

    public double RunSeconds { get; }

    public void Dispose()
    {
        // The unique package version in the global packages folder is this fixture's own: remove it so runs do not pile up.
        try
        {
            if (AssetsFile is not null && File.Exists(AssetsFile))
            {
                using var assets = JsonDocument.Parse(File.ReadAllText(AssetsFile));
                foreach (var folder in assets.RootElement.GetProperty("packageFolders").EnumerateObject())
                {
                    var cached = Path.Combine(folder.Name, "microsoft.ml.srt", PackageVersion.ToLowerInvariant());
                    if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
                }
            }
        }
        catch (IOException) { }
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.Srt.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No Microsoft.ML.Srt.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>VersionPrefix of Directory.Build.props, as built into the library (0.1.0 of 0.1.0+commit).</summary>
    private static string LibraryVersionPrefix()
    {
        var informational = typeof(SrtTrainer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        return informational.Split('+', '-')[0];
    }

    private static void CopySamples(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var dir in Directory.GetDirectories(from))
        {
            var name = Path.GetFileName(dir);
            if (name is "bin" or "obj") continue;   // a build of the sample in place
            CopySamples(dir, Path.Combine(to, name));
        }
    }

    /// <summary>Runs the dotnet host with <paramref name="args"/>; stdout and stderr together.</summary>
    private static (int Code, string Output) Dotnet(string workingDirectory, params string[] args)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(host) || !File.Exists(host))
            host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        if (args[0] is "build" or "pack")
        {
            // No build servers: a server left running would hold the output pipe open after the build ends.
            start.ArgumentList.Add("--disable-build-servers");
            start.ArgumentList.Add("-nologo");
        }
        // MSBuild variables of the `dotnet test` that started this process would point the child build at its state.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(_stepTimeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            lock (output) return (-1, $"dotnet {string.Join(' ', args)} did not finish within {_stepTimeout.TotalMinutes} minutes.\n{output}");
        }
        process.WaitForExit();   // drains the output
        lock (output) return (process.ExitCode, output.ToString());
    }
}

public class PackageSampleTests(PackagedSampleFixture fixture, ITestOutputHelper log) : IClassFixture<PackagedSampleFixture>
{
    private static readonly Regex _recommendation = new(@"^\s+(\d+)\. (\S+) (-?\d+\.\d+)  ", RegexOptions.Compiled);

    [Fact]
    public void PackageDependsOnManagedTorchSharpAndCarriesTheLibstdcxxFix()
    {
        Assert.True(fixture.Pack.Code == 0, fixture.Pack.Output);
        Assert.True(File.Exists(fixture.Package), $"{fixture.Package} is missing:\n{fixture.Pack.Output}");
        Assert.True(File.Exists(fixture.SymbolPackage), $"{fixture.SymbolPackage} is missing:\n{fixture.Pack.Output}");

        using var zip = ZipFile.OpenRead(fixture.Package);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        XNamespace ns;
        XElement metadata;
        using (var nuspec = zip.GetEntry("Microsoft.ML.Srt.nuspec")!.Open())
        {
            var root = XDocument.Load(nuspec).Root!;
            ns = root.Name.Namespace;
            metadata = root.Element(ns + "metadata")!;
        }
        Assert.Equal(fixture.PackageVersion, metadata.Element(ns + "version")!.Value);
        Assert.Equal("MIT", metadata.Element(ns + "license")!.Value);
        Assert.Equal("expression", metadata.Element(ns + "license")!.Attribute("type")!.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")!.Value);
        Assert.Contains("README.md", entries);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")!.Value));
        Assert.Contains("TorchSharp", metadata.Element(ns + "tags")!.Value.Split(' '));

        // Like Microsoft.ML.TorchSharp: managed TorchSharp and ML.NET; the libtorch backend is the application's choice.
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).ToList();
        Assert.Contains("TorchSharp", dependencies);
        Assert.Contains("Microsoft.ML", dependencies);
        Assert.Contains("Microsoft.ML.Tokenizers", dependencies);
        Assert.DoesNotContain(dependencies, d => d.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase) || d.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase));

        Assert.Contains("lib/net10.0/Microsoft.ML.Srt.dll", entries);
        Assert.Contains("lib/net10.0/Microsoft.ML.Srt.xml", entries);
        // The libstdc++ fix, byte for byte the file the repository's own build imports.
        var targets = File.ReadAllBytes(Path.Combine(fixture.RepositoryRoot, "build", "TorchSharpGlibcxx.targets"));
        foreach (var path in new[] { "buildTransitive/Microsoft.ML.Srt.targets", "build/Microsoft.ML.Srt.targets" })
        {
            using var stream = zip.GetEntry(path)?.Open();
            Assert.True(stream is not null, $"{path} is missing from the package.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            Assert.Equal(targets, copy.ToArray());
        }

        using var symbols = ZipFile.OpenRead(fixture.SymbolPackage);
        Assert.Contains("lib/net10.0/Microsoft.ML.Srt.pdb", symbols.Entries.Select(e => e.FullName));
    }

    [Fact]
    public void SampleBuiltFromThePackageRecommendsInASecondProcess()
    {
        Assert.True(fixture.Pack.Code == 0, fixture.Pack.Output);
        Assert.True(fixture.Build.Code == 0, fixture.Build.Output);

        // The sample got the library as this package (not a project reference) ...
        using (var assets = JsonDocument.Parse(File.ReadAllText(fixture.AssetsFile!)))
        {
            var library = assets.RootElement.GetProperty("libraries").GetProperty($"Microsoft.ML.Srt/{fixture.PackageVersion}");
            Assert.Equal("package", library.GetProperty("type").GetString());
        }
        // ... and the package's buildTransitive step patched its libLibTorchSharp.so where this host needs it.
        if (HostLibstdcxxLacks("GLIBCXX_3.4.32"))
            Assert.Contains("SRT: marked GLIBCXX_3.4.32 weak", fixture.Build.Output);
        else
            Assert.DoesNotContain("SRT: marked", fixture.Build.Output);

        Assert.True(fixture.Run.Code == 0, fixture.Run.Output);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pack {fixture.PackSeconds:F1} s, sample restore and build {fixture.BuildSeconds:F1} s, sample run {fixture.RunSeconds:F1} s"));
        log.WriteLine(fixture.Run.Output);
        var lines = fixture.Run.Output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int trainer = lines.FindIndex(l => l.EndsWith("(the trainer) recommends:", StringComparison.Ordinal));
        int loader = lines.FindIndex(l => l.Contains("with mlContext.Model.Load and recommends:", StringComparison.Ordinal));
        Assert.True(trainer >= 0 && loader > trainer, fixture.Run.Output);
        Assert.NotEqual(ProcessId(lines[trainer]), ProcessId(lines[loader]));

        var before = Recommendations(lines, trainer);
        var after = Recommendations(lines, loader);
        Assert.Equal(5, before.Count);
        Assert.Equal(5, after.Count);
        // A fresh process may round differently (thread count, memory alignment): scores agree within 1e-5 rank by
        // rank, and the items agree wherever neighbouring scores are further apart than that (the last rank's
        // neighbour below is not printed, so its item may be the sixth's).
        for (int r = 0; r < before.Count; r++)
        {
            Assert.True(Math.Abs(before[r].Score - after[r].Score) <= 1e-5, fixture.Run.Output);
            bool nearTie = (r > 0 && before[r - 1].Score - before[r].Score <= 2e-5) || r + 1 == before.Count || before[r].Score - before[r + 1].Score <= 2e-5;
            if (!nearTie) Assert.Equal(before[r].Item, after[r].Item);
            if (r > 0) Assert.True(after[r - 1].Score >= after[r].Score, fixture.Run.Output);
        }
    }

    [Fact]
    public void SampleNamesTheVersionsThisRepositoryBuilds()
    {
        // The sample pins its package versions as an application does; they must follow the repository's.
        var project = XDocument.Load(Path.Combine(fixture.RepositoryRoot, "samples", "QuickApp", "QuickApp.csproj"));
        var packages = XDocument.Load(Path.Combine(fixture.RepositoryRoot, "Directory.Packages.props"));
        string torchSharp = packages.Descendants("PackageVersion").Single(p => (string?)p.Attribute("Include") == "TorchSharp").Attribute("Version")!.Value;
        string backend = project.Descendants("PackageReference").Single(p => (string?)p.Attribute("Include") == "TorchSharp-cpu").Attribute("Version")!.Value;
        Assert.True(torchSharp == backend, $"samples/QuickApp/QuickApp.csproj references TorchSharp-cpu {backend}; the library is built on TorchSharp {torchSharp}.");
        string sampleDefault = project.Descendants("SrtPackageVersion").Single().Value;
        Assert.True(fixture.VersionPrefix == sampleDefault, $"samples/QuickApp/QuickApp.csproj defaults to Microsoft.ML.Srt {sampleDefault}; `dotnet pack` makes {fixture.VersionPrefix}.");
    }

    private static int ProcessId(string line) => int.Parse(Regex.Match(line, @"Process (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);

    private static List<(string Item, double Score)> Recommendations(List<string> lines, int header)
    {
        var result = new List<(string, double)>();
        for (int i = header + 2; i < lines.Count && _recommendation.Match(lines[i]) is { Success: true } m; i++)
            result.Add((m.Groups[2].Value, double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)));
        return result;
    }

    private static bool HostLibstdcxxLacks(string version)
    {
        if (!OperatingSystem.IsLinux()) return false;
        string[] candidates = ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6"];
        var lib = candidates.FirstOrDefault(File.Exists);
        return lib is not null && !Encoding.ASCII.GetString(File.ReadAllBytes(lib)).Contains(version + "\0", StringComparison.Ordinal);
    }
}
