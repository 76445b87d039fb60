using System.Diagnostics;

namespace Microsoft.ML.Srt.Training;

/// <summary>The learning rate along a run (or, later, along one stage of a staged fine-tuning).</summary>
internal interface ILearningRateSchedule
{
    /// <summary>The learning rate once <paramref name="progress"/> (0 to 1) of the run is done.</summary>
    double At(double progress);
}

/// <summary>Linear warm-up to the peak, then cosine decay to zero (the paper's one-cycle schedule).</summary>
/// <param name="peak">The highest learning rate, reached at the end of the warm-up.</param>
/// <param name="warmupFraction">Fraction of the run spent warming up (0 to 1).</param>
internal sealed class OneCycleSchedule(double peak, double warmupFraction) : ILearningRateSchedule
{
    /// <inheritdoc/>
    public double At(double progress)
    {
        if (warmupFraction > 0 && progress < warmupFraction) return peak * Math.Max(progress / warmupFraction, 0.01);
        double decay = warmupFraction >= 1 ? 0 : (progress - warmupFraction) / (1 - warmupFraction);
        return peak * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(decay, 0, 1)));
    }
}

/// <summary>
/// How far a run is: the steps taken of those planned or, with a wall-clock budget, whichever of steps and time is
/// further along, so the schedule has decayed when the time is up. Also counts steps, sequences and step time.
/// </summary>
/// <param name="plannedSteps">Steps of all planned epochs.</param>
/// <param name="maxMinutes">The wall-clock budget in minutes, 0 for none.</param>
internal sealed class TrainingProgress(long plannedSteps, double maxMinutes)
{
    private readonly Stopwatch _watch = Stopwatch.StartNew();

    /// <summary>Optimizer steps taken.</summary>
    public long Steps { get; private set; }

    /// <summary>Training sequences seen.</summary>
    public long Sequences { get; private set; }

    /// <summary>Wall-clock seconds spent in steps.</summary>
    public double StepSeconds { get; private set; }

    private double _earlierSeconds;

    /// <summary>Wall-clock seconds since the run started, validation included (with a resumed run's earlier seconds).</summary>
    public double ElapsedSeconds => _earlierSeconds + _watch.Elapsed.TotalSeconds;

    /// <summary>The fraction of the run done (above 1 once a wall-clock budget is overrun).</summary>
    public double Fraction()
    {
        double progress = (double)Steps / plannedSteps;
        return maxMinutes > 0 ? Math.Max(progress, ElapsedSeconds / 60 / maxMinutes) : progress;
    }

    /// <summary>True when a wall-clock budget is set and <paramref name="fraction"/> has reached its end.</summary>
    public bool OutOfTime(double fraction) => maxMinutes > 0 && fraction >= 1;

    /// <summary>Continues the counts of a run resumed from a checkpoint: its steps, sequences, step seconds and elapsed seconds.</summary>
    public void Resume(long steps, long sequences, double stepSeconds, double elapsedSeconds)
    {
        (Steps, Sequences, StepSeconds, _earlierSeconds) = (steps, sequences, stepSeconds, elapsedSeconds);
        _watch.Restart();
    }

    /// <summary>Counts a step over <paramref name="sequences"/> sequences that took <paramref name="seconds"/>.</summary>
    public void Record(int sequences, double seconds)
    {
        Steps++;
        Sequences += sequences;
        StepSeconds += seconds;
    }
}
