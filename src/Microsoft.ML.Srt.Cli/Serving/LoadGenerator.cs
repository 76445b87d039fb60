using System.Diagnostics;
using System.Net.Http.Json;

namespace Microsoft.ML.Srt.Cli.Serving;

/// <summary>
/// A bounded, self-stopping load generator for <c>srt benchmark serve</c>: <c>concurrency</c> clients post
/// <c>POST /recommendations</c> back to back until a fixed number of requests is sent or a time limit passes, whichever
/// comes first; every request's latency is kept.
/// </summary>
internal static class LoadGenerator
{
    /// <summary>What one level measured.</summary>
    public sealed record Level(int Concurrency, int Requests, int Failed, double Seconds, bool StoppedByTime, double RequestsPerSecond, double P50Ms, double P99Ms, double MaxMs);

    /// <summary>Sends up to <paramref name="requests"/> requests with <paramref name="concurrency"/> clients, for at most <paramref name="limit"/>.</summary>
    public static async Task<Level> RunAsync(HttpClient client, IReadOnlyList<string[]> histories, int k, int concurrency, int requests, TimeSpan limit)
    {
        int next = -1, failed = 0;
        var latencies = new double[requests];
        var clock = Stopwatch.StartNew();
        async Task Client()
        {
            while (clock.Elapsed < limit)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= requests) return;
                long start = Stopwatch.GetTimestamp();
                bool ok;
                try
                {
                    using var response = await client.PostAsJsonAsync("/recommendations", new { history = histories[i % histories.Count], k }).ConfigureAwait(false);
                    await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                    ok = response.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    ok = false;
                }
                catch (TaskCanceledException)
                {
                    ok = false;
                }
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (!ok) Interlocked.Increment(ref failed);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Client))).ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        // The time limit is checked before an index is taken, so every index taken below `requests` was sent.
        int sent = Math.Min(requests, next + 1);
        var done = latencies.AsSpan(0, sent).ToArray();
        Array.Sort(done);
        double P(double q) => done.Length == 0 ? 0 : done[Math.Min(done.Length - 1, Math.Max(0, (int)Math.Ceiling(q * done.Length) - 1))];
        return new Level(concurrency, sent, failed, Math.Round(seconds, 3), sent < requests, Math.Round(sent / seconds, 1),
            Math.Round(P(0.5), 3), Math.Round(P(0.99), 3), Math.Round(done.Length == 0 ? 0 : done[^1], 3));
    }
}
