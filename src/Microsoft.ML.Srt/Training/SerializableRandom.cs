using System.Numerics;

namespace Microsoft.ML.Srt.Training;

/// <summary>
/// A <see cref="Random"/> that draws exactly what <c>new Random(seed)</c> draws and whose state can be saved and put back,
/// so that a run resumed from a checkpoint continues the same batches and negatives. System.Random hides its state; this
/// is the same algorithm, written out: the seeded .NET generator is Knuth's subtractive generator (a 55-slot lagged
/// Fibonacci generator with lags 55 and 34 over [0, int.MaxValue), seeded from the golden ratio), kept unchanged since
/// .NET Framework for code that relies on its sequence. Every public method is overridden, including the derived ones
/// (ranges, bytes, 64-bit values) whose base versions would call back in other orders; <see cref="Random.Shuffle{T}(T[])"/>
/// is not virtual and draws through <see cref="Next(int, int)"/>.
/// </summary>
internal sealed class SerializableRandom : Random
{
    private const int Slots = 56;              // slot 0 unused: Knuth's algorithm counts from 1
    private readonly int[] _slots = new int[Slots];
    private int _next, _nextLagged;

    /// <summary>Ints in <see cref="GetState"/>: the 56 slots, then the two cursors.</summary>
    public const int StateLength = Slots + 2;

    /// <param name="seed">As for <c>new Random(seed)</c>; a negative seed counts by its absolute value.</param>
    public SerializableRandom(int seed) : base(seed)
    {
        int magnitude = seed == int.MinValue ? int.MaxValue : Math.Abs(seed);
        int last = 161_803_398 - magnitude; // golden-ratio constant of Knuth's seeding
        _slots[55] = last;
        int step = 1;
        // Fill slots 1..54 in the order 21, 42, 8, ... (21 k mod 55) with a Fibonacci-like sequence.
        for (int k = 1, slot = 0; k < 55; k++)
        {
            slot = (slot + 21) % 55;
            _slots[slot] = step;
            step = Wrap(last - step);
            last = _slots[slot];
        }
        // Four warm-up passes mix every slot with the one 31 places on.
        for (int pass = 0; pass < 4; pass++)
            for (int i = 1; i < Slots; i++)
                _slots[i] = Wrap(_slots[i] - _slots[1 + (i + 30) % 55]);
        _next = 0;
        _nextLagged = 21;
    }

    private static int Wrap(int value) => value < 0 ? value + int.MaxValue : value;

    /// <summary>The generator's whole state (<see cref="StateLength"/> ints), for <see cref="SetState"/>.</summary>
    public int[] GetState() => [.. _slots, _next, _nextLagged];

    /// <summary>Puts back a state that <see cref="GetState"/> returned.</summary>
    public void SetState(ReadOnlySpan<int> state)
    {
        if (state.Length != StateLength) throw new ArgumentException($"A random state has {StateLength} values; got {state.Length}.", nameof(state));
        int next = state[Slots], lagged = state[Slots + 1];
        if (next is < 0 or >= Slots || lagged is < 0 or >= Slots) throw new ArgumentException("The random state's cursors are out of range.", nameof(state));
        state[..Slots].CopyTo(_slots);
        _next = next;
        _nextLagged = lagged;
    }

    /// <summary>The next value in [0, int.MaxValue).</summary>
    private int Draw()
    {
        _next = _next + 1 >= Slots ? 1 : _next + 1;
        _nextLagged = _nextLagged + 1 >= Slots ? 1 : _nextLagged + 1;
        int value = _slots[_next] - _slots[_nextLagged];
        if (value == int.MaxValue) value--;
        value = Wrap(value);
        _slots[_next] = value;
        return value;
    }

    /// <inheritdoc/>
    protected override double Sample() => Draw() * (1.0 / int.MaxValue);

    /// <summary>A double in [0, 1) with finer spacing, from two draws: the first the magnitude, the second's parity the sign.</summary>
    private double SampleForLargeRange()
    {
        int magnitude = Draw();
        if (Draw() % 2 == 0) magnitude = -magnitude;
        return (magnitude + (int.MaxValue - 1.0)) / (2u * (double)int.MaxValue - 1);
    }

    /// <inheritdoc/>
    public override int Next() => Draw();

    /// <inheritdoc/>
    public override int Next(int maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxValue);
        return (int)(Sample() * maxValue);
    }

    /// <inheritdoc/>
    public override int Next(int minValue, int maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minValue, maxValue);
        long range = (long)maxValue - minValue;
        return range <= int.MaxValue
            ? (int)(Sample() * range) + minValue
            : (int)((long)(SampleForLargeRange() * range) + minValue);
    }

    /// <inheritdoc/>
    public override double NextDouble() => Sample();

    /// <inheritdoc/>
    public override float NextSingle()
    {
        while (true)
        {
            // A draw just below 1 rounds to 1f, which the range [0, 1) excludes: .NET draws again.
            float value = (float)Sample();
            if (value < 1f) return value;
        }
    }

    /// <inheritdoc/>
    public override void NextBytes(byte[] buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        NextBytes(buffer.AsSpan());
    }

    /// <inheritdoc/>
    public override void NextBytes(Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length; i++) buffer[i] = (byte)Draw();
    }

    /// <inheritdoc/>
    public override long NextInt64()
    {
        while (true)
        {
            // The top 63 bits, redrawn on long.MaxValue: the range is [0, long.MaxValue).
            ulong value = NextUInt64() >> 1;
            if (value != long.MaxValue) return (long)value;
        }
    }

    /// <inheritdoc/>
    public override long NextInt64(long maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxValue);
        return NextInt64(0, maxValue);
    }

    /// <inheritdoc/>
    public override long NextInt64(long minValue, long maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minValue, maxValue);
        ulong range = (ulong)(maxValue - minValue);
        if (range <= 1) return minValue;
        // Draw in the smallest power-of-two range that holds it, rejecting values beyond.
        int bits = BitOperations.Log2(range - 1) + 1;
        while (true)
        {
            ulong value = NextUInt64() >> (64 - bits);
            if (value < range) return (long)value + minValue;
        }
    }

    /// <summary>64 random bits as .NET composes them for a seeded generator: 22 + 22 + 20 bits from three bounded draws.</summary>
    private ulong NextUInt64() =>
        (uint)Next(1 << 22) | ((ulong)(uint)Next(1 << 22) << 22) | ((ulong)(uint)Next(1 << 20) << 44);
}
