using TorchSharp;

namespace Microsoft.ML.Srt.Tests;

/// <summary>TorchSharp's native library must load on this host (see build/TorchSharpGlibcxx.targets).</summary>
public class TorchLoadsTests
{
    [Fact]
    public void MatrixProductRunsOnCpu()
    {
        using var a = torch.ones(2, 3);
        using var b = torch.ones(3, 4);
        using var c = a.matmul(b);
        Assert.Equal(3f, c[1, 2].item<float>());
    }
}
