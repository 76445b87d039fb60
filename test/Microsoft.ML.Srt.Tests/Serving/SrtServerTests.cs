using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.ML.Srt.Cli.Serving;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Tests.Persistence;
using Microsoft.ML.Srt.Tests.Scoring;

namespace Microsoft.ML.Srt.Tests.Serving;

/// <summary>A tiny model saved to a temp file, and a server over it on 127.0.0.1 (a free port).</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private readonly TinyModelFixture _tiny = new();
    private readonly TempFiles _files = new();

    public SrtModel Model => _tiny.Model;

    public string ModelPath { get; private set; } = "";

    internal WebApplication App { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        ModelPath = Path.Combine(_files.Folder, "model.zip");
        _tiny.Model.Save(ModelPath);
        (App, Client) = await StartAsync(ModelPath);
    }

    internal static async Task<(WebApplication App, HttpClient Client)> StartAsync(string modelPath, TimeSpan? batchWait = null)
    {
        var options = new ServeOptions { ModelPath = modelPath, Urls = "http://127.0.0.1:0", Device = "cpu", BatchWait = batchWait ?? TimeSpan.FromMilliseconds(1) };
        var app = await SrtServer.StartAsync(options);
        var url = app.Urls.Single();
        Assert.StartsWith("http://127.0.0.1:", url);
        return (app, new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) });
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        _tiny.Dispose();
        _files.Dispose();
    }
}

