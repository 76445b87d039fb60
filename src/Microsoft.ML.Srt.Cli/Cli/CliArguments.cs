namespace Microsoft.ML.Srt.Cli;

/// <summary>The options given to a command, checked against its <see cref="ICliCommand.Options"/>.</summary>
internal sealed class CliArguments
{
    private readonly Dictionary<string, string?> _values;

    private CliArguments(Dictionary<string, string?> values) => _values = values;

    /// <summary>Parses <c>--name value</c>, <c>--name=value</c>, <c>--flag</c>, <c>-x value</c> for a one-letter option <c>x</c>, and one-letter aliases (<c>-k value</c>); unknown, repeated or missing options are usage errors.</summary>
    public static CliArguments Parse(IReadOnlyList<string> args, ICliCommand command)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (int k = 0; k < args.Count; k++)
        {
            var arg = args[k];
            // A one-letter alias (-k 10) or a one-letter option written with one dash.
            if (arg.Length == 2 && arg[0] == '-' && arg[1] != '-')
            {
                if (command.Options.FirstOrDefault(o => o.Short == arg[1..]) is { } aliased) arg = "--" + aliased.Name;
                else if (command.Options.Any(o => o.Name == arg[1..])) arg = "-" + arg;
            }
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
                throw new CliUsageException($"unexpected argument '{arg}' for 'srt {command.Name}' (options start with --).");
            var name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            var option = command.Options.FirstOrDefault(o => o.Name == name)
                ?? throw new CliUsageException($"unknown option '--{name}' for 'srt {command.Name}' (see 'srt {command.Name} --help').");
            if (values.ContainsKey(name)) throw new CliUsageException($"option '--{name}' is given twice.");
            if (!option.IsFlag && value is null)
            {
                if (k + 1 >= args.Count || args[k + 1].StartsWith("--", StringComparison.Ordinal))
                    throw new CliUsageException($"option '--{name}' needs a value ({option.ValueName}).");
                value = args[++k];
            }
            else if (option.IsFlag && value is not null)
            {
                throw new CliUsageException($"option '--{name}' takes no value.");
            }
            if (option.Choices is { } choices && !choices.Contains(value))
                throw new CliUsageException($"option '--{name}' must be one of {string.Join(", ", choices)}; got '{value}'.");
            values[name] = value;
        }
        foreach (var option in command.Options.Where(o => o.Required && !values.ContainsKey(o.Name)))
            throw new CliUsageException($"option '--{option.Name}' is required for 'srt {command.Name}'.");
        foreach (var option in command.Options.Where(o => o.Default is not null && !values.ContainsKey(o.Name)))
            values[option.Name] = option.Default;
        return new CliArguments(values);
    }

    /// <summary>The value of an option, or null when it was not given and has no default.</summary>
    public string? Get(string name) => _values.TryGetValue(name, out var v) ? v : null;

    /// <summary>The value of a required option.</summary>
    public string GetRequired(string name) => Get(name) ?? throw new CliUsageException($"option '--{name}' is required.");

    /// <summary>A comma-separated list option, or null when absent.</summary>
    public string[]? GetList(string name) =>
        Get(name)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>An integer option; <paramref name="fallback"/> when absent.</summary>
    public int GetInt(string name, int fallback)
    {
        var value = Get(name);
        if (value is null) return fallback;
        return int.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int n)
            ? n : throw new CliUsageException($"option '--{name}' needs an integer; got '{value}'.");
    }

    /// <summary>A number option; <paramref name="fallback"/> when absent.</summary>
    public double GetDouble(string name, double fallback)
    {
        var value = Get(name);
        if (value is null) return fallback;
        return double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d)
            ? d : throw new CliUsageException($"option '--{name}' needs a number; got '{value}'.");
    }

    /// <summary>True when a flag was given.</summary>
    public bool Has(string name) => _values.ContainsKey(name);
}
