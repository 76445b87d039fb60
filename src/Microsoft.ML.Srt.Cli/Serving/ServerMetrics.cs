using System.Diagnostics;

namespace Microsoft.ML.Srt.Cli.Serving;

/// <summary>Counters for <c>GET /metrics</c>: requests, errors, latency percentiles over the most recent requests, micro-batches.</summary>
internal sealed class ServerMetrics
{
    private const int Window = 10_000; // latencies kept for the percentiles: the most recent requests
    private readonly object _lock = new();
    private readonly double[] _latencies = new double[Window];
    private long _requests, _clientErrors, _serverErrors, _batches, _batchedRequests, _batchesOverOne;
    private int _maxBatch;

    public void RecordRequest(int status, long startTimestamp)
    {
        double ms = Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;
        lock (_lock)
        {
            _latencies[_requests % Window] = ms;
            _requests++;
            if (status >= 500) _serverErrors++;
            else if (status >= 400) _clientErrors++;
        }
    }

    public void RecordBatch(int size)
    {
        lock (_lock)
        {
            _batches++;
            _batchedRequests += size;
            if (size > 1) _batchesOverOne++;
            _maxBatch = Math.Max(_maxBatch, size);
        }
    }

    public object Snapshot(string modelPath, int catalogSize)
    {
        lock (_lock)
        {
            int n = (int)Math.Min(_requests, Window);
            var sorted = _latencies.AsSpan(0, n).ToArray();
            Array.Sort(sorted);
            double P(double q) => n == 0 ? 0 : sorted[Math.Min(n - 1, (int)Math.Ceiling(q * n) - 1)];
            return new
            {
                requests = _requests,
                clientErrors = _clientErrors,
                serverErrors = _serverErrors,
                latencyMs = new { p50 = P(0.50), p99 = P(0.99), window = n },
                batches = new { count = _batches, requests = _batchedRequests, withMoreThanOne = _batchesOverOne, largest = _maxBatch },
                model = modelPath,
                catalogSize,
            };
        }
    }
}
