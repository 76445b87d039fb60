using System.ComponentModel;
using Microsoft.ML.Srt.Scaling;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// <c>srt scaling fit</c>: fits a runs table (or any CSV with N, T, metric and FLOPs columns) with
/// <see cref="SrtScalingFitter"/>: eq. 4 with 95% intervals, the FLOPs envelope with its sigmoid and line, warnings.
/// Prints the fit's JSON (and writes it to <c>--out</c>); <c>--plots</c> draws the paper's figures 4-7 as PNG files.
/// </summary>
internal sealed class ScalingFitCommand(CliStreams streams) : Command<ScalingFitCommand.Settings>
{
    private static readonly SrtScalingFitOptions _defaults = new();

    /// <summary>The options of <c>srt scaling fit</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--runs <RUNS.csv>", isRequired: true)]
        [Description("The runs table, or any CSV with a header holding the columns named below.")]
        public string Runs { get; set; } = "";

        [CommandOption("--out <FIT.json>")]
        [Description("Also write the fit's JSON to this file (srt scaling plan reads it).")]
        public string? Out { get; set; }

        [CommandOption("--plots <DIR>")]
        [Description("Draw the figures (metric against FLOPs, N and T; the fitted law) as PNG files into this folder.")]
        public string? Plots { get; set; }

        [CommandOption("--n-column <NAME>")]
        [Description("Column holding N, the parameter count.")]
        [DefaultFrom(typeof(ScalingFitCommand), nameof(DefaultN))]
        public string NColumn { get; set; } = "";

        [CommandOption("--t-column <NAME>")]
        [Description("Column holding T, interactions in the training data.")]
        [DefaultFrom(typeof(ScalingFitCommand), nameof(DefaultT))]
        public string TColumn { get; set; } = "";

        [CommandOption("--metric-column <NAME>")]
        [Description("Column holding the metric fitted (test_ndcg5: the runs' final rows only).")]
        [DefaultFrom(typeof(ScalingFitCommand), nameof(DefaultMetric))]
        public string MetricColumn { get; set; } = "";

        [CommandOption("--flops-column <NAME>")]
        [Description("Column holding training FLOPs so far (for the envelope); may be absent.")]
        [DefaultFrom(typeof(ScalingFitCommand), nameof(DefaultFlops))]
        public string FlopsColumn { get; set; } = "";

        [CommandOption("--run-column <NAME>")]
        [Description("Column identifying a run (rows of one run share it); absent: every row is a run.")]
        [DefaultFrom(typeof(ScalingFitCommand), nameof(DefaultRun))]
        public string RunColumn { get; set; } = "";

        [CommandOption("--all-points")]
        [Description("Fit every row, not each run's best row.")]
        public bool AllPoints { get; set; }

        [CommandOption("--bootstrap <N>")]
        [Description("Bootstrap resamples of the runs behind each 95% interval (0: no intervals).")]
        [DefaultFrom(typeof(ScalingFitCommand), nameof(DefaultBootstrap))]
        public int Bootstrap { get; set; }

        [CommandOption("--seed <S>")]
        [Description("Seed of the bootstrap.")]
        [DefaultFrom(typeof(ScalingFitCommand), nameof(DefaultSeed))]
        public int Seed { get; set; }

        /// <inheritdoc/>
        public override ValidationResult Validate() =>
            Bootstrap < 0 ? ValidationResult.Error($"option '--bootstrap' must be 0 or more; got {Bootstrap}.") : ValidationResult.Success();

        /// <summary>The fitter's options these settings ask for.</summary>
        public SrtScalingFitOptions ToFitOptions() => new()
        {
            NColumn = NColumn, TColumn = TColumn, MetricColumn = MetricColumn, FlopsColumn = FlopsColumn, RunColumn = RunColumn,
            AllPoints = AllPoints, BootstrapSamples = Bootstrap, Seed = Seed,
        };
    }

    private static string DefaultN => _defaults.NColumn;

    private static string DefaultT => _defaults.TColumn;

    private static string DefaultMetric => _defaults.MetricColumn;

    private static string DefaultFlops => _defaults.FlopsColumn;

    private static string DefaultRun => _defaults.RunColumn;

    private static int DefaultBootstrap => _defaults.BootstrapSamples;

    private static int DefaultSeed => _defaults.Seed;

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (!File.Exists(settings.Runs)) throw new CliUsageException($"option '--runs': no such file '{settings.Runs}'.");
        var options = settings.ToFitOptions();
        var points = SrtScalingFitter.ReadPoints(settings.Runs, options);
        if (points.Count == 0)
            throw new Data.SrtDataException(settings.Runs, 1, options.MetricColumn, "no row has a value in this column: nothing to fit.");
        var fit = SrtScalingFitter.Fit(points, options);
        var json = fit.ToJson();
        if (settings.Out is { } outPath)
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
            File.WriteAllText(outPath, json + Environment.NewLine);
        }
        foreach (var warning in fit.Warnings) streams.Error.WriteLine($"warning: {warning}");
        if (settings.Plots is { } plots)
        {
            Directory.CreateDirectory(plots);
            foreach (var (name, png) in ScalingPlots.All(points, fit))
            {
                var path = Path.Combine(plots, name);
                File.WriteAllBytes(path, png);
                streams.Error.WriteLine($"Wrote {Path.GetFullPath(path)}.");
            }
        }
        streams.Output.WriteLine(json);
        return 0;
    }
}
