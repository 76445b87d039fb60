using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.ML.Srt.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// The <c>srt</c> tool on Spectre.Console.Cli: the command tree, help, <c>--version</c>, and the exit codes.
/// To add a command: write a <see cref="Command{TSettings}"/> with its settings class in <c>Cli/Commands/</c> and add
/// one line to <see cref="Configure"/>.
/// </summary>
internal static partial class CliApp
{
    private const string DataBranch = "data", BenchmarkBranch = "benchmark", TokenizerBranch = "tokenizer", ScalingBranch = "scaling";

    /// <summary>
    /// Runs the tool in this process. Exit codes: 0 success; 1 bad data or a failed command (one line on
    /// <paramref name="error"/>: a data error's message as is); 2 bad usage (the parser's message on <paramref name="error"/>).
    /// Help and <c>--version</c> go to <paramref name="output"/>; commands print their result (JSON where they print
    /// JSON) to <paramref name="output"/> and progress to <paramref name="error"/>.
    /// </summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        // "srt data" alone is incomplete: Spectre shows the branch's help; here on the error stream, as a usage error.
        bool incomplete = args.Count == 1 && args[0] is (DataBranch or BenchmarkBranch or TokenizerBranch or ScalingBranch);
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.Settings.Registrar.RegisterInstance(new CliStreams(output, error));
            config.ConfigureConsole(ConsoleFor(incomplete ? error : output));
            config.PropagateExceptions(); // mapped to exit codes below, on the error stream
            Configure(config);
        });
        try
        {
            int code = app.Run(args);
            return incomplete ? 2 : code;
        }
        catch (CommandRuntimeException e) // parse errors, missing or badly typed options, failed Validate()
        {
            ReportUsageError(e, args, error);
            return 2;
        }
        catch (CliUsageException e)
        {
            WriteError(error, e.Message);
            return 2;
        }
        catch (SrtDataException e)
        {
            error.WriteLine(e.Message);
            return 1;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or FormatException or NotSupportedException)
        {
            error.WriteLine($"srt: {e.Message}");
            return 1;
        }
    }

    /// <summary>The command tree, descriptions and examples: what <c>srt --help</c> shows.</summary>
    internal static void Configure(IConfigurator config)
    {
        config.SetApplicationName("srt");
        config.UseStrictParsing(); // an unknown option is an error, not a "remaining argument"
        config.SetApplicationVersion(Version);
        config.AddCommand<QuickstartCommand>("quickstart")
            .WithDescription("Train, evaluate and save a small SRT model on the built-in synthetic data, then show recommendations (1-2 minutes).");
        config.AddBranch(DataBranch, data =>
        {
            data.SetDescription("Inspect a data set, or write the synthetic one.");
            data.AddCommand<DataInspectCommand>("inspect")
                .WithDescription("Load interactions (and items), split leave-one-out, and print counts, drops and notes as JSON.")
                .WithExample("data", "inspect", "--interactions", "sequences.txt", "--items", "items.tsv");
            data.AddCommand<DataGenerateCommand>("generate")
                .WithDescription("Write the synthetic data set (items.tsv and sequences.txt) to a folder, streamed; print its statistics as JSON.")
                .WithExample("data", "generate", "--out", "synthetic", "--users", "100000");
        });
        config.AddBranch(TokenizerBranch, tokenizer =>
        {
            tokenizer.SetDescription("Train a byte-level BPE tokenizer on catalog text.");
            tokenizer.AddCommand<TokenizerTrainCommand>("train")
                .WithDescription("Train a byte-level BPE tokenizer on the text of item files; write vocab.json and merges.txt; print JSON.")
                .WithExample("tokenizer", "train", "--items", "games/items.tsv", "--items", "toys/items.tsv", "--vocab-size", "30000", "--out", "tokenizer");
            tokenizer.AddCommand<TokenizerCompareCommand>("compare")
                .WithDescription("Encode an item file's text with a trained tokenizer and with GPT-2's; print tokens per text and encoding speed as JSON.")
                .WithExample("tokenizer", "compare", "--tokenizer", "tokenizer", "--items", "beauty/items.tsv");
        });
        config.AddCommand<TrainCommand>("train")
            .WithDescription("Train SRT on a leave-one-out split, evaluate the test split (full ranking), print metrics as JSON.")
            .WithExample("train", "--interactions", "sequences.txt", "--items", "items.tsv", "--model", "model.zip");
        config.AddCommand<EvaluateCommand>("evaluate")
            .WithDescription("Evaluate a saved model (or a baseline) on the leave-one-out test split; print metrics as JSON.")
            .WithExample("evaluate", "--model", "model.zip", "--interactions", "sequences.txt", "--mask-history");
        config.AddCommand<RecommendCommand>("recommend")
            .WithDescription("Recommend items for one history with a saved model (an SRT model file or an ML.NET model zip with an SrtTransformer).")
            .WithExample("recommend", "--model", "model.zip", "--history", "I1,I2,I3", "-k", "10");
        config.AddCommand<ServeCommand>("serve")
            .WithDescription("Serve recommendations of a saved model over HTTP (JSON; micro-batched; docs/serving.md) until stopped.")
            .WithExample("serve", "--model", "model.zip", "--urls", "http://127.0.0.1:5000");
        config.AddBranch(BenchmarkBranch, benchmark =>
        {
            benchmark.SetDescription("Time training and scoring, reproduce the paper's Amazon Beauty table, or measure transfer from other catalogs.");
            benchmark.AddCommand<BenchmarkStepCommand>("step")
                .WithDescription("Time training steps (forward, backward, clipping, AdamW) on full-length synthetic batches; print JSON.");
            benchmark.AddCommand<BenchmarkScoringCommand>("scoring")
                .WithDescription("Time recommendations of a saved model: load time, single-user latency (p50/p99) and batched users/s; print JSON.");
            benchmark.AddCommand<BenchmarkServeCommand>("serve")
                .WithDescription("Start srt serve on 127.0.0.1, drive it with a bounded load (fixed requests and time limit per concurrency level), print requests/s and p50/p99 as JSON.")
                .WithExample("benchmark", "serve", "--model", "model.zip", "--concurrency", "1,8,64", "--requests", "2000");
            benchmark.AddCommand<BenchmarkMatmulCommand>("matmul")
                .WithDescription("Measure this machine's fp32 matrix-multiply peak with libtorch (GFLOP/s, several sizes); print JSON.");
            benchmark.AddCommand<BenchmarkBeautyCommand>("beauty")
                .WithDescription("Train and evaluate every row of the paper's Amazon Beauty table (resumable), time the default recipe, rewrite docs/benchmarks.md.")
                .WithExample("benchmark", "beauty", "--data-dir", "../shared/data/amazon-beauty");
            benchmark.AddCommand<BenchmarkTransferCommand>("transfer")
                .WithDescription("Pre-train on other catalogs, then compare scratch, zero-shot and fine-tuned models on the target at one budget (resumable); rewrite docs/transfer.md.")
                .WithExample("benchmark", "transfer", "--data-dir", "../shared/data");
        });
        config.AddBranch(ScalingBranch, scaling =>
        {
            scaling.SetDescription("The scaling study (docs/scaling.md): run a grid of model and data sizes, fit the scaling laws, plan a compute budget.");
            scaling.AddCommand<ScalingRunCommand>("run")
                .WithDescription("Train a resumable grid of model sizes × data sizes (seeded user samples) × negatives, appending to a runs table; print JSON.")
                .WithExample("scaling", "run", "--interactions", "sequences.txt", "--items", "items.tsv", "--runs", "runs.csv");
            scaling.AddCommand<ScalingFitCommand>("fit")
                .WithDescription("Fit eq. 4 (metric against N and T, 95% intervals) and the FLOPs envelope's sigmoid to a runs table; print JSON, draw PNG figures.")
                .WithExample("scaling", "fit", "--runs", "runs.csv", "--out", "fit.json", "--plots", "figures");
            scaling.AddCommand<ScalingPlanCommand>("plan")
                .WithDescription("The compute-optimal model and data size for a FLOPs or minutes budget under a fitted eq. 4, the nearest preset and the predicted metric; print JSON.")
                .WithExample("scaling", "plan", "--fit", "fit.json", "--minutes", "60", "--train-json", "train.json");
        });
    }

    /// <summary>What <c>srt --version</c> prints: the assembly's informational version.</summary>
    internal static string Version { get; } =
        typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(CliApp).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>A console on <paramref name="writer"/>: colours and width of the terminal when it is one, plain text otherwise (redirected, tests).</summary>
    internal static IAnsiConsole ConsoleFor(TextWriter writer)
    {
        bool terminal = (ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected)
                        || (ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected);
        return AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
    }

    /// <summary>
    /// Prints a usage error as Spectre.Console.Cli does (its marked-up command line where it has one). A value that
    /// did not convert gets the option's name, which Spectre's message lacks.
    /// </summary>
    private static void ReportUsageError(CommandRuntimeException e, IReadOnlyList<string> args, TextWriter error)
    {
        if (e.Pretty is { } pretty)
        {
            ErrorConsole(error).Write(pretty);
            return;
        }
        var message = e.Message;
        if (e.InnerException is not null && ConversionFailed().Match(message) is { Success: true } m
            && OptionGiven(args, m.Groups["value"].Value, m.Groups["type"].Value) is { } option)
            message = $"option '{option.Name}' needs {Kind(option.Type)}; got '{m.Groups["value"].Value}'.";
        WriteError(error, message);
    }

    /// <summary>One error line as Spectre.Console.Cli prints its own ("Error: ..."), never wrapped when it is not a terminal (logs keep it whole).</summary>
    internal static void WriteError(TextWriter error, string message) => ErrorConsole(error).MarkupLine($"[red]Error:[/] {message.EscapeMarkup()}");

    private static IAnsiConsole ErrorConsole(TextWriter error)
    {
        var console = ConsoleFor(error);
        if (!console.Profile.Capabilities.Interactive) console.Profile.Width = 10_000;
        return console;
    }

    [GeneratedRegex(@"^Failed to convert '(?<value>.*)' to (?<type>[\w`]+)\.")]
    private static partial Regex ConversionFailed();

    /// <summary>
    /// The option that was given <paramref name="value"/> (<c>--name value</c>, <c>--name=value</c>, <c>--name:value</c>,
    /// <c>-k value</c>) and takes a <paramref name="typeName"/>: another option may have been given the same text.
    /// </summary>
    private static (string Name, string Type)? OptionGiven(IReadOnlyList<string> args, string value, string typeName)
    {
        for (int k = 0; k < args.Count; k++)
        {
            var arg = args[k];
            if (!arg.StartsWith('-')) continue;
            int separator = arg.IndexOfAny(['=', ':']);
            var name = separator > 0 ? arg[..separator] : arg;
            var given = separator > 0 ? arg[(separator + 1)..] : k + 1 < args.Count ? args[k + 1] : null;
            if (given == value && _optionTypes.Value.FirstOrDefault(o => o.Name == name.TrimStart('-') && o.Type == typeName) is { Name: not null } o)
                return (name, o.ValueType);
        }
        return null;
    }

    /// <summary>Every option name (without dashes) of every settings class, with its property type's name and the name of the value type (int for int?).</summary>
    private static readonly Lazy<HashSet<(string Name, string Type, string ValueType)>> _optionTypes = new(() =>
    [
        .. from type in typeof(CliApp).Assembly.GetTypes()
           where type.IsSubclassOf(typeof(CommandSettings))
           from property in type.GetProperties()
           let option = property.GetCustomAttribute<CommandOptionAttribute>()
           where option is not null
           from name in option.LongNames.Concat(option.ShortNames)
           select (name, property.PropertyType.Name, (Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType).Name),
    ]);

    private static string Kind(string type) => type switch
    {
        nameof(Int32) or nameof(Int64) => "an integer",
        nameof(UInt64) or nameof(UInt32) => "a non-negative integer",
        nameof(Double) or nameof(Single) => "a number",
        _ => string.Create(CultureInfo.InvariantCulture, $"a value of type {type}"),
    };
}

