using System.Collections;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.DotNet.Interactive.Formatting;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Evaluation;
using Microsoft.ML.Srt.Scoring;
using Xunit.Abstractions;

namespace Microsoft.ML.Srt.Tests.Docs;

/// <summary>docs/notebooks/quickstart.ipynb: its cells run, and it references what the build produces.</summary>
public sealed class NotebookTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string _root = RepositoryRoot();
    private static readonly string _notebook = Path.Combine(_root, "docs", "notebooks", "quickstart.ipynb");

    [Fact]
    public async Task QuickstartNotebookTrainsEvaluatesAndRendersHtmlTables()
    {
        var run = await PolyglotNotebook.RunAsync(_notebook);
        output.WriteLine("seconds per code cell: " + string.Join(", ", run.CellSeconds.Select(s => s.ToString("F1", CultureInfo.InvariantCulture))));
        using var model = run.Get<SrtTransformer>("model");

        // Evaluated: finite metrics over every test user, SRT above popularity.
        var srt = run.Get<NextItemMetrics>("srtMetrics");
        var popularity = run.Get<NextItemMetrics>("popularityMetrics");
        output.WriteLine($"test NDCG@10: SRT {srt.Ndcg[10]:F4}, popularity {popularity.Ndcg[10]:F4}");
        var split = run.Get<LeaveOneOutSplit>("split");
        Assert.Equal(split.Test.Count, srt.Cases);
        Assert.All(new[] { srt.Ndcg[10], srt.Hit[10], srt.Mrr, popularity.Ndcg[10] }, v => Assert.InRange(v, 0, 1));
        Assert.True(srt.Ndcg[10] > popularity.Ndcg[10], $"SRT NDCG@10 {srt.Ndcg[10]:F4} is not above popularity's {popularity.Ndcg[10]:F4}");
        // Evaluate on the whole sequences is the leave-one-out test split: the same cases, the same numbers.
        var direct = model.Model.Evaluate(split.Test, [5, 10, 20], maskHistory: false);
        Assert.Equal(direct.Ndcg[10], srt.Ndcg[10], 12);
        Assert.Equal(direct.Mrr, srt.Mrr, 12);

        // The notebook's own formatters render its tables (Polyglot's default HTML for a record would be a property list).
        var metricsHtml = Html(run.Get<object>("metrics"));
        Assert.StartsWith("<table>", metricsHtml);
        foreach (var header in new[] { "model", "NDCG@5", "NDCG@10", "NDCG@20", "HIT@10", "MRR" }) Assert.Contains($"<th>{header}</th>", metricsHtml);
        Assert.Contains($"<td>SRT</td><td>{srt.Ndcg[5].ToString("F4", CultureInfo.InvariantCulture)}</td>", metricsHtml);
        Assert.Contains($"<td>popularity</td><td>{popularity.Ndcg[5].ToString("F4", CultureInfo.InvariantCulture)}</td>", metricsHtml);

        var summary = model.Model.TrainingSummary!;
        foreach (var epoch in summary.Epochs) output.WriteLine(epoch.ToString());
        var summaryHtml = Html(summary);
        Assert.Contains("<th>val NDCG@10</th>", summaryHtml);
        Assert.Equal(summary.Epochs.Count + 1, Regex.Count(summaryHtml, "<tr>"));

        // Recommendations: three users, ten items each, with the catalog's titles, in the order Transform returned them.
        var catalog = run.Get<ItemCatalog>("catalog");
        var users = run.Get<IList>("firstUsers");
        var tables = run.Get<IList>("recommendationTables");
        Assert.Equal(3, users.Count);
        Assert.Equal(3, tables.Count);
        for (int u = 0; u < users.Count; u++)
        {
            var items = (string[])users[u]!.GetType().GetProperty("RecommendedItems")!.GetValue(users[u])!;
            Assert.Equal(10, items.Length);
            var html = Html(tables[u]!);
            Assert.Equal(11, Regex.Count(html, "<tr>"));
            int at = 0;
            foreach (var id in items)
            {
                Assert.True(catalog.TryGetIndex(id, out int i), $"recommended item '{id}' is not in the catalog");
                at = html.IndexOf($"<td>{WebUtility.HtmlEncode(catalog.GetTitle(i))}</td>", at, StringComparison.Ordinal);
                Assert.True(at >= 0, $"title of '{id}' missing or out of order in:\n{html}");
            }
        }

        // One user at a time: a history from outside the data, top 10 without its own items.
        var newHistory = run.Get<string[]>("newHistory");
        var prediction = run.Get<SrtRecommendationOutput>("prediction");
        Assert.Equal(2, newHistory.Length);
        Assert.Equal(10, prediction.RecommendedItems.Length);
        Assert.Empty(prediction.RecommendedItems.Intersect(newHistory));
        Assert.Equal(11, Regex.Count(Html(run.Get<object>("newUserTable")), "<tr>"));

        // What Polyglot would show: the data line, the epoch table, the metrics table, two tables per user, and the new user's two.
        var shown = run.Displayed.Where(v => v is not string).Select(Html).ToList();
        Assert.Equal(2 + 2 * users.Count + 2, shown.Count);
        Assert.All(shown, html => Assert.StartsWith("<table><caption>", html));
        Assert.Contains(run.Displayed.OfType<string>(), s => s.Contains(" users, ", StringComparison.Ordinal));
    }

    [Fact]
    public void QuickstartNotebookReferencesTheBuiltLibraryAndItsPinnedDependencies()
    {
        var cells = PolyglotNotebook.CSharpCells(_notebook);
        var directives = cells.SelectMany(c => c.Split('\n')).Where(PolyglotNotebook.IsKernelDirective).Select(l => l.Trim()).ToList();

        // Every package the library references, at the version Directory.Packages.props pins (a range's lower bound); in place of managed
        // TorchSharp the CPU backend, which an application adds and which brings TorchSharp with it.
        var pinned = XDocument.Load(Path.Combine(_root, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => ((string)e.Attribute("Version")!).TrimStart('[', '(').Split(',')[0].Trim().TrimEnd(']', ')'));
        var libraryPackages = XDocument.Load(Path.Combine(_root, "src", "Microsoft.ML.Srt", "Microsoft.ML.Srt.csproj")).Descendants("PackageReference")
            .Where(e => e.Attribute("Condition") is not { } c || c.Value.Contains("'cpu'", StringComparison.Ordinal))
            .Where(e => (string?)e.Attribute("PrivateAssets") != "all")   // build-only (the API analyzer): not a dependency
            .Select(e => (string)e.Attribute("Include")!).Select(p => p == "TorchSharp" ? "TorchSharp-cpu" : p).Order().ToList();
        var nuget = directives.Select(d => Regex.Match(d, "^#r \"nuget: *([^, ]+) *, *([^\" ]+)\"$")).Where(m => m.Success)
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.Equal(libraryPackages, nuget.Keys.Order().ToList());
        foreach (var (package, version) in nuget) Assert.Equal(pinned[package], version);

        // The library itself: the dll `dotnet build -c Release` writes, relative to the notebook's folder.
        var framework = XDocument.Load(Path.Combine(_root, "Directory.Build.props")).Descendants("TargetFramework").Single().Value;
        var built = Path.Combine(_root, "src", "Microsoft.ML.Srt", "bin", "Release", framework, "Microsoft.ML.Srt.dll");
        var dlls = directives.Select(d => Regex.Match(d, "^#r \"([^\"]+\\.dll)\"$")).Where(m => m.Success)
            .Select(m => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(_notebook)!, m.Groups[1].Value))).ToList();
        Assert.Equal([built], dlls);

        // TorchSharp's native library as the build fixed it (Debian 12): the CLI's Release output, where that build puts it.
        var loader = Assert.Single(cells, c => c.Contains("libLibTorchSharp.so", StringComparison.Ordinal));
        Assert.Contains($"\"../../src/Microsoft.ML.Srt.Cli/bin/Release/{framework}/linux-", loader);
        var testOutput = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)); // bin/<configuration>/<framework>/<rid>
        if (OperatingSystem.IsLinux() && testOutput.Parent!.Parent!.Name == "Release")
            Assert.True(File.Exists(Path.Combine(_root, "src", "Microsoft.ML.Srt.Cli", "bin", "Release", framework, testOutput.Name, "libLibTorchSharp.so")),
                "the CLI's Release build has no libLibTorchSharp.so where the notebook loads it from");
    }

    public void Dispose() => Formatter.ResetToDefault();

    private static string Html(object value) => value.ToDisplayString("text/html");

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.Srt.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No Microsoft.ML.Srt.sln above {AppContext.BaseDirectory}.");
    }
}
