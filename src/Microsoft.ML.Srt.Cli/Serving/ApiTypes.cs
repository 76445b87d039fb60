namespace Microsoft.ML.Srt.Cli.Serving;

// The shapes of the JSON bodies, for the OpenAPI document only: the endpoints read bodies by hand (RequestParser) so that
// every refusal names its field, and write these same shapes.

/// <summary>A request of <c>POST /recommendations</c>.</summary>
/// <param name="History">Item ids, oldest first (required; at most 1,000).</param>
/// <param name="K">How many items (1 to 1,000; default 10).</param>
/// <param name="Exclude">Item ids never to return.</param>
internal sealed record RecommendationBody(string[] History, int? K, string[]? Exclude);

/// <summary>A request of <c>POST /recommendations/batch</c>.</summary>
/// <param name="Requests">1 to 256 requests.</param>
internal sealed record BatchBody(RecommendationBody[] Requests);

/// <summary>One recommended item.</summary>
/// <param name="Id">The item id.</param>
/// <param name="Score">The model's score, the cosine similarity, or the training count for a fallback.</param>
/// <param name="Title">The item's title.</param>
internal sealed record ItemAnswer(string Id, float Score, string Title);

/// <summary>The answer of <c>POST /recommendations</c>.</summary>
/// <param name="Items">Best first.</param>
/// <param name="Skipped">History ids not in the catalog.</param>
/// <param name="Fallback">True when the items are the popularity list.</param>
internal sealed record RecommendationAnswer(ItemAnswer[] Items, string[] Skipped, bool Fallback);

/// <summary>The answer of <c>POST /recommendations/batch</c>.</summary>
/// <param name="Results">One per request, in order.</param>
internal sealed record BatchAnswer(RecommendationAnswer[] Results);

/// <summary>The answer of <c>GET /items/{id}/similar</c>.</summary>
/// <param name="Id">The item asked about.</param>
/// <param name="Items">Most similar first.</param>
internal sealed record SimilarAnswer(string Id, ItemAnswer[] Items);

/// <summary>One item of <c>PUT /catalog</c>.</summary>
/// <param name="Id">The item id.</param>
/// <param name="Text">Text field name to text.</param>
/// <param name="Tokens">Token-list field name to tokens.</param>
internal sealed record CatalogItemBody(string Id, Dictionary<string, string>? Text, Dictionary<string, string[]>? Tokens);

/// <summary>The body of <c>PUT /catalog</c>: <c>items</c> alone, or <c>add</c> and/or <c>remove</c>.</summary>
/// <param name="Items">The whole new catalog (replaces it).</param>
/// <param name="Add">Items to add to the current catalog.</param>
/// <param name="Remove">Ids to remove from it (before the additions).</param>
internal sealed record CatalogBody(CatalogItemBody[]? Items, CatalogItemBody[]? Add, string[]? Remove);
