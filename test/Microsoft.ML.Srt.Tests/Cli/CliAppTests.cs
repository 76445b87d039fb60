using System.Reflection;
using Microsoft.ML.Srt.Cli;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Tests.Cli;

/// <summary>The tool's surface on Spectre.Console.Cli: help, version, usage errors and their exit codes.</summary>
public class CliAppTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void HelpListsEveryCommandOnStandardOutput()
    {
        var (code, help, error) = Run("--help");
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains("USAGE:", help);
        foreach (var command in new[] { "quickstart", "data", "tokenizer", "train", "evaluate", "recommend", "benchmark" })
            Assert.Matches($@"\n\s+{command}\s+\S", help);
        Assert.Equal(help, Run().Out); // no arguments: the same help

        (code, help, _) = Run("benchmark", "--help");
        Assert.Equal(0, code);
        foreach (var command in new[] { "step", "scoring", "beauty" })
            Assert.Matches($@"\n\s+{command}\s+\S", help);
    }

    [Fact]
    public void TrainHelpStatesTheCliRecipeAndTheLibraryDefaults()
    {
        var (code, help, _) = Run("train", "--help");
        Assert.Equal(0, code);
        // The CLI's own time-budgeted Beauty recipe, whatever the library's defaults are.
        Assert.Matches(@"--max-minutes <M>\s+44\s", help);
        Assert.Matches(@"--epochs <N>\s+200\s", help);
        // Every other default is the library's.
        var defaults = new SrtTrainer.Options();
        Assert.Matches($@"--batch-size <N>\s+{defaults.BatchSize}\s", help);
        Assert.Matches($@"--preset <NAME>\s+{System.Text.RegularExpressions.Regex.Escape(defaults.Preset)}\s", help);
        Assert.Contains("--interactions <PATH>", help);
    }

    [Fact]
    public void VersionIsTheAssemblysInformationalVersion()
    {
        var expected = typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        var (code, output, error) = Run("--version");
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Equal(expected, output.Trim());
        Assert.Equal(expected, Run("-v").Out.Trim());
    }

    [Fact]
    public void AnUnknownOptionIsAUsageErrorNamingIt()
    {
        var (code, output, error) = Run("train", "--interactions", "x.txt", "--epoch", "3");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("Unknown option 'epoch'", error);

        (code, _, error) = Run("trian");
        Assert.Equal(2, code);
        Assert.Contains("Unknown command 'trian'", error);
        Assert.Contains("Did you mean 'train'?", error);
    }

    [Fact]
    public void AValueOfTheWrongTypeIsAUsageErrorNamingTheOption()
    {
        // The same text given to a path option first: the error still names the option that needs a number.
        var (code, output, error) = Run("train", "--interactions", "x", "--epochs", "x");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Equal("Error: option '--epochs' needs an integer; got 'x'.", error.Trim());

        (code, _, error) = Run("train", "--interactions", "x", "--dropout=high");
        Assert.Equal(2, code);
        Assert.Contains("option '--dropout' needs a number; got 'high'", error);

        (code, _, error) = Run("recommend", "--model", "m.zip", "--history", "a", "-k", "ten");
        Assert.Equal(2, code);
        Assert.Contains("option '-k' needs an integer; got 'ten'", error);

        (code, _, error) = Run("data", "generate", "--out", "x", "--seed", "-1");
        Assert.Equal(2, code);
        Assert.Contains("option '--seed' needs a non-negative integer; got '-1'", error);
    }

    [Fact]
    public void AValueOutOfRangeIsAUsageErrorNamingTheOptionOnOneLine()
    {
        var (code, _, error) = Run("train", "--interactions", "x", "--epochs", "-1");
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("option '--epochs'", error);

        (code, _, error) = Run("train", "--interactions", "x", "--repeat-bias", "maybe");
        Assert.Equal(2, code);
        Assert.Contains("option '--repeat-bias' must be one of on, off; got 'maybe'", error);
    }

    [Fact]
    public void ABranchWithoutItsCommandShowsItsHelpAsAUsageError()
    {
        var (code, output, error) = Run("data");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("inspect", error);
        Assert.Contains("generate", error);
    }
}
