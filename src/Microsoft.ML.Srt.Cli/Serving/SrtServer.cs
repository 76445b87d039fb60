using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Scoring;

namespace Microsoft.ML.Srt.Cli.Serving;

/// <summary>
/// The HTTP server of <c>srt serve</c> (docs/serving.md): an <see cref="SrtRecommender"/> over one model file behind
/// ASP.NET Core minimal APIs, single recommendations micro-batched, client input checked field by field.
/// </summary>
internal static class SrtServer
{
    /// <summary>Loads the model and starts the server; the caller stops and disposes the app (<c>app.Urls</c> holds the bound addresses).</summary>
    public static async Task<WebApplication> StartAsync(ServeOptions options, bool consoleLog = false, CancellationToken cancellationToken = default)
    {
        var recommender = SrtRecommender.Load(options.ModelPath, options.Device);
        WebApplication app;
        try
        {
            app = Build(options, recommender, consoleLog);
        }
        catch
        {
            recommender.Dispose();
            throw;
        }
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        return app;
    }

    /// <summary>The app over <paramref name="recommender"/>, which it owns (disposed with the app).</summary>
    public static WebApplication Build(ServeOptions options, SrtRecommender recommender, bool consoleLog = false)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        if (consoleLog) builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls(options.Urls);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.AddServerHeader = false;
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<ServerMetrics>();
        builder.Services.AddSingleton(_ => recommender); // created by a factory, so the container disposes it
        builder.Services.AddSingleton(s => new MicroBatcher(recommender, s.GetRequiredService<ServerMetrics>(), options));

