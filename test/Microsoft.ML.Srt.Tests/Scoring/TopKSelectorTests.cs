using Microsoft.ML.Srt.Scoring;

namespace Microsoft.ML.Srt.Tests.Scoring;

public class TopKSelectorTests
{
    [Theory]
    [InlineData(0, 5)]
    [InlineData(3, 1)]
    [InlineData(7, 3)]
    [InlineData(8, 8)]
    [InlineData(9, 20)]
    [InlineData(100, 10)]
    [InlineData(1000, 1)]
    [InlineData(1000, 64)]
    [InlineData(12101, 10)]
    public void SelectsTheBestBestFirstWithTiesToTheLowerIndex(int length, int k)
    {
        var random = new Random(length * 31 + k);
        var row = new float[length];
        for (int i = 0; i < length; i++)
        {
            // Few distinct values, so ties are common; some NaN, −∞ (excluded) and +∞.
            row[i] = random.Next(20) switch { 0 => float.NaN, 1 => float.NegativeInfinity, 2 => float.PositiveInfinity, var v => v % 7 - 3.5f };
        }
        var expected = Enumerable.Range(0, length).Where(i => !float.IsNaN(row[i]) && !float.IsNegativeInfinity(row[i]))
            .OrderByDescending(i => row[i]).ThenBy(i => i).Take(k).ToArray();
        var items = new int[k];
        var scores = new float[k];
        int count = TopKSelector.Select(row, k, items, scores);
        Assert.Equal(expected, items[..count]);
        Assert.Equal(expected.Select(i => row[i]), scores[..count]);
    }

    [Fact]
    public void LengthGroupsCoverEveryHistoryOnceAndSplitOnlyWhenPaddingCostsMore()
    {
        var lengths = Enumerable.Repeat(1, 200).Concat(Enumerable.Repeat(50, 10)).Concat([7, 3]).ToArray();
        var groups = SrtModel.LengthGroups(lengths);
        Assert.Equal(Enumerable.Range(0, lengths.Length), groups.SelectMany(g => g).Order());
        Assert.True(groups.Count >= 2);
        Assert.Equal(10, groups[^1].Length);
        Assert.All(groups[^1], i => Assert.Equal(50, lengths[i]));

        Assert.Single(SrtModel.LengthGroups(Enumerable.Repeat(9, 256).ToArray()));
        Assert.Single(SrtModel.LengthGroups([4, 5, 6])); // a pass costs more than the padding it would save
        Assert.Single(SrtModel.LengthGroups([3]));
    }
}
