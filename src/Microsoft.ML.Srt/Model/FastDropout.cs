using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Model;

/// <summary>
/// Draws dropout masks on the CPU from a SplitMix64 stream. libtorch's CPU dropout draws each element from
/// mt19937 one at a time: 10-20 ms for a 128 x 50 x 64 activation on the 2-core machine, more than all the
/// transformer's matrix products together. Sixteen bits per element from SplitMix64 fill the same mask in
/// well under a millisecond. The stream is seeded from torch's generator, so a seeded run repeats exactly.
/// </summary>
internal sealed class DropoutMaskSource
{
    private ulong _state;

    public DropoutMaskSource(ulong seed) => _state = seed;

    /// <summary>Where the stream stands: a training checkpoint saves it and puts it back, so resumed masks continue the same stream.</summary>
    public ulong State { get => _state; set => _state = value; }

    /// <summary>A float mask shaped like <paramref name="shape"/> holding 0 (dropped, probability p) or 1 / (1 − p).</summary>
    public Tensor Next(long[] shape, double p)
    {
        var mask = empty(shape, ScalarType.Float32);
        var bits = MemoryMarshal.Cast<byte, int>(mask.bytes);
        // Keep an element when its 16 random bits are at or above p * 2^16 (p resolved to 1 / 65,536). The
        // select is branch-free: a data-dependent branch here mispredicts half the time and costs 5x.
        long threshold = (long)Math.Round(p * 65536);
        int keep = BitConverter.SingleToInt32Bits((float)(1 / (1 - p)));
        int i = 0;
        for (; i + 4 <= bits.Length; i += 4)
        {
            ulong z = NextUInt64();
            bits[i] = keep & ~(int)(((long)(z & 0xFFFF) - threshold) >> 63);
            bits[i + 1] = keep & ~(int)(((long)((z >> 16) & 0xFFFF) - threshold) >> 63);
            bits[i + 2] = keep & ~(int)(((long)((z >> 32) & 0xFFFF) - threshold) >> 63);
            bits[i + 3] = keep & ~(int)(((long)(z >> 48) - threshold) >> 63);
        }
        for (ulong z = NextUInt64(); i < bits.Length; i++, z >>= 16)
            bits[i] = keep & ~(int)(((long)(z & 0xFFFF) - threshold) >> 63);
        return mask;
    }

    private ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>
/// Inverted dropout (scale kept activations by 1 / (1 − p) in training, identity in evaluation). On the CPU the
/// mask comes from <see cref="DropoutMaskSource"/>; on other devices libtorch's own dropout runs where the data is.
/// </summary>
internal sealed class FastDropout : nn.Module<Tensor, Tensor>
{
    private readonly double _p;
    private readonly DropoutMaskSource _masks;

    public FastDropout(double p, DropoutMaskSource masks) : base(nameof(FastDropout))
    {
        _p = p;
        _masks = masks;
    }

    public override Tensor forward(Tensor x) => Apply(x, _p, training, _masks);

    /// <summary>Dropout of <paramref name="x"/> with probability <paramref name="p"/> when <paramref name="training"/>.</summary>
    public static Tensor Apply(Tensor x, double p, bool training, DropoutMaskSource masks)
    {
        if (!training || p <= 0) return x.alias();
        if (x.device_type != DeviceType.CPU) return nn.functional.dropout(x, p, training: true);
        using var mask = masks.Next(x.shape, p);
        return x * mask;
    }
}