/// <summary>The writers of one run: a command's result (JSON where it prints JSON) on <see cref="Output"/>, progress and notes on <see cref="Error"/>.</summary>
internal sealed class CliStreams(TextWriter output, TextWriter error)
{
    /// <summary>Standard output: the command's result.</summary>
    public TextWriter Output { get; } = output;

    /// <summary>Standard error: progress, notes and errors.</summary>
    public TextWriter Error { get; } = error;

    /// <summary>True when <see cref="Error"/> is this process's terminal (a live progress bar instead of lines).</summary>
    public bool ErrorIsTerminal => ReferenceEquals(Error, Console.Error) && !Console.IsErrorRedirected;

    /// <summary>True when <see cref="Output"/> is this process's interactive terminal.</summary>
    public bool OutputIsTerminal => ReferenceEquals(Output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
}

/// <summary>Bad command-line usage found while a command runs (for example a column its model lacks): exit code 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);

/// <summary>
/// An option's default read at run time from <paramref name="type"/>'s static property <paramref name="property"/>:
/// for defaults that come from the library (a fresh options object), so the help shows them and never a copy.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class DefaultFromAttribute(Type type, string property) : System.ComponentModel.DefaultValueAttribute((object?)null)
{
    /// <inheritdoc/>
    public override object? Value =>
        type.GetProperty(property, BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)?.GetValue(null)
        ?? throw new InvalidOperationException($"{type.Name}.{property}: no such static property with a value.");
}

/// <summary>The description of a <c>--preset</c> option: the model sizes the library knows.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class PresetDescriptionAttribute : System.ComponentModel.DescriptionAttribute
{
    /// <inheritdoc/>
    public override string Description => $"Model size: {string.Join(", ", Training.SrtPresets.All.Keys)}.";
}
