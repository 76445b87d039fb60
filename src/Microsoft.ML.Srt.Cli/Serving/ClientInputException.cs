using Microsoft.AspNetCore.Http;

namespace Microsoft.ML.Srt.Cli.Serving;

/// <summary>Client input the server refuses: answered with a ProblemDetails body that names <see cref="Field"/>.</summary>
internal sealed class ClientInputException(string field, string message, int status = StatusCodes.Status400BadRequest) : Exception(message)
{
    /// <summary>The JSON path of the field at fault (<c>body</c> for the body as a whole), for example <c>requests[2].k</c>.</summary>
    public string Field { get; } = field;

    /// <summary>The HTTP status to answer with.</summary>
    public int Status { get; } = status;
}
