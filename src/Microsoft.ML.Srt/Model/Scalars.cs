using TorchSharp;

namespace Microsoft.ML.Srt.Model;

/// <summary>
/// The constant numbers the code passes to tensor operations, as native Scalars that live for the whole process.
/// TorchSharp turns a plain number argument into a Scalar that only its finalizer frees, and nothing holds that object
/// once the call has read its handle, so a garbage collection during the native call can free it while libtorch still
/// reads it (docs/build.md). The rule in this project: a constant comes from here; any other number is made with
/// <c>using var s = value.ToScalar();</c> before the call, which keeps it alive until the call has returned.
/// </summary>
internal static class Scalars
{
    /// <summary>−∞ (float64): masked logits and attention scores.</summary>
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();

    /// <summary>true: flags in bool tensors.</summary>
    public static readonly Scalar True = true.ToScalar();

    /// <summary>0 (int64): padding row comparisons, zero fills.</summary>
    public static readonly Scalar Zero = 0L.ToScalar();

    /// <summary>1 (int64): row-to-index shifts, unit weights.</summary>
    public static readonly Scalar One = 1L.ToScalar();
}
