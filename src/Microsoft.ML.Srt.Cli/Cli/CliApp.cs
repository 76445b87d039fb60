using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Cli;

/// <summary>The <c>srt</c> tool: finds the command named by the first words, parses its options, prints help and errors.</summary>
internal sealed class CliApp
{
    private readonly List<ICliCommand> _commands;

    public CliApp(IEnumerable<ICliCommand> commands) => _commands = commands.ToList();

    /// <summary>Every command of the tool. Register a new command with one line here.</summary>
    public static CliApp CreateDefault() => new(
    [
        new DataInspectCommand(),
        new DataGenerateCommand(),
        new TrainCommand(),
        new EvaluateCommand(),
        new BenchmarkStepCommand(),
        new BenchmarkScoringCommand(),
        new BenchmarkBeautyCommand(),
        new QuickstartCommand(),
        new RecommendCommand(),
    ]);

    public IReadOnlyList<ICliCommand> Commands => _commands;

    /// <summary>
    /// Runs the tool. Exit codes: 0 success, 1 bad data or a failed command (one line on <paramref name="error"/>:
    /// a data error's message as is), 2 bad usage.
    /// </summary>
    public int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        // The longest run of leading words that names a command wins (so "data inspect" beats a future "data").
        int words = args.TakeWhile(a => !a.StartsWith('-')).Count();
        ICliCommand? command = null;
        int used = 0;
        for (int n = words; n > 0 && command is null; n--)
        {
            var name = string.Join(' ', args.Take(n));
            command = _commands.FirstOrDefault(c => c.Name == name);
            used = n;
        }
        bool help = args.Skip(used).Any(a => a is "--help" or "-h");
        if (command is null)
        {
            var prefix = string.Join(' ', args.Take(words));
            if (args.Count == 0 || help || (prefix.Length > 0 && _commands.Any(c => c.Name.StartsWith(prefix + " ", StringComparison.Ordinal))))
            {
                if (args.Count == 0 || help) { PrintOverview(output, prefix); return 0; }
                PrintOverview(error, prefix);
                return 2;
            }
            error.WriteLine(words == 0 ? $"srt: unknown option '{args[0]}'. Run 'srt --help'." : $"srt: unknown command '{prefix}'. Run 'srt --help'.");
            return 2;
        }
        if (help)
        {
            PrintHelp(command, output);
            return 0;
        }
        try
        {
            var arguments = CliArguments.Parse(args.Skip(used).ToList(), command);
            return command.Execute(arguments, output);
        }
        catch (CliUsageException e)
        {
            error.WriteLine($"srt: {e.Message}");
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

    private void PrintOverview(TextWriter writer, string prefix)
    {
        writer.WriteLine("srt: SRT sequential recommendation on ML.NET.");
        writer.WriteLine();
        writer.WriteLine("Usage: srt <command> [options]      (srt <command> --help for its options)");
        writer.WriteLine();
        writer.WriteLine("Commands:");
        var shown = _commands.Where(c => prefix.Length == 0 || c.Name.StartsWith(prefix + " ", StringComparison.Ordinal)).ToList();
        int width = shown.Max(c => c.Name.Length);
        foreach (var c in shown) writer.WriteLine($"  {c.Name.PadRight(width)}  {c.Description}");
    }

    private static void PrintHelp(ICliCommand command, TextWriter writer)
    {
        writer.WriteLine($"srt {command.Name}: {command.Description}");
        writer.WriteLine();
        writer.WriteLine($"Usage: srt {command.Name} {string.Join(' ', command.Options.Where(o => o.Required).Select(o => $"--{o.Name} {o.ValueName}"))} [options]".Replace("  ", " "));
        writer.WriteLine();
        writer.WriteLine("Options:");
        var labels = command.Options.Select(o => (o.Short is null ? "" : $"-{o.Short}, ") + (o.IsFlag ? $"--{o.Name}" : $"--{o.Name} {o.ValueName}")).ToList();
        int width = Math.Max(labels.Max(l => l.Length), "--help".Length);
        for (int k = 0; k < labels.Count; k++)
        {
            var o = command.Options[k];
            var details = o.Required ? " (required)" : o.Default is not null ? $" (default: {o.Default})" : "";
            writer.WriteLine($"  {labels[k].PadRight(width)}  {o.Description}{details}");
        }
        writer.WriteLine($"  {"--help".PadRight(width)}  Show this help.");
    }
}
