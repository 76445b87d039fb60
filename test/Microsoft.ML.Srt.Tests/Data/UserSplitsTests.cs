using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Tests;

public class UserSplitsTests
{
    private static InteractionSequences Data(TempFiles t) =>
        SequenceFileReader.Read(t.Write("s.txt", "u1 1 2 3 4", "u2 5 6", "u3 1 2 3", "u4 7"));

    [Fact]
    public void LeaveOneOutHoldsOutTheLastTwoItems()
    {
        using var t = new TempFiles();
        var data = Data(t);
        var split = UserSplits.LeaveOneOut(data);
        Assert.Equal(2, split.UsersNotEvaluated);
        Assert.Equal(4, split.Train.UserCount);
        Assert.Equal(["1", "2"], split.Train.GetSequence(0).ToArray().Select(data.Catalog.GetId));
        Assert.Equal(["5", "6"], split.Train.GetSequence(1).ToArray().Select(data.Catalog.GetId)); // short: all train
        Assert.Equal(["1"], split.Train.GetSequence(2).ToArray().Select(data.Catalog.GetId));
        Assert.Equal(2 + 2 + 1 + 1, split.Train.InteractionCount);

        Assert.Equal(2, split.Validation.Count);
        Assert.Equal([0, 2], split.Validation.Users);
        Assert.Equal(["1", "2"], split.Validation.GetHistory(0).ToArray().Select(data.Catalog.GetId));
        Assert.Equal("3", data.Catalog.GetId(split.Validation.Targets[0]));
        Assert.Equal(["1", "2", "3"], split.Test.GetHistory(0).ToArray().Select(data.Catalog.GetId));
        Assert.Equal("4", data.Catalog.GetId(split.Test.Targets[0]));
        Assert.Equal("3", data.Catalog.GetId(split.Test.Targets[1]));
    }

    [Fact]
    public void SamplingIsReproducibleBySeed()
    {
        var lines = Enumerable.Range(0, 200).Select(u => $"u{u} " + string.Join(' ', Enumerable.Range(0, 1 + u % 5))).ToArray();
        using var t = new TempFiles();
        var data = SequenceFileReader.Read(t.Write("s.txt", lines));
        var a = UserSplits.SampleUsers(data, 100, seed: 42);
        var b = UserSplits.SampleUsers(data, 100, seed: 42);
        var c = UserSplits.SampleUsers(data, 100, seed: 43);
        Assert.Equal(a.UserIds, b.UserIds);
        Assert.NotEqual(a.UserIds, c.UserIds);
        Assert.InRange(a.InteractionCount, 100, 104);
        Assert.Same(data.Catalog, a.Catalog);
        var firstUser = data.UserIds.ToList().IndexOf(a.UserIds[0]);
        Assert.Equal(data.GetSequence(firstUser).ToArray(), a.GetSequence(0).ToArray()); // whole users are kept
    }
}
