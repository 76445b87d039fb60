using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.ML.Srt.Tests.Api;
using Xunit.Abstractions;

namespace Microsoft.ML.Srt.Tests.Docs;

/// <summary>Runs the doc samples of kind <c>run</c> alone: they change the process's current directory while they run.</summary>
[CollectionDefinition(nameof(DocSamplesCollection), DisableParallelization = true)]
public sealed class DocSamplesCollection;

/// <summary>
/// Every C# sample of README.md, the package README (src/Microsoft.ML.Srt/PACKAGE.md) and docs/*.md compiles, and the ones marked <c>run</c> run (docs/build.md, "C# samples in
/// the docs", gives the convention). A failure names the file and the line of the compiler error in the Markdown file.
/// </summary>
[Collection(nameof(DocSamplesCollection))]
public sealed class DocSamplesTests(ITestOutputHelper output)
{
    private static readonly Regex Fence = new(@"^```csharp(?:[ \t]+(?<kind>[a-z]+))?[ \t]*$", RegexOptions.Compiled);

    /// <summary>What a fragment may use without declaring it: the names docs use for the usual objects.</summary>
    private const string FragmentContext = """
        static MLContext ml = new();
        static IDataView interactions = null!, items = null!, histories = null!, allInteractions = null!,
            interactionsWithoutLast = null!, newItems = null!;
        static SrtTransformer model = null!, trained = null!;
        static SrtTrainer.Options options = new();
        static ItemCatalog itemCatalog = null!;
        static ITransformer pipeline = null!;
        static InteractionSequences train = null!;
        static LeaveOneOutSplit split = null!;
        static IEnumerable<string> titles = [];
        """;

    private static readonly string[] FragmentUsings =
    [
        "Microsoft.ML", "Microsoft.ML.Data",
        "Microsoft.ML.Srt", "Microsoft.ML.Srt.Data", "Microsoft.ML.Srt.Evaluation", "Microsoft.ML.Srt.Scoring", "Microsoft.ML.Srt.Training", "Microsoft.ML.Srt.Scaling",
        "Microsoft.ML.Srt.Featurization",
    ];

