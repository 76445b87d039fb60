using System.Diagnostics;

namespace Microsoft.ML.Srt.Training;

/// <summary>Accumulates wall time per phase of a training step (diagnostics; enabled by SRT_PROFILE=1).</summary>
internal sealed class StepProfiler
{
    private readonly Dictionary<string, double> _seconds = new();
    private readonly Stopwatch _watch = new();
    private long _steps;

    /// <summary>Closes the running phase under <paramref name="phase"/>; null starts a new step.</summary>
    public void Mark(string? phase)
    {
        if (phase is null) { _steps++; _watch.Restart(); return; }
        _seconds[phase] = _seconds.GetValueOrDefault(phase) + _watch.Elapsed.TotalSeconds;
        _watch.Restart();
    }

    public override string ToString() =>
        $"step profile over {_steps} steps (ms/step): " +
        string.Join(", ", _seconds.Select(p => $"{p.Key} {p.Value * 1000 / Math.Max(1, _steps):F1}"));
}
