namespace Microsoft.ML.Srt.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("srt: not yet implemented");
        return 1;
    }
}