    /// <summary>The global usings of the .NET SDK's ImplicitUsings for console apps.</summary>
    private static readonly string[] ImplicitUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    private sealed record Sample(string File, int Line, string Kind, string Code);

    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.Srt.sln"))) return dir.FullName;
        throw new InvalidOperationException("Microsoft.ML.Srt.sln not found above " + AppContext.BaseDirectory);
    });

    private static IEnumerable<string> MarkdownFiles()
    {
        yield return "README.md";
        yield return "src/Microsoft.ML.Srt/PACKAGE.md";   // the package's README on the feed
        foreach (var path in Directory.GetFiles(Path.Combine(Root.Value, "docs"), "*.md").Order(StringComparer.Ordinal))
            yield return Path.GetRelativePath(Root.Value, path).Replace('\\', '/');
    }

    /// <summary>The ```csharp blocks of a Markdown file: kind (program, fragment, run, ignore), first code line (1-based), code.</summary>
    private static List<Sample> Samples(string file)
    {
        var lines = System.IO.File.ReadAllLines(Path.Combine(Root.Value, file));
        var samples = new List<Sample>();
        for (int i = 0; i < lines.Length; i++)
        {
            var m = Fence.Match(lines[i]);
            if (!m.Success) continue;
            int start = i + 1, end = start;
            while (end < lines.Length && !lines[end].StartsWith("```", StringComparison.Ordinal)) end++;
            var kind = m.Groups["kind"].Success ? m.Groups["kind"].Value : "program";
            samples.Add(new Sample(file, start + 1, kind, string.Join('\n', lines[start..end])));
            i = end;
        }
        return samples;
    }

    public static TheoryData<string, int> AllSamples()
    {
        var data = new TheoryData<string, int>();
        foreach (var file in MarkdownFiles())
            foreach (var s in Samples(file))
                data.Add(s.File, s.Line);
        return data;
    }

    [Fact]
    public void EverySampleHasAKnownKindAndTheDocsHaveSamples()
    {
        var all = MarkdownFiles().SelectMany(Samples).ToList();
        Assert.NotEmpty(all);
        Assert.All(all, s => Assert.True(s.Kind is "program" or "fragment" or "run" or "ignore",
            $"{s.File}:{s.Line - 1}: unknown sample kind '{s.Kind}' (use ```csharp, ```csharp fragment, ```csharp run or ```csharp ignore)"));
        Assert.Contains(all, s => s.Kind == "run");
    }

    [Theory]
    [MemberData(nameof(AllSamples))]
    public async Task SampleCompiles(string file, int line)
    {
        var sample = Samples(file).Single(s => s.Line == line);
        if (sample.Kind == "ignore") return;
        var assembly = Compile(sample, out var errors);
        Assert.True(assembly is not null, $"The C# sample at {file}:{line} does not compile:\n{errors}");
        if (sample.Kind != "run") return;

        // Run it in a folder holding the small data set it may read, with a time cap.
        var folder = Directory.CreateTempSubdirectory("srt-doc-sample-").FullName;
        WriteData(folder);
        var entry = Assembly.Load(assembly).EntryPoint!;
        string previous = Environment.CurrentDirectory;
        var watch = Stopwatch.StartNew();
        try
        {
            Environment.CurrentDirectory = folder;
            var run = Task.Run(() => entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]));
            try { await run.WaitAsync(TimeSpan.FromMinutes(3)); }
            catch (TimeoutException) { Assert.Fail($"The sample at {file}:{line} ran longer than 3 minutes."); }
        }
        finally
        {
            Environment.CurrentDirectory = previous;
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
        output.WriteLine($"{file}:{line} ran in {watch.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>interactions.csv (UserId,ItemId,Timestamp) and items.tsv (ItemId, Title), both with a header: 24 users, 20 items.</summary>
    private static void WriteData(string folder)
    {
        var csv = new StringBuilder("UserId,ItemId,Timestamp\n");
        foreach (var r in TinyData.Interactions()) csv.Append(CultureInfo.InvariantCulture, $"{r.UserId},{r.ItemId},{r.Timestamp}\n");
        System.IO.File.WriteAllText(Path.Combine(folder, "interactions.csv"), csv.ToString());
        var tsv = new StringBuilder("ItemId\tTitle\n");
        foreach (var i in TinyData.Items()) tsv.Append(CultureInfo.InvariantCulture, $"{i.ItemId}\t{i.Title}\n");
        System.IO.File.WriteAllText(Path.Combine(folder, "items.tsv"), tsv.ToString());
    }

    /// <summary>The compiled sample, or null with the errors as "file:line: CSxxxx message" lines.</summary>
    private static byte[]? Compile(Sample sample, out string errors)
    {
        string source;
        if (sample.Kind == "fragment")
        {
            // Leading using directives go to the top; the rest is the body of a method whose class holds the context names.
            var lines = sample.Code.Split('\n');
            int body = 0;
            while (body < lines.Length && (string.IsNullOrWhiteSpace(lines[body]) || Regex.IsMatch(lines[body], @"^using\s+[\w.]+\s*;"))) body++;
            var usings = FragmentUsings.Select(u => $"using {u};").Concat(lines[..body].Where(l => !string.IsNullOrWhiteSpace(l)));
            source = string.Join('\n', usings.Distinct()) + "\n" +
                     "internal static class DocFragment\n{\n" + FragmentContext + "\n    static void Run()\n    {\n" +
                     $"#line {sample.Line + body} \"{sample.File}\"\n" + string.Join('\n', lines[body..]) + "\n#line default\n    }\n}\n";
        }
        else source = $"#line {sample.Line} \"{sample.File}\"\n" + sample.Code + "\n";

        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var tree = CSharpSyntaxTree.ParseText(source, parse, path: sample.File);
        // A program compiles as in a new console app (`dotnet new console`: ImplicitUsings enabled).
        var implicitUsings = CSharpSyntaxTree.ParseText(string.Concat(ImplicitUsings.Select(u => $"global using global::{u};\n")), parse, path: "ImplicitUsings.cs");
        var compilation = CSharpCompilation.Create("DocSample_" + Guid.NewGuid().ToString("N"), [tree, implicitUsings], References.Value,
            new CSharpCompilationOptions(sample.Kind == "fragment" ? OutputKind.DynamicallyLinkedLibrary : OutputKind.ConsoleApplication,
                nullableContextOptions: NullableContextOptions.Enable));
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        errors = string.Join('\n', result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d =>
        {
            var at = d.Location.GetMappedLineSpan();
            return $"{at.Path}:{at.StartLinePosition.Line + 1}: {d.Id} {d.GetMessage(CultureInfo.InvariantCulture)}";
        }));
        return result.Success ? stream.ToArray() : null;
    }

    /// <summary>What an app that references Microsoft.ML.Srt sees: the framework and this test's dependencies, minus the tests.</summary>
    private static readonly Lazy<MetadataReference[]> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && !Path.GetFileName(p).StartsWith("Microsoft.ML.Srt.Tests", StringComparison.Ordinal))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToArray());
}
