using System.ComponentModel;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.ML.Srt.Cli.Serving;
using Spectre.Console.Cli;

namespace Microsoft.ML.Srt.Cli;

/// <summary><c>srt serve</c>: serves recommendations of a saved SRT model over HTTP until stopped (docs/serving.md).</summary>
internal sealed class ServeCommand(CliStreams streams) : AsyncCommand<ServeCommand.Settings>
{
    /// <summary>The options of <c>srt serve</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <PATH>", isRequired: true)]
        [Description("The SRT model file (srt train --model); POST /admin/reload reads it again.")]
        public string Model { get; set; } = "";

        [CommandOption("--urls <URLS>")]
        [Description("Addresses to listen on, semicolon-separated (default http://127.0.0.1:5000, this machine only).")]
        [DefaultValue("http://127.0.0.1:5000")]
        public string Urls { get; set; } = "http://127.0.0.1:5000";

        [CommandOption("--device <DEVICE>")]
        [Description("Torch device: auto, cpu, cuda or cuda:N.")]
        [DefaultValue("auto")]
        public string Device { get; set; } = "auto";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (!File.Exists(settings.Model)) throw new CliUsageException($"option '--model': file '{settings.Model}' does not exist.");
        var options = new ServeOptions { ModelPath = Path.GetFullPath(settings.Model), Urls = settings.Urls, Device = settings.Device };
        await using var app = await SrtServer.StartAsync(options, consoleLog: true, cancellationToken).ConfigureAwait(false);
        await streams.Error.WriteLineAsync($"srt serve: {options.ModelPath} on {string.Join(", ", app.Urls)} (Ctrl+C stops)").ConfigureAwait(false);
        await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }
}
