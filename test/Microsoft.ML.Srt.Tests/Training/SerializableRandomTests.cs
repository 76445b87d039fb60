using Microsoft.ML.Srt.Training;

namespace Microsoft.ML.Srt.Tests.Training;

/// <summary>SerializableRandom draws what <c>new Random(seed)</c> draws, method for method, and its state round-trips.</summary>
public sealed class SerializableRandomTests
{
    /// <summary>One draw of a kind chosen by <paramref name="kind"/>, as a comparable string.</summary>
    private static string Draw(Random r, int kind, Random argumentSource)
    {
        int a = argumentSource.Next(-1000, 1000), b = a + argumentSource.Next(0, 5000);
        long big = argumentSource.NextInt64(1, long.MaxValue);
        switch (kind)
        {
            case 0: return r.Next().ToString();
            case 1: return r.Next(b - a + 1).ToString();
            case 2: return r.Next(a, b).ToString();
            case 3: return r.Next(int.MinValue, int.MaxValue).ToString(); // the large-range path: two draws
            case 4: return r.Next(-5, int.MaxValue).ToString();
            case 5: return r.NextDouble().ToString("R");
            case 6: return r.NextSingle().ToString("R");
            case 7:
            {
                var bytes = new byte[1 + (b - a) % 13];
                r.NextBytes(bytes);
                return Convert.ToHexString(bytes);
            }
            case 8:
            {
                Span<byte> bytes = stackalloc byte[7];
                r.NextBytes(bytes);
                return Convert.ToHexString(bytes);
            }
            case 9: return r.NextInt64().ToString();
            case 10: return r.NextInt64(big).ToString();
            case 11: return r.NextInt64(-big, big).ToString();
            case 12: return r.NextInt64(a, b).ToString();
            case 13: return r.Next(0).ToString() + r.Next(7, 7) + r.NextInt64(3, 4);
            default:
            {
                var values = Enumerable.Range(0, 1 + (b - a) % 40).ToArray();
                r.Shuffle(values);
                return string.Join(",", values);
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(9)]
    [InlineData(-7)]
    [InlineData(161_803_398)]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public void EveryMethodDrawsWhatSystemRandomDraws(int seed)
    {
        var expected = new Random(seed);
        var actual = new SerializableRandom(seed);
        var kinds = new Random(seed ^ 12345);
        for (int i = 0; i < 6000; i++)
        {
            int kind = i < 15 * 200 ? i % 15 : kinds.Next(15); // every kind many times in a row-robin, then mixed at random
            int argumentSeed = i * 31 + kind;
            Assert.Equal(Draw(expected, kind, new Random(argumentSeed)), Draw(actual, kind, new Random(argumentSeed)));
        }
    }

    [Fact]
    public void ARestoredStateContinuesTheSameSequence()
    {
        var original = new SerializableRandom(42);
        for (int i = 0; i < 1000; i++) original.Next();
        var state = original.GetState();
        Assert.Equal(SerializableRandom.StateLength, state.Length);
        var continued = Enumerable.Range(0, 500).Select(_ => original.NextDouble()).ToArray();

        var restored = new SerializableRandom(7);
        restored.SetState(state);
        Assert.Equal(continued, Enumerable.Range(0, 500).Select(_ => restored.NextDouble()).ToArray());

        // The state is a copy: drawing from the original after GetState did not change it.
        var again = new SerializableRandom(0);
        again.SetState(state);
        Assert.Equal(continued[0], again.NextDouble());

        // A draw just below 1 rounds to 1f as a float; NextSingle draws again, as System.Random does (checked on .NET 10).
        var nearOne = (int[])state.Clone();
        int next = state[^2] + 1 >= 56 ? 1 : state[^2] + 1, lagged = state[^1] + 1 >= 56 ? 1 : state[^1] + 1;
        nearOne[next] = int.MaxValue - 1;
        nearOne[lagged] = 0;
        restored.SetState(nearOne);
        Assert.Equal(1f, (float)restored.NextDouble());
        restored.SetState(nearOne);
        Assert.InRange(restored.NextSingle(), 0f, 0.99999994f);

        Assert.Throws<ArgumentException>(() => restored.SetState(new int[3]));
        var badCursor = (int[])state.Clone();
        badCursor[^1] = 56;
        Assert.Throws<ArgumentException>(() => restored.SetState(badCursor));
    }
}
