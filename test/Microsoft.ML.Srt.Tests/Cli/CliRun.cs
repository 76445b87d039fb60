using Microsoft.ML.Srt.Cli;

namespace Microsoft.ML.Srt.Tests.Cli;

/// <summary>Runs the srt tool in-process and captures what it wrote.</summary>
internal static class CliRun
{
    /// <summary>The exit code, standard output and standard error of <c>srt ARGS</c>.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