        var app = builder.Build();
        var metrics = app.Services.GetRequiredService<ServerMetrics>();
        var batcher = app.Services.GetRequiredService<MicroBatcher>();
        _ = app.Services.GetRequiredService<SrtRecommender>();
        app.Use((context, next) => Guard(context, next, metrics));
        Map(app, options, recommender, batcher, metrics);
        app.MapOpenApi(); // GET /openapi/v1.json
        return app;
    }

    /// <summary>Times every request and turns exceptions into ProblemDetails: client input 4xx naming the field, anything else 500.</summary>
    private static async Task Guard(HttpContext context, RequestDelegate next, ServerMetrics metrics)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            context.Response.Clear();
            await ToProblem(e).ExecuteAsync(context).ConfigureAwait(false);
        }
        finally
        {
            metrics.RecordRequest(context.Response.StatusCode, start);
        }
    }

    private static IResult ToProblem(Exception e) => e switch
    {
        ClientInputException c => Results.ValidationProblem(
            new Dictionary<string, string[]> { [c.Field] = [c.Message] }, detail: c.Message, statusCode: c.Status,
            title: c.Status == StatusCodes.Status413PayloadTooLarge ? "The request body is too large." : "The request is not valid."),
        BadHttpRequestException b => Results.ValidationProblem(
            new Dictionary<string, string[]> { ["body"] = [b.Message] }, detail: b.Message, statusCode: b.StatusCode, title: "The request is not valid."),
        _ => Results.Problem(detail: e.Message, statusCode: StatusCodes.Status500InternalServerError, title: "The server failed to answer."),
    };

    private static void Map(WebApplication app, ServeOptions options, SrtRecommender recommender, MicroBatcher batcher, ServerMetrics metrics)
    {
        app.MapPost("/recommendations", async (HttpContext context) =>
        {
            using var document = await RequestParser.ReadObjectAsync(context).ConfigureAwait(false);
            var request = ParseRequest(document.RootElement, "", options);
            return Results.Ok(ToBody(await batcher.RecommendAsync(request).ConfigureAwait(false)));
        }).Accepts<RecommendationBody>("application/json").Produces<RecommendationAnswer>().ProducesValidationProblem().ProducesValidationProblem(StatusCodes.Status413PayloadTooLarge);

        app.MapPost("/recommendations/batch", async (HttpContext context) =>
        {
            using var document = await RequestParser.ReadObjectAsync(context).ConfigureAwait(false);
            var root = document.RootElement;
            RequestParser.OnlyKnown(root, "", "requests");
            var list = RequestParser.Array(root, "requests", options.MaxBatchRequests);
            var requests = new List<RecommendationRequest>(list.GetArrayLength());
            int i = 0;
            foreach (var entry in list.EnumerateArray())
            {
                var path = $"requests[{i++}]";
                if (entry.ValueKind != JsonValueKind.Object)
                    throw new ClientInputException(path, $"Each request must be an object; {path} is {RequestParser.Kind(entry.ValueKind)}.");
                requests.Add(ParseRequest(entry, path, options));
            }
            var results = recommender.RecommendBatch(requests);
            return Results.Ok(new { results = results.Select(ToBody) });
        }).Accepts<BatchBody>("application/json").Produces<BatchAnswer>().ProducesValidationProblem().ProducesValidationProblem(StatusCodes.Status413PayloadTooLarge);

        app.MapGet("/items/{id}/similar", (HttpContext context, string id) =>
        {
            int k = RequestParser.QueryK(context, options.MaxK);
            var result = recommender.SimilarItems(id, k);
            if (result.Skipped.Count > 0)
                return Results.Problem(detail: $"Item '{id}' is not in the catalog.", statusCode: StatusCodes.Status404NotFound, title: "Unknown item.");
            return Results.Ok(new { id, items = result.Items.Select(ToItem) });
        }).Produces<SimilarAnswer>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);

        app.MapGet("/health", () => Results.Ok(new { status = "ok", catalogSize = recommender.Catalog.Count }));

        app.MapGet("/metrics", () => Results.Ok(metrics.Snapshot(options.ModelPath, recommender.Catalog.Count)));

        app.MapPost("/admin/reload", async () =>
        {
            // Loaded off the request thread; the old model serves until the swap and finishes the requests it started.
            using var model = await Task.Run(() => SrtModel.Load(options.ModelPath, options.Device)).ConfigureAwait(false);
            recommender.SwapModel(model);
            return Results.Ok(new { model = options.ModelPath, catalogSize = recommender.Catalog.Count });
        });

        app.MapPut("/catalog", async (HttpContext context) =>
        {
            using var document = await RequestParser.ReadObjectAsync(context, options.MaxCatalogBytes).ConfigureAwait(false);
            var catalog = ParseCatalog(document.RootElement, recommender.Catalog);
            try
            {
                await Task.Run(() => recommender.SwapCatalog(catalog)).ConfigureAwait(false);
            }
            catch (NotSupportedException e)
            {
                return Results.Problem(detail: e.Message, statusCode: StatusCodes.Status409Conflict, title: "This model cannot take another catalog.");
            }
            return Results.Ok(new { catalogSize = recommender.Catalog.Count });
        }).Accepts<CatalogBody>("application/json").ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static RecommendationRequest ParseRequest(JsonElement obj, string path, ServeOptions options)
    {
        RequestParser.OnlyKnown(obj, path, "history", "k", "exclude");
        var history = RequestParser.Strings(obj, path, "history", options.MaxHistory, required: true);
        int k = RequestParser.K(obj, path, options.MaxK);
        var exclude = RequestParser.Strings(obj, path, "exclude", options.MaxHistory);
        return new RecommendationRequest(history, k, exclude.Length == 0 ? null : new RecommendOptions { Exclude = exclude });
    }

    /// <summary>
    /// The catalog a <c>PUT /catalog</c> body asks for, with the fields of <paramref name="current"/>: <c>{"items": [...]}</c>
    /// replaces the catalog; <c>{"add": [...], "remove": ["id", ...]}</c> changes it (removals first, so an item can be
    /// replaced by removing and adding it in one request). An item: <c>{"id": "...", "text": {"title": "..."}, "tokens": {"field": ["..."]}}</c>.
    /// </summary>
    private static ItemCatalog ParseCatalog(JsonElement root, ItemCatalog current)
    {
        RequestParser.OnlyKnown(root, "", "items", "add", "remove");
        if (root.TryGetProperty("items", out _))
        {
            if (root.TryGetProperty("add", out _) || root.TryGetProperty("remove", out _))
                throw new ClientInputException("items", "Give either 'items' (replace the catalog) or 'add' and 'remove' (change it), not both.");
            var items = RequestParser.Array(root, "items", int.MaxValue);
            var builder = new ItemCatalog.Builder(current.TextFields, current.TokenFields, items.GetArrayLength());
            AddItems(builder, items, "items", current);
            return builder.Build();
        }
        if (!root.TryGetProperty("add", out _) && !root.TryGetProperty("remove", out _))
            throw new ClientInputException("items", "The body needs 'items' (replace the catalog) or 'add' and/or 'remove' (change it).");
        var remove = RequestParser.Strings(root, "", "remove", int.MaxValue).ToHashSet(StringComparer.Ordinal);
        int r = 0;
        foreach (var id in RequestParser.Strings(root, "", "remove", int.MaxValue))
        {
            if (!current.TryGetIndex(id, out _)) throw new ClientInputException($"remove[{r}]", $"Item '{id}' is not in the catalog.");
            r++;
        }
        var changed = new ItemCatalog.Builder(current.TextFields, current.TokenFields, current.Count);
        for (int i = 0; i < current.Count; i++)
        {
            var id = current.GetId(i);
            if (remove.Contains(id)) continue;
            if (current.IsPlaceholder(i)) changed.AddPlaceholder(id);
            else changed.Add(id,
                Enumerable.Range(0, current.TextFields.Count).Select(f => current.GetText(i, f)).ToArray(),
                Enumerable.Range(0, current.TokenFields.Count).Select(f => current.GetTokens(i, f).ToArray()).ToArray());
        }
        if (root.TryGetProperty("add", out var add) && add.ValueKind != JsonValueKind.Null)
        {
            if (add.ValueKind != JsonValueKind.Array) throw new ClientInputException("add", $"'add' must be an array of items; got {RequestParser.Kind(add.ValueKind)}.");
            AddItems(changed, add, "add", current);
        }
        if (changed.Count == 0) throw new ClientInputException("remove", "The change would leave the catalog empty.");
        return changed.Build();
    }

    private static void AddItems(ItemCatalog.Builder builder, JsonElement items, string name, ItemCatalog current)
    {
        int i = 0;
        foreach (var item in items.EnumerateArray())
        {
            var path = $"{name}[{i++}]";
            if (item.ValueKind != JsonValueKind.Object) throw new ClientInputException(path, $"Each item must be an object; {path} is {RequestParser.Kind(item.ValueKind)}.");
            RequestParser.OnlyKnown(item, path, "id", "text", "tokens");
            if (!item.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String || idElement.GetString() is not { Length: > 0 } id)
                throw new ClientInputException($"{path}.id", "Each item needs an 'id': a non-empty string.");
            if (builder.Contains(id)) throw new ClientInputException($"{path}.id", $"Item id '{id}' is already in the catalog (remove it in the same request to replace it) or given twice.");
            var text = new string[current.TextFields.Count];
            System.Array.Fill(text, "");
            if (item.TryGetProperty("text", out var textElement) && textElement.ValueKind != JsonValueKind.Null)
            {
                if (textElement.ValueKind != JsonValueKind.Object) throw new ClientInputException($"{path}.text", $"'text' must be an object of field name to text; fields: {string.Join(", ", current.TextFields)}.");
                foreach (var field in textElement.EnumerateObject())
                {
                    int f = IndexOf(current.TextFields, field.Name);
                    if (f < 0) throw new ClientInputException($"{path}.text.{field.Name}", $"Unknown text field '{field.Name}'; the model's text fields: {string.Join(", ", current.TextFields)}.");
                    if (field.Value.ValueKind != JsonValueKind.String) throw new ClientInputException($"{path}.text.{field.Name}", $"Text must be a string; got {RequestParser.Kind(field.Value.ValueKind)}.");
                    text[f] = field.Value.GetString()!;
                }
            }
            var tokens = new string[current.TokenFields.Count][];
            System.Array.Fill(tokens, []);
            if (item.TryGetProperty("tokens", out var tokenElement) && tokenElement.ValueKind != JsonValueKind.Null)
            {
                if (tokenElement.ValueKind != JsonValueKind.Object) throw new ClientInputException($"{path}.tokens", $"'tokens' must be an object of field name to an array of strings; fields: {string.Join(", ", current.TokenFields)}.");
                foreach (var field in tokenElement.EnumerateObject())
                {
                    int f = IndexOf(current.TokenFields, field.Name);
                    if (f < 0) throw new ClientInputException($"{path}.tokens.{field.Name}", $"Unknown token field '{field.Name}'; the model's token fields: {string.Join(", ", current.TokenFields)}.");
                    tokens[f] = RequestParser.Strings(tokenElement, $"{path}.tokens", field.Name, 10_000);
                }
            }
            builder.Add(id, text, tokens);
        }
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++) if (names[i] == name) return i;
        return -1;
    }

    private static object ToBody(RecommendationResult r) => new { items = r.Items.Select(ToItem), skipped = r.Skipped, fallback = r.IsFallback };

    private static object ToItem(RecommendedItem i) => new { id = i.Id, score = i.Score, title = i.Title };
}
