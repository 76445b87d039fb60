using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Model;

/// <summary>
/// Where float32 weights live in memory. libtorch's CPU kernels (its statically linked MKL) may round differently when an
/// operand starts at another offset from a 64-byte boundary, so two copies of the same weights give the same scores bit
/// for bit only when both are placed alike. Freshly allocated tensors start on a 64-byte boundary (libtorch's CPU
/// allocator alignment); every weight made otherwise (a slice of a shared buffer) is kept on one too (docs/build.md,
/// "Numerics across hosts").
/// </summary>
internal static class AlignedStorage
{
    /// <summary>The boundary every parameter's data starts on, in bytes.</summary>
    public const int Bytes = 64;

    /// <summary><see cref="Bytes"/> in float32 elements.</summary>
    public const long Floats = Bytes / sizeof(float);

    /// <summary><paramref name="count"/> floats rounded up to a whole number of <see cref="Floats"/>.</summary>
    public static long RoundUp(long count) => (count + Floats - 1) / Floats * Floats;

    /// <summary>The address of the first element of a float32 tensor (its storage's address plus its offset in it).</summary>
    public static long Address(Tensor t)
    {
        if (t.dtype != ScalarType.Float32) throw new ArgumentException($"Expected a float32 tensor; got {t.dtype}.", nameof(t));
        using var scope = NewDisposeScope(); // storage<T>() makes a tensor handle of its own
        return (long)t.storage<float>().data_ptr() + t.storage_offset() * sizeof(float);
    }

    /// <summary>A float32 tensor of <paramref name="count"/> zeros whose first element is on a <see cref="Bytes"/> boundary:
    /// a plain allocation where the allocator gives one (libtorch's CPU and CUDA allocators do), else a slice of a larger one.</summary>
    public static Tensor Zeros(long count, Device device)
    {
        var plain = zeros(count, device: device);
        if (Address(plain) % Bytes == 0) return plain;
        plain.Dispose();
        using var wider = zeros(count + Floats, device: device);
        long skip = (Bytes - Address(wider) % Bytes) % Bytes / sizeof(float);
        return wider.narrow(0, skip, count);
    }
}