public class SrtServerTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private readonly HttpClient _client = fixture.Client;

    private ItemCatalog Catalog => fixture.Model.Catalog;

    private string Id(int i) => Catalog.GetId(i);

    private async Task<JsonElement> PostOk(string path, object body)
    {
        using var response = await _client.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static string[] Ids(JsonElement items) => items.EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToArray();

    [Fact]
    public async Task RecommendsLikeTheLibraryAndReportsUnknownIds()
    {
        using var recommender = new SrtRecommender(fixture.Model);
        string[] history = [Id(3), "nope", Id(40), Id(7)];
        var body = await PostOk("/recommendations", new { history, k = 5 });
        var expected = recommender.Recommend(history, 5);
        var items = body.GetProperty("items");
        ScoreAgreement.AssertSameTopK(expected.Items.Select(i => i.Id).ToList(), expected.Items.Select(i => i.Score).ToList(),
            Ids(items), items.EnumerateArray().Select(i => i.GetProperty("score").GetSingle()).ToList(), "served: ");
        Assert.All(items.EnumerateArray(), i => Assert.Equal(Catalog.GetTitle(Catalog.TryGetIndex(i.GetProperty("id").GetString()!, out int x) ? x : -1), i.GetProperty("title").GetString()));
        Assert.Equal(["nope"], body.GetProperty("skipped").EnumerateArray().Select(s => s.GetString()));
        Assert.False(body.GetProperty("fallback").GetBoolean());

        // exclude: the best item is left out and the next ones move up.
        var best = Ids(items)[0];
        var excluded = await PostOk("/recommendations", new { history, k = 4, exclude = new[] { best } });
        Assert.DoesNotContain(best, Ids(excluded.GetProperty("items")));
        Assert.Equal(4, excluded.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task EmptyOrUnknownHistoryGetsThePopularityFallback()
    {
        foreach (var history in new[] { Array.Empty<string>(), ["x", "y"] })
        {
            var body = await PostOk("/recommendations", new { history, k = 7 });
            Assert.True(body.GetProperty("fallback").GetBoolean());
            Assert.Equal(7, body.GetProperty("items").GetArrayLength());
            Assert.Equal(history.Length, body.GetProperty("skipped").GetArrayLength());
        }
    }

    [Fact]
    public async Task BatchAnswersEachRequestInOrder()
    {
        var body = await PostOk("/recommendations/batch", new
        {
            requests = new object[] { new { history = new[] { Id(1), Id(2) }, k = 3 }, new { history = Array.Empty<string>(), k = 2 }, new { history = new[] { Id(9), "zzz" } } },
        });
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(3, results.Length);
        Assert.Equal(3, results[0].GetProperty("items").GetArrayLength());
        Assert.False(results[0].GetProperty("fallback").GetBoolean());
        Assert.True(results[1].GetProperty("fallback").GetBoolean());
        Assert.Equal(2, results[1].GetProperty("items").GetArrayLength());
        Assert.Equal(10, results[2].GetProperty("items").GetArrayLength()); // k defaults to 10
        Assert.Equal(["zzz"], results[2].GetProperty("skipped").EnumerateArray().Select(s => s.GetString()));
        // Batched scores agree with single requests within float rounding (another batch shape is another computation).
        var single = await PostOk("/recommendations", new { history = new[] { Id(1), Id(2) }, k = 3 });
        ScoreAgreement.AssertSameTopK(Ids(single.GetProperty("items")), single.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("score").GetSingle()).ToList(),
            Ids(results[0].GetProperty("items")), results[0].GetProperty("items").EnumerateArray().Select(i => i.GetProperty("score").GetSingle()).ToList(), "batch vs single: ");
    }

    [Fact]
    public async Task SimilarItemsAndHealth()
    {
        using var recommender = new SrtRecommender(fixture.Model);
        var body = JsonDocument.Parse(await _client.GetStringAsync($"/items/{Uri.EscapeDataString(Id(5))}/similar?k=4")).RootElement;
        var expected = recommender.SimilarItems(Id(5), 4);
        var items = body.GetProperty("items");
        ScoreAgreement.AssertSameTopK(expected.Items.Select(i => i.Id).ToList(), expected.Items.Select(i => i.Score).ToList(),
            Ids(items), items.EnumerateArray().Select(i => i.GetProperty("score").GetSingle()).ToList(), "similar: ");
        Assert.DoesNotContain(Id(5), Ids(items));

        using var missing = await _client.GetAsync("/items/no-such-item/similar");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);

        var health = JsonDocument.Parse(await _client.GetStringAsync("/health")).RootElement;
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(Catalog.Count, health.GetProperty("catalogSize").GetInt32());
    }

    [Fact]
    public async Task OpenApiDocumentDescribesTheEndpoints()
    {
        var doc = JsonDocument.Parse(await _client.GetStringAsync("/openapi/v1.json")).RootElement;
        var paths = doc.GetProperty("paths");
        foreach (var path in new[] { "/recommendations", "/recommendations/batch", "/items/{id}/similar", "/catalog", "/admin/reload", "/health", "/metrics" })
            Assert.True(paths.TryGetProperty(path, out _), $"{path} missing from the OpenAPI document");
        var post = paths.GetProperty("/recommendations").GetProperty("post");
        Assert.True(post.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        Assert.True(post.GetProperty("responses").TryGetProperty("400", out _));
        Assert.Contains("history", doc.GetProperty("components").GetProperty("schemas").GetProperty("RecommendationBody").GetProperty("properties").EnumerateObject().Select(p => p.Name));
    }

    public static TheoryData<string, string, string, string, int> BadRequests() => new()
    {
        // method, path, body, field named, status
        { "POST", "/recommendations", "{\"history\": [", "body", 400 },
        { "POST", "/recommendations", "", "body", 400 },
        { "POST", "/recommendations", "[\"a\"]", "body", 400 },
        { "POST", "/recommendations", "{}", "history", 400 },
        { "POST", "/recommendations", "{\"history\": \"a,b\"}", "history", 400 },
        { "POST", "/recommendations", "{\"history\": [1, 2]}", "history[0]", 400 },
        { "POST", "/recommendations", "{\"history\": [], \"k\": \"5\"}", "k", 400 },
        { "POST", "/recommendations", "{\"history\": [], \"k\": 0}", "k", 400 },
        { "POST", "/recommendations", "{\"history\": [], \"k\": -3}", "k", 400 },
        { "POST", "/recommendations", "{\"history\": [], \"k\": 1001}", "k", 400 },
        { "POST", "/recommendations", "{\"history\": [], \"k\": 2.5}", "k", 400 },
        { "POST", "/recommendations", "{\"history\": [], \"k\": 99999999999}", "k", 400 },
        { "POST", "/recommendations", "{\"history\": [], \"exclude\": {\"a\": 1}}", "exclude", 400 },
        { "POST", "/recommendations", "{\"histroy\": []}", "histroy", 400 },
        { "POST", "/recommendations", "{\"history\": [" + string.Join(",", Enumerable.Repeat("\"a\"", 1001)) + "]}", "history", 400 },
        { "POST", "/recommendations", "{\"history\": [\"" + new string('a', 1_100_000) + "\"]}", "body", 413 },
        { "POST", "/recommendations/batch", "{\"requests\": []}", "requests", 400 },
        { "POST", "/recommendations/batch", "{\"requests\": [{\"history\": []}, 5]}", "requests[1]", 400 },
        { "POST", "/recommendations/batch", "{\"requests\": [{\"history\": []}, {\"history\": [], \"k\": 0}]}", "requests[1].k", 400 },
        { "GET", "/items/x/similar?k=abc", "", "k", 400 },
        { "GET", "/items/x/similar?k=0", "", "k", 400 },
        { "PUT", "/catalog", "{\"items\": [{\"id\": \"\"}]}", "items[0].id", 400 },
        { "PUT", "/catalog", "{\"items\": [{\"id\": \"a\", \"text\": {\"nope\": \"x\"}}]}", "items[0].text.nope", 400 },
        { "PUT", "/catalog", "{\"items\": [{\"id\": \"a\"}, {\"id\": \"a\"}]}", "items[1].id", 400 },
        { "PUT", "/catalog", "{\"remove\": [\"no-such-item\"]}", "remove[0]", 400 },
        { "PUT", "/catalog", "{\"items\": [{\"id\": \"a\"}], \"add\": []}", "items", 400 },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadInputIsRefusedWithAProblemNamingTheFieldAndTheServerGoesOn(string method, string path, string body, string field, int status)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method != "GET") request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        // An oversized body is refused from its Content-Length; without 100-continue the client may still be writing it
        // when the server closes the connection, and the test would see a broken pipe instead of the answer.
        if (status == 413) request.Headers.ExpectContinue = true;
        using var response = await _client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{method} {path} {Truncate(body)}: {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out var messages), $"field '{field}' not named: {text}");
        Assert.NotEmpty(messages.EnumerateArray().First().GetString()!);

        var ok = await PostOk("/recommendations", new { history = new[] { Id(1) }, k = 2 });
        Assert.Equal(2, ok.GetProperty("items").GetArrayLength());
    }

    private static string Truncate(string s) => s.Length > 80 ? s[..80] + "..." : s;

    [Fact]
    public async Task ConcurrentRequestsAllSucceedAndShareMicroBatches()
    {
        // A longer wait than the default so that a busy test host still sees requests arrive within one window.
        var (app, client) = await ServerFixture.StartAsync(fixture.ModelPath, TimeSpan.FromMilliseconds(10));
        await using var _ = app;
        using var __ = client;
        long together = 0;
        for (int round = 0; round < 5 && together == 0; round++)
        {
            var tasks = Enumerable.Range(0, 32).Select(async r =>
            {
                using var response = await client.PostAsJsonAsync("/recommendations", new { history = new[] { Id(r), Id(r + 50) }, k = 5 });
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
                Assert.Equal(5, body.GetProperty("items").GetArrayLength());
            });
            await Task.WhenAll(tasks);
            var metrics = JsonDocument.Parse(await client.GetStringAsync("/metrics")).RootElement;
            together = metrics.GetProperty("batches").GetProperty("withMoreThanOne").GetInt64();
            Assert.True(metrics.GetProperty("batches").GetProperty("largest").GetInt32() <= 64);
            Assert.Equal(0, metrics.GetProperty("serverErrors").GetInt64());
            Assert.True(metrics.GetProperty("requests").GetInt64() >= 32 * (round + 1));
            Assert.True(metrics.GetProperty("latencyMs").GetProperty("p99").GetDouble() >= metrics.GetProperty("latencyMs").GetProperty("p50").GetDouble());
            Assert.Equal(fixture.ModelPath, metrics.GetProperty("model").GetString());
        }
        Assert.True(together > 0, "no micro-batch held more than one request");
        await app.StopAsync();
    }

    [Fact]
    public async Task CatalogSwapAndReloadAreServed()
    {
        var (app, client) = await ServerFixture.StartAsync(fixture.ModelPath);
        await using var _ = app;
        using var __ = client;
        var field = Catalog.TextFields[0];
        var items = Enumerable.Range(0, Catalog.Count).Select(i => new Dictionary<string, object>
        {
            ["id"] = "new-" + Id(i),
            ["text"] = new Dictionary<string, string> { [field] = Catalog.GetText(i, 0) },
        }).ToArray();
        using (var put = await client.PutAsJsonAsync("/catalog", new { items }))
            Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        var after = JsonDocument.Parse(await (await client.PostAsJsonAsync("/recommendations", new { history = new[] { "new-" + Id(3), Id(4) }, k = 3 })).Content.ReadAsStringAsync()).RootElement;
        Assert.All(Ids(after.GetProperty("items")), id => Assert.StartsWith("new-", id));
        Assert.Equal([Id(4)], after.GetProperty("skipped").EnumerateArray().Select(s => s.GetString()));

        // add and remove: the removed item is unknown afterwards, the added one is recommended from its text.
        var removed = "new-" + Id(3);
        using (var change = await client.PutAsJsonAsync("/catalog", new { remove = new[] { removed }, add = new[] { new { id = "added", text = new Dictionary<string, string> { [field] = Catalog.GetText(3, 0) } } } }))
            Assert.True(change.StatusCode == HttpStatusCode.OK, await change.Content.ReadAsStringAsync());
        var changed = JsonDocument.Parse(await (await client.PostAsJsonAsync("/recommendations", new { history = new[] { removed, "added" }, k = 3 })).Content.ReadAsStringAsync()).RootElement;
        Assert.Equal([removed], changed.GetProperty("skipped").EnumerateArray().Select(s => s.GetString()));
        Assert.False(changed.GetProperty("fallback").GetBoolean());
        var similar = JsonDocument.Parse(await client.GetStringAsync("/items/added/similar?k=2")).RootElement;
        Assert.Equal(2, similar.GetProperty("items").GetArrayLength());
        Assert.Equal(Catalog.Count, JsonDocument.Parse(await client.GetStringAsync("/health")).RootElement.GetProperty("catalogSize").GetInt32());

        using (var reload = await client.PostAsync("/admin/reload", null))
            Assert.True(reload.StatusCode == HttpStatusCode.OK, await reload.Content.ReadAsStringAsync());
        var back = JsonDocument.Parse(await (await client.PostAsJsonAsync("/recommendations", new { history = new[] { Id(3) }, k = 3 })).Content.ReadAsStringAsync()).RootElement;
        Assert.Empty(back.GetProperty("skipped").EnumerateArray());
        Assert.False(back.GetProperty("fallback").GetBoolean());
        await app.StopAsync();
    }

    [Fact]
    public void BenchmarkServeReportsEachLevelAndStops()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Microsoft.ML.Srt.Cli.CliApp.Run(
            ["benchmark", "serve", "--model", fixture.ModelPath, "--concurrency", "1,4", "--requests", "40", "--seconds", "20", "-k", "3", "--device", "cpu"], output, error);
        Assert.True(code == 0, error.ToString());
        var root = JsonDocument.Parse(output.ToString()).RootElement;
        var levels = root.GetProperty("levels").EnumerateArray().ToArray();
        Assert.Equal([1, 4], levels.Select(l => l.GetProperty("concurrency").GetInt32()));
        foreach (var level in levels)
        {
            Assert.Equal(40, level.GetProperty("requests").GetInt32());
            Assert.Equal(0, level.GetProperty("failed").GetInt32());
            Assert.False(level.GetProperty("stopped_by_time_limit").GetBoolean());
            Assert.True(level.GetProperty("requests_per_second").GetDouble() > 0);
            Assert.True(level.GetProperty("p99_ms").GetDouble() >= level.GetProperty("p50_ms").GetDouble());
        }
        // Warm-up (20 per client) and timed requests all went through the micro-batcher.
        Assert.Equal(20 + 40 + 80 + 40, root.GetProperty("server_batches").GetProperty("requests").GetInt64());

        // --disrupt: catalog swaps, reloads and bad requests during the level; no valid request fails, no bad one gets a 5xx.
        output = new StringWriter();
        code = Microsoft.ML.Srt.Cli.CliApp.Run(
            ["benchmark", "serve", "--model", fixture.ModelPath, "--concurrency", "8", "--requests", "300", "--seconds", "20", "--disrupt", "--device", "cpu"], output, error);
        Assert.True(code == 0, error.ToString());
        root = JsonDocument.Parse(output.ToString()).RootElement;
        Assert.Equal(0, root.GetProperty("levels")[0].GetProperty("failed").GetInt32());
        var d = root.GetProperty("disruptions")[0];
        Assert.True(d.GetProperty("catalog_swaps").GetInt64() >= 1);
        Assert.Equal(0, d.GetProperty("swap_or_reload_failures").GetInt64());
        Assert.True(d.GetProperty("bad_requests").GetInt64() >= 1);
        Assert.Equal(d.GetProperty("bad_requests").GetInt64(), d.GetProperty("bad_answered_4xx").GetInt64());

        var usage = new StringWriter();
        Assert.Equal(2, Microsoft.ML.Srt.Cli.CliApp.Run(["benchmark", "serve", "--model", fixture.ModelPath, "--concurrency", "1,x"], new StringWriter(), usage));
        Assert.Contains("'--concurrency'", usage.ToString());
    }
}
