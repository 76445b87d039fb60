using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.ML.Srt.Scoring;

namespace Microsoft.ML.Srt.Cli.Serving;

/// <summary>
/// Scores requests that arrive together in one <see cref="SrtRecommender.RecommendBatch"/> call: a single background loop
/// takes the first waiting request, collects more for at most <see cref="ServeOptions.BatchWait"/> or until
/// <see cref="ServeOptions.MaxBatch"/>, and completes each request's task with its own result.
/// </summary>
internal sealed class MicroBatcher : IAsyncDisposable
{
    private readonly SrtRecommender _recommender;
    private readonly ServerMetrics _metrics;
    private readonly int _maxBatch;
    private readonly long _waitTicks;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Task _loop;

    public MicroBatcher(SrtRecommender recommender, ServerMetrics metrics, ServeOptions options)
    {
        _recommender = recommender;
        _metrics = metrics;
        _maxBatch = options.MaxBatch;
        _waitTicks = (long)(options.BatchWait.TotalSeconds * Stopwatch.Frequency);
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Queues one request; the task ends with its result (or the batch's exception).</summary>
    public Task<RecommendationResult> RecommendAsync(RecommendationRequest request)
    {
        var pending = new Pending(request, new TaskCompletionSource<RecommendationResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending)) throw new ObjectDisposedException(nameof(MicroBatcher));
        return pending.Completion.Task;
    }

    private async Task LoopAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<Pending>(_maxBatch);
        // Several waits may be pending (one left behind when the deadline won): the channel allows many readers' waits.
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            long deadline = Stopwatch.GetTimestamp() + _waitTicks;
            while (batch.Count < _maxBatch)
            {
                if (reader.TryRead(out var next)) { batch.Add(next); continue; }
                long left = deadline - Stopwatch.GetTimestamp();
                if (left <= 0) break;
                var waiting = reader.WaitToReadAsync().AsTask();
                var delay = Task.Delay(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
                if (await Task.WhenAny(waiting, delay).ConfigureAwait(false) != waiting || !await waiting.ConfigureAwait(false)) break;
            }
            if (batch.Count == 0) continue;
            Run(batch);
            batch.Clear();
        }
    }

    private void Run(List<Pending> batch)
    {
        _metrics.RecordBatch(batch.Count);
        try
        {
            var results = _recommender.RecommendBatch(batch.ConvertAll(p => p.Request));
            for (int i = 0; i < batch.Count; i++) batch[i].Completion.TrySetResult(results[i]);
        }
        catch (Exception e)
        {
            foreach (var p in batch) p.Completion.TrySetException(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private sealed record Pending(RecommendationRequest Request, TaskCompletionSource<RecommendationResult> Completion);
}
