namespace Microsoft.ML.Srt.Data.Synthetic;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, 2014; the seeding generator of xoshiro): a 64-bit state advanced by
/// the golden-ratio increment and finalised by a variant of MurmurHash3's mixer. Implemented here, rather than
/// using <see cref="System.Random"/>, so that the synthetic data stays byte-identical across .NET versions.
/// </summary>
/// <remarks>Only integer arithmetic: the same seed gives the same numbers on every platform.</remarks>
internal struct SplitMix64
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;
    private ulong _state;

    /// <summary>Creates a generator whose first output is determined by <paramref name="seed"/> alone.</summary>
    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>
    /// A generator for an independent stream: <paramref name="stream"/> (a user or item index) is mixed into
    /// <paramref name="seed"/>, so streams can be generated in any order, or in parallel, with the same result.
    /// </summary>
    public static SplitMix64 ForStream(ulong seed, ulong stream) => new(Mix(seed ^ Mix(stream + Golden)));

    /// <summary>The SplitMix64 finaliser: a bijective hash of 64 bits.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        _state += Golden;
        return Mix(_state);
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>True with probability <paramref name="p"/>.</summary>
    public bool NextBool(double p) => NextDouble() < p;

    /// <summary>A uniform integer in [0, <paramref name="bound"/>) without modulo bias (Lemire's method).</summary>
    public ulong NextUInt64(ulong bound)
    {
        if (bound == 0) throw new ArgumentOutOfRangeException(nameof(bound));
        ulong hi = Math.BigMul(NextUInt64(), bound, out ulong lo);
        if (lo < bound)
        {
            ulong threshold = (0 - bound) % bound;
            while (lo < threshold) hi = Math.BigMul(NextUInt64(), bound, out lo);
        }
        return hi;
    }

    /// <summary>A uniform integer in [0, <paramref name="bound"/>).</summary>
    public int NextInt(int bound) => bound > 0 ? (int)NextUInt64((ulong)bound) : throw new ArgumentOutOfRangeException(nameof(bound));
}
