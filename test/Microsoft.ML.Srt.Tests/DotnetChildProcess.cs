using System.Diagnostics;

namespace Microsoft.ML.Srt.Tests;

/// <summary>Runs a built .NET assembly in a fresh process under the dotnet host that runs the tests.</summary>
internal static class DotnetChildProcess
{
    /// <summary>Runs <paramref name="dll"/> with <paramref name="args"/>; kills it and throws after 3 minutes.</summary>
    public static (int Code, string Stdout, string Stderr) Run(string dll, params string[] args)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(host) || !File.Exists(host))
            host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(180_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(dll)} {string.Join(' ', args.Take(1))} did not finish within 3 minutes.");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
