namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// One command of the <c>srt</c> tool. To add a command: write a class implementing this interface in
/// <c>Cli/Commands/</c> and add one line to <see cref="CliApp.CreateDefault"/>.
/// </summary>
internal interface ICliCommand
{
    /// <summary>The words that invoke the command, space-separated (for example <c>data inspect</c>).</summary>
    string Name { get; }

    /// <summary>One line for the command list and the top of the command's help.</summary>
    string Description { get; }

    /// <summary>The options the command accepts; the parser rejects any other.</summary>
    IReadOnlyList<CliOption> Options { get; }

    /// <summary>Runs the command and returns the exit code. Errors are thrown (see <see cref="CliApp.Run"/>).</summary>
    int Execute(CliArguments arguments, TextWriter output);
}

/// <summary>A <c>--name value</c> option (or a <c>--name</c> flag when <see cref="IsFlag"/>); <see cref="Short"/> is an optional one-letter alias (<c>-k</c>).</summary>
internal sealed record CliOption(string Name, string Description, string? ValueName = "VALUE", bool Required = false, string? Default = null,
    IReadOnlyList<string>? Choices = null, string? Short = null)
{
    /// <summary>True for an option that takes no value.</summary>
    public bool IsFlag => ValueName is null;
}

/// <summary>Bad command-line usage: printed as one line, exit code 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
