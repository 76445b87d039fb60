using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// The resumable steps of a benchmark command (<c>srt benchmark beauty</c>, <c>srt benchmark transfer</c>): each step runs
/// child <c>srt</c> commands and saves their JSON results in one file, atomically, as soon as it finishes; a rerun skips
/// a step whose saved file was made with the same commands and data.
/// </summary>
internal sealed class BenchmarkSteps(TextWriter progress, SrtChildProcess child, bool force)
{
    private static readonly JsonSerializerOptions _indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly TextWriter _progress = progress;

    /// <summary>
    /// Runs one step (a benchmark row) unless its result file holds the same configuration: each command as a child
    /// <c>srt</c>, then the result file written atomically. Returns "skipped" or "ran".
    /// </summary>
    public string Run(string name, string resultPath, IReadOnlyDictionary<string, string[]> commands, JsonObject data, string benchmarkCommand)
    {
        var config = new JsonObject
        {
            ["row"] = name,
            ["commands"] = new JsonObject(commands.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)new JsonArray([.. c.Value.Select(a => JsonValue.Create(a))])))),
            ["data"] = data,
        };
        if (File.Exists(resultPath))
        {
            if (!force && SavedConfiguration(resultPath) is { } saved && JsonNode.DeepEquals(saved, config))
            {
                _progress.WriteLine($"{name}: skipped ({Path.GetFileName(resultPath)} was made with the same commands and data; --force runs it again).");
                return "skipped";
            }
            _progress.WriteLine(force ? $"{name}: --force, running it again." : $"{name}: its commands or data changed since {Path.GetFileName(resultPath)} was written; running it again.");
            File.Delete(resultPath); // a stale result must not outlive a failed rerun
        }

        var rowDir = Path.Combine(Path.GetDirectoryName(resultPath)!, name);
        Directory.CreateDirectory(rowDir);
        var started = DateTimeOffset.UtcNow;
        var results = new JsonObject();
        foreach (var (step, args) in commands)
        {
            var metricsPath = Path.Combine(rowDir, step + ".json");
            File.Delete(metricsPath); // never read an earlier run's file
            _progress.WriteLine($"{name}: srt {string.Join(' ', args.Select(SrtChildProcess.Quote))}");
            var result = child.Run(args, line => _progress.WriteLine($"  [{name} {step}] {line}"), Path.Combine(rowDir, step + ".log"));
            if (result.ExitCode != 0)
                throw new InvalidOperationException($"benchmark row '{name}' failed: 'srt {string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')))}' exited with code {result.ExitCode}" +
                    $"{(result.LastErrorLine is null ? "" : $" ({result.LastErrorLine})")}; its log is {Path.Combine(rowDir, step + ".log")}. Finished rows are kept in {Path.GetDirectoryName(resultPath)}.");
            var json = File.Exists(metricsPath) && args.Contains(metricsPath) ? File.ReadAllText(metricsPath) : result.StandardOutput;
            try
            {
                results[step] = JsonNode.Parse(json);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"benchmark row '{name}': 'srt {args[0]}' printed no JSON result ({e.Message}).", e);
            }
            _progress.WriteLine($"{name}: {step} done in {result.Seconds / 60:F1} min.");
        }
        var file = new JsonObject
        {
            ["row"] = name,
            ["config"] = config,
            ["benchmark_command"] = benchmarkCommand,
            ["started_utc"] = started.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            ["finished_utc"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            ["wall_seconds"] = Math.Round((DateTimeOffset.UtcNow - started).TotalSeconds, 1),
            ["machine"] = MachineInfo(),
            ["results"] = results,
        };
        WriteAtomically(resultPath, file.ToJsonString(_indented) + Environment.NewLine);
        _progress.WriteLine($"{name}: saved {resultPath}.");
        return "ran";
    }

    private static JsonNode? SavedConfiguration(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path))?["config"];
        }
        catch (JsonException)
        {
            return null; // unreadable: run the row again
        }
    }

    /// <summary>Size and SHA-256 of each file, by file name: a result made from other data is not reused.</summary>
    public static JsonObject Fingerprint(IEnumerable<string> files) => new(files.Select(f => KeyValuePair.Create(Path.GetFileName(f), (JsonNode?)FileFingerprint(f))));

    public static JsonObject FileFingerprint(string path)
    {
        using var stream = File.OpenRead(path);
        return new JsonObject { ["bytes"] = stream.Length, ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(stream)) };
    }

    /// <summary>An ARGS option split on white space (no quoting).</summary>
    public static string[] SplitArgs(string? value) => value?.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>An error when the ARGS option <paramref name="option"/> sets an option the benchmark sets itself; null when it does not.</summary>
    public static string? Refused(string option, string? value, string[] setByBenchmark)
    {
        foreach (var a in SplitArgs(value).Where(a => a.StartsWith("--", StringComparison.Ordinal)))
        {
            var name = a[2..].Split('=')[0];
            if (setByBenchmark.Contains(name))
                return $"option '{option}' may not set --{name}: the benchmark sets it for each row.";
        }
        return null;
    }

    /// <summary>A path relative to the current folder (as commands in docs are written), or as is when that is shorter.</summary>
    public static string DisplayPath(string path)
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative.Length < path.Length ? relative : path;
    }

    /// <summary>The CPU model, cores, memory, OS and runtime of this machine.</summary>
    public static JsonObject MachineInfo()
    {
        string? cpu = null;
        double? memoryGiB = null;
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
            if (File.Exists("/proc/meminfo")
                && File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) is { } line
                && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture, out long kb))
                memoryGiB = Math.Round(kb / (1024.0 * 1024.0), 1);
        }
        catch (IOException)
        {
            // not Linux, or not readable: the facts stay unknown
        }
        return new JsonObject
        {
            ["cpu"] = cpu ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(),
            ["cores"] = Environment.ProcessorCount,
            ["memory_gib"] = memoryGiB,
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        };
    }

    /// <summary>Writes a temporary file beside <paramref name="path"/>, then renames it over: readers never see half a file.</summary>
    public static void WriteAtomically(string path, string text)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    public static void WriteAtomically(string path, byte[] bytes)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }
}
