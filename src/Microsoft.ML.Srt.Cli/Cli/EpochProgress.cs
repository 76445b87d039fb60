using System.Globalization;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Training;
using Spectre.Console;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// Shows training progress: a live progress bar on an interactive terminal, one plain line per epoch otherwise
/// (redirected output, CI). Shared by every command that trains.
/// </summary>
internal static class EpochProgress
{
    /// <summary>
    /// Runs <paramref name="train"/> with <paramref name="options"/>' Progress wired to the display; epoch lines end up on
    /// <paramref name="lines"/> either way. <paramref name="also"/> (a runs-table recorder, for example) gets every report first.
    /// </summary>
    public static SrtModel Run(SrtTrainer.Options options, Func<SrtModel> train, TextWriter lines, bool interactive, IAnsiConsole? console = null,
        IProgress<SrtEpochReport>? also = null)
    {
        if (!interactive)
        {
            options.Progress = new SyncProgress(r => { also?.Report(r); lines.WriteLine(Line(r)); });
            return train();
        }
        SrtModel model = null!;
        (console ?? AnsiConsole.Console).Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("epoch 0", maxValue: options.Epochs);
                options.Progress = new SyncProgress(r =>
                {
                    also?.Report(r);
                    task.Increment(1);
                    task.Description = string.Create(CultureInfo.InvariantCulture,
                        $"epoch {r.Epoch}/{r.PlannedEpochs} loss {r.TrainLoss:F3} val NDCG@10 {r.ValidationNdcg10:F4}");
                });
                model = train();
                task.Value = task.MaxValue;
            });
        foreach (var r in model.TrainingSummary!.Epochs) lines.WriteLine(Line(r));
        return model;
    }

    /// <summary>One epoch as a line: loss, validation NDCG@10, seconds, throughput; <c>*</c> marks the best epoch so far.</summary>
    public static string Line(SrtEpochReport r) => string.Create(CultureInfo.InvariantCulture,
        $"  epoch {r.Epoch,3}/{r.PlannedEpochs}  loss {r.TrainLoss:F4}  val NDCG@10 {r.ValidationNdcg10:F4}  " +
        $"{r.TrainSeconds + r.ValidationSeconds,6:F1} s  {r.SequencesPerSecond,6:F0} seq/s{(r.IsBest ? "  *" : "")}");

    /// <summary>Reports on the training thread as they come (Progress&lt;T&gt; would post to a thread pool).</summary>
    internal sealed class SyncProgress(Action<SrtEpochReport> report) : IProgress<SrtEpochReport>
    {
        public void Report(SrtEpochReport value) => report(value);
    }
}
