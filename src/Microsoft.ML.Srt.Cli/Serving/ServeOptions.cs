namespace Microsoft.ML.Srt.Cli.Serving;

/// <summary>What <see cref="SrtServer"/> serves and its limits on client input.</summary>
internal sealed class ServeOptions
{
    /// <summary>The model file: loaded at start and again by <c>POST /admin/reload</c>.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Addresses to listen on (semicolon-separated); port 0 picks a free port.</summary>
    public string Urls { get; init; } = "http://127.0.0.1:5000";

    /// <summary>Torch device for the model.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Largest <c>k</c> a request may ask for.</summary>
    public int MaxK { get; init; } = 1000;

    /// <summary>Longest history (and exclude list) a request may send.</summary>
    public int MaxHistory { get; init; } = 1000;

    /// <summary>Most requests in one <c>POST /recommendations/batch</c>.</summary>
    public int MaxBatchRequests { get; init; } = 256;

    /// <summary>Largest request body in bytes (Kestrel's limit); <c>PUT /catalog</c> gets <see cref="MaxCatalogBytes"/>.</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>Largest <c>PUT /catalog</c> body in bytes.</summary>
    public long MaxCatalogBytes { get; init; } = 256L << 20;

    /// <summary>Most single requests scored in one micro-batch.</summary>
    public int MaxBatch { get; init; } = 64;

    /// <summary>How long the micro-batcher waits for more requests after the first.</summary>
    public TimeSpan BatchWait { get; init; } = TimeSpan.FromMilliseconds(1);
}
