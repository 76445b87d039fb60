using System.Net.Http.Json;
using System.Text;
using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Cli.Serving;

/// <summary>
/// For <c>srt benchmark serve --disrupt</c>: while a load level runs, swaps the catalog (the same items sent again through
/// <c>PUT /catalog</c>) and reloads the model in turn, and sends bad requests of <see cref="BadBodies"/>' kinds, counting
/// how each was answered.
/// </summary>
internal sealed class Disruptor
{
    /// <summary>Ten kinds of refused input, each with the path it is sent to.</summary>
    public static readonly (string Path, string Body)[] BadBodies =
    [
        ("/recommendations", "{\"history\": ["),
        ("/recommendations", "[1, 2]"),
        ("/recommendations", "{}"),
        ("/recommendations", "{\"history\": \"a\"}"),
        ("/recommendations", "{\"history\": [3]}"),
        ("/recommendations", "{\"history\": [], \"k\": 0}"),
        ("/recommendations", "{\"history\": [], \"k\": 100000}"),
        ("/recommendations", "{\"history\": [], \"k\": \"ten\"}"),
        ("/recommendations", "{\"histroy\": []}"),
        ("/recommendations/batch", "{\"requests\": [7]}"),
    ];

    private readonly HttpClient _client;
    private readonly byte[] _catalogBody;
    private long _swaps, _reloads, _swapFailures, _bad, _bad4xx, _bad5xx, _badOther;

    public Disruptor(HttpClient client, ItemCatalog catalog)
    {
        _client = client;
        var items = Enumerable.Range(0, catalog.Count).Select(i => new
        {
            id = catalog.GetId(i),
            text = Enumerable.Range(0, catalog.TextFields.Count).ToDictionary(f => catalog.TextFields[f], f => catalog.GetText(i, f)),
            tokens = Enumerable.Range(0, catalog.TokenFields.Count).ToDictionary(f => catalog.TokenFields[f], f => catalog.GetTokens(i, f)),
        });
        _catalogBody = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new { items });
    }

    /// <summary>Runs until <paramref name="stop"/> is cancelled.</summary>
    public Task RunAsync(CancellationToken stop) => Task.WhenAll(Task.Run(() => SwapLoop(stop)), Task.Run(() => BadLoop(stop)));

    private async Task SwapLoop(CancellationToken stop)
    {
        for (int round = 0; !stop.IsCancellationRequested; round++)
        {
            HttpResponseMessage? response = null;
            try
            {
                if (round % 2 == 0)
                {
                    using var content = new ByteArrayContent(_catalogBody);
                    content.Headers.ContentType = new("application/json");
                    response = await _client.PutAsync("/catalog", content, CancellationToken.None).ConfigureAwait(false);
                    Interlocked.Increment(ref _swaps);
                }
                else
                {
                    response = await _client.PostAsync("/admin/reload", null, CancellationToken.None).ConfigureAwait(false);
                    Interlocked.Increment(ref _reloads);
                }
                if (!response.IsSuccessStatusCode) Interlocked.Increment(ref _swapFailures);
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref _swapFailures);
            }
            finally
            {
                response?.Dispose();
            }
            try { await Task.Delay(100, stop).ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
    }

    private async Task BadLoop(CancellationToken stop)
    {
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            var (path, body) = BadBodies[i % BadBodies.Length];
            try
            {
                using var content = new StringContent(body, Encoding.UTF8, "application/json");
                using var response = await _client.PostAsync(path, content, CancellationToken.None).ConfigureAwait(false);
                int status = (int)response.StatusCode;
                Interlocked.Increment(ref status >= 500 ? ref _bad5xx : ref status >= 400 ? ref _bad4xx : ref _badOther);
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref _badOther);
            }
            Interlocked.Increment(ref _bad);
        }
    }

    /// <summary>The counts so far, for the JSON report.</summary>
    public Dictionary<string, long> Counts() => new()
    {
        ["catalog_swaps"] = Interlocked.Read(ref _swaps),
        ["model_reloads"] = Interlocked.Read(ref _reloads),
        ["swap_or_reload_failures"] = Interlocked.Read(ref _swapFailures),
        ["bad_requests"] = Interlocked.Read(ref _bad),
        ["bad_answered_4xx"] = Interlocked.Read(ref _bad4xx),
        ["bad_answered_5xx"] = Interlocked.Read(ref _bad5xx),
        ["bad_answered_otherwise"] = Interlocked.Read(ref _badOther),
    };
}
