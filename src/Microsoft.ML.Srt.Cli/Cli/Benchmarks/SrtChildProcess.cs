using System.Diagnostics;

namespace Microsoft.ML.Srt.Cli;

/// <summary>What one child <c>srt</c> command left behind: its exit code, standard output and last error line.</summary>
internal sealed record SrtChildResult(int ExitCode, string StandardOutput, string? LastErrorLine, double Seconds);

/// <summary>
/// Runs another <c>srt</c> command as a child process of the same executable, so that each benchmark row has its own
/// process (its own peak RSS and start-up) and its numbers come from the project's ordinary commands.
/// </summary>
internal sealed class SrtChildProcess
{
    private SrtChildProcess(string fileName, IReadOnlyList<string> prefix)
    {
        FileName = fileName;
        PrefixArguments = prefix;
    }

    /// <summary>The program started: the <c>srt</c> app host, or the <c>dotnet</c> host.</summary>
    public string FileName { get; }

    /// <summary>Arguments before the command's own: the path of <c>srt.dll</c> when <see cref="FileName"/> is the dotnet host.</summary>
    public IReadOnlyList<string> PrefixArguments { get; }

    /// <summary>
    /// The <c>srt</c> this process runs: the app host itself when it was started as <c>srt</c>, otherwise (under
    /// <c>dotnet srt.dll</c>, or a test host that loaded the CLI's assembly) the dotnet host with <c>srt.dll</c>.
    /// </summary>
    public static SrtChildProcess ForThisExecutable()
    {
        var dll = typeof(CliApp).Assembly.Location;
        if (string.IsNullOrEmpty(dll))
            throw new InvalidOperationException("cannot find srt.dll to start the benchmark's child commands (the CLI runs from a single-file bundle).");
        var processPath = Environment.ProcessPath;
        var appHost = Path.Combine(Path.GetDirectoryName(dll)!, Path.GetFileNameWithoutExtension(dll) + (OperatingSystem.IsWindows() ? ".exe" : ""));
        if (processPath is not null && string.Equals(Path.GetFullPath(processPath), Path.GetFullPath(appHost), StringComparison.Ordinal))
            return new SrtChildProcess(appHost, []);
        return new SrtChildProcess(DotnetHost(processPath), [dll]);
    }

    /// <summary>
    /// Runs <c>srt <paramref name="arguments"/></c>, handing each line it writes to its error stream to
    /// <paramref name="errorLine"/> as it comes and appending it to <paramref name="logPath"/>; waits for the exit.
    /// </summary>
    public SrtChildResult Run(IReadOnlyList<string> arguments, Action<string> errorLine, string logPath)
    {
        var start = new ProcessStartInfo(FileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var a in PrefixArguments.Concat(arguments)) start.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        log.WriteLine($"$ srt {string.Join(' ', arguments.Select(Quote))}");
        var gate = new object();
        string? last = null;
        using var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (gate)
            {
                log.WriteLine(e.Data);
                if (e.Data.Trim().Length > 0) last = e.Data.Trim();
                errorLine(e.Data);
            }
        };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot start '{FileName}' to run 'srt {arguments.FirstOrDefault()}': {e.Message}", e);
        }
        process.StandardInput.Close();
        process.BeginErrorReadLine();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit(); // also waits for the last error lines to be handled
        lock (gate) log.WriteLine($"(exit code {process.ExitCode} after {clock.Elapsed.TotalSeconds:F1} s)");
        return new SrtChildResult(process.ExitCode, output, last, clock.Elapsed.TotalSeconds);
    }

    /// <summary>An argument as a shell would need it written (for logs and documents).</summary>
    public static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_./:=,@+%".Contains(c)) ? argument : "'" + argument.Replace("'", "'\\''") + "'";

    private static string DotnetHost(string? processPath)
    {
        var exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (processPath is not null && Path.GetFileName(processPath).Equals(exe, StringComparison.OrdinalIgnoreCase)) return processPath;
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath)) return hostPath;
        // The runtime's own folder is <root>/shared/Microsoft.NETCore.App/<version>/; the host sits in <root>.
        var runtime = Path.GetDirectoryName(typeof(object).Assembly.Location);
        var root = runtime is null ? null : Path.GetFullPath(Path.Combine(runtime, "..", "..", ".."));
        if (root is not null && File.Exists(Path.Combine(root, exe))) return Path.Combine(root, exe);
        return exe; // from PATH
    }
}
