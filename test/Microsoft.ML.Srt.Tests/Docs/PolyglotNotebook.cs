using System.Text.Json;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.DotNet.Interactive.Formatting;
using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Tests.Docs;

/// <summary>
/// What a notebook cell sees besides its own code when <see cref="PolyglotNotebook"/> runs it: Polyglot's
/// <c>display(...)</c>, which here records the value instead of rendering it.
/// </summary>
public sealed class NotebookGlobals
{
    /// <summary>Values passed to <c>display</c> and each cell's last expression, in order: what Polyglot would render.</summary>
    public List<object> Displayed { get; } = [];

#pragma warning disable IDE1006 // lower case, as in Polyglot (Microsoft.DotNet.Interactive.Kernel.display)
    public object? display(object? value, params string[] mimeTypes)
#pragma warning restore IDE1006
    {
        if (value is not null) Displayed.Add(value);
        return value;
    }
}

/// <summary>
/// Runs the C# cells of a Polyglot notebook (.ipynb) the way the .NET Interactive C# kernel does: one Roslyn script
/// submission per cell, each continuing the previous one's state, a cell's last expression becoming its displayed
/// value. Kernel directives (<c>#r "nuget: ..."</c>, <c>#r "path.dll"</c>, <c>#i</c>, <c>#!</c> magics) are left out:
/// the scripts reference the assemblies this test host has already loaded (the library as built, ML.NET, TorchSharp,
/// Microsoft.DotNet.Interactive.Formatting), so formatters a cell registers are the ones the test reads back.
/// </summary>
internal static class PolyglotNotebook
{
    // The C# kernel imports these namespaces in every notebook; anything else a cell needs, it imports itself.
    private static readonly string[] _kernelImports = ["System", "System.Collections.Generic", "System.Linq", "System.Threading.Tasks"];

    /// <summary>The source of each code cell of <paramref name="path"/> in the C# kernel, in order.</summary>
    public static IReadOnlyList<string> CSharpCells(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var cells = new List<string>();
        foreach (var cell in document.RootElement.GetProperty("cells").EnumerateArray())
        {
            if (cell.GetProperty("cell_type").GetString() != "code") continue;
            var kernel = cell.TryGetProperty("metadata", out var m) && m.TryGetProperty("polyglot_notebook", out var p) &&
                         p.TryGetProperty("kernelName", out var k) ? k.GetString() : "csharp";
            if (kernel != "csharp") throw new InvalidDataException($"{path}: a code cell runs in kernel '{kernel}'; only C# cells can be tested here.");
            var source = cell.GetProperty("source");
            cells.Add(source.ValueKind == JsonValueKind.Array ? string.Concat(source.EnumerateArray().Select(l => l.GetString())) : source.GetString() ?? "");
        }
        return cells;
    }

    /// <summary>True for a line the kernel handles itself (package and assembly references, magic commands).</summary>
    public static bool IsKernelDirective(string line)
    {
        var t = line.TrimStart();
        return t.StartsWith("#r ", StringComparison.Ordinal) || t.StartsWith("#i ", StringComparison.Ordinal) || t.StartsWith("#!", StringComparison.Ordinal);
    }

    /// <summary>Runs every C# cell of <paramref name="path"/> in order; a failing cell throws with its number and source.</summary>
    public static async Task<NotebookRun> RunAsync(string path)
    {
        var options = ScriptOptions.Default
            .AddReferences(typeof(SrtTrainer).Assembly, typeof(MLContext).Assembly, typeof(IDataView).Assembly,
                           typeof(Microsoft.ML.Runtime.IHostEnvironment).Assembly, typeof(Formatter).Assembly, typeof(NotebookGlobals).Assembly)
            .AddImports(_kernelImports);
        var globals = new NotebookGlobals();
        ScriptState<object>? state = null;
        var cells = CSharpCells(path);
        var seconds = new double[cells.Count];
        for (int c = 0; c < cells.Count; c++)
        {
            var code = string.Join('\n', cells[c].Split('\n').Where(l => !IsKernelDirective(l)));
            if (string.IsNullOrWhiteSpace(code)) continue;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                state = state is null
                    ? await CSharpScript.RunAsync(code, options, globals, typeof(NotebookGlobals))
                    : await state.ContinueWithAsync(code, options);
            }
            catch (CompilationErrorException e)
            {
                throw new InvalidOperationException($"{Path.GetFileName(path)}, code cell {c + 1} does not compile:\n{string.Join('\n', e.Diagnostics)}\n--- cell ---\n{code}", e);
            }
            if (state.Exception is not null)
                throw new InvalidOperationException($"{Path.GetFileName(path)}, code cell {c + 1} threw:\n--- cell ---\n{code}", state.Exception);
            if (state.ReturnValue is not null) globals.Displayed.Add(state.ReturnValue);
            seconds[c] = clock.Elapsed.TotalSeconds;
        }
        return new NotebookRun(state ?? throw new InvalidDataException($"{path} has no C# code cell."), globals.Displayed, seconds);
    }
}

/// <summary>The state a notebook run ended in: its variables and what it displayed.</summary>
internal sealed class NotebookRun(ScriptState<object> state, IReadOnlyList<object> displayed, IReadOnlyList<double> cellSeconds)
{
    public IReadOnlyList<object> Displayed => displayed;

    /// <summary>Wall-clock seconds of each code cell, compilation included (0 for a cell left empty by the directives).</summary>
    public IReadOnlyList<double> CellSeconds => cellSeconds;

    /// <summary>The value of the notebook variable <paramref name="name"/> (the last one declared with that name).</summary>
    public T Get<T>(string name)
    {
        var variable = state.GetVariable(name) ?? throw new KeyNotFoundException($"The notebook declares no variable '{name}'.");
        return Assert.IsAssignableFrom<T>(variable.Value);
    }
}
