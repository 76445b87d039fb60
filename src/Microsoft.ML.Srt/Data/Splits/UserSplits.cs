namespace Microsoft.ML.Srt.Data;

/// <summary>
/// The leave-one-out split of sequential recommendation (SASRec, S3-Rec, SRT): per user, the last item is the test
/// target, the second-to-last the validation target, and the rest is training data.
/// </summary>
public sealed class LeaveOneOutSplit
{
    internal LeaveOneOutSplit(InteractionSequences train, EvaluationCases validation, EvaluationCases test, int usersNotEvaluated)
    {
        Train = train;
        Validation = validation;
        Test = test;
        UsersNotEvaluated = usersNotEvaluated;
    }

    /// <summary>The fewest items a user needs to be evaluated (one to train on, one to validate, one to test).</summary>
    public const int MinimumEvaluatedLength = 3;

    /// <summary>
    /// Training sequences: each evaluated user's sequence without its last two items, and the whole sequence of users
    /// too short to be evaluated. Users keep the indices they have in the full sequences.
    /// </summary>
    public InteractionSequences Train { get; }

    /// <summary>Validation cases over the full sequences: history = all but the last two items, target = the second-to-last.</summary>
    public EvaluationCases Validation { get; }

    /// <summary>Test cases over the full sequences: history = all but the last item, target = the last.</summary>
    public EvaluationCases Test { get; }

    /// <summary>Users with fewer than <see cref="MinimumEvaluatedLength"/> items: they only train.</summary>
    public int UsersNotEvaluated { get; }
}

/// <summary>Splits and samples interaction data by user.</summary>
public static class UserSplits
{
    /// <summary>
    /// Splits <paramref name="sequences"/> leave-one-out (see <see cref="LeaveOneOutSplit"/>). Users with fewer than
    /// three items are not evaluated: their whole sequence goes to <see cref="LeaveOneOutSplit.Train"/>.
    /// </summary>
    public static LeaveOneOutSplit LeaveOneOut(InteractionSequences sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        int users = sequences.UserCount;
        var trainLengths = new int[users];
        int evaluated = 0;
        for (int u = 0; u < users; u++)
        {
            int length = sequences.GetLength(u);
            bool evaluate = length >= LeaveOneOutSplit.MinimumEvaluatedLength;
            trainLengths[u] = evaluate ? length - 2 : length;
            if (evaluate) evaluated++;
        }
        var caseUsers = new int[evaluated];
        var validationLengths = new int[evaluated];
        var validationTargets = new int[evaluated];
        var testLengths = new int[evaluated];
        var testTargets = new int[evaluated];
        for (int u = 0, k = 0; u < users; u++)
        {
            var sequence = sequences.GetSequence(u);
            if (sequence.Length < LeaveOneOutSplit.MinimumEvaluatedLength) continue;
            caseUsers[k] = u;
            validationLengths[k] = sequence.Length - 2;
            validationTargets[k] = sequence[^2];
            testLengths[k] = sequence.Length - 1;
            testTargets[k] = sequence[^1];
            k++;
        }
        return new LeaveOneOutSplit(
            sequences.WithPrefixes(trainLengths),
            new EvaluationCases(sequences, caseUsers, validationLengths, validationTargets),
            new EvaluationCases(sequences, (int[])caseUsers.Clone(), testLengths, testTargets),
            users - evaluated);
    }

    /// <summary>
    /// Test cases from whole sequences: for each user with at least <paramref name="minimumLength"/> items, the last item
    /// is the target and the items before it are the history. With the default minimum (3) these are exactly the
    /// <see cref="LeaveOneOutSplit.Test"/> cases of <see cref="LeaveOneOut"/>.
    /// </summary>
    public static EvaluationCases LastItemCases(InteractionSequences sequences, int minimumLength = LeaveOneOutSplit.MinimumEvaluatedLength)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (minimumLength < 2) throw new ArgumentOutOfRangeException(nameof(minimumLength), "A case needs at least one history item and the target.");
        var users = new List<int>();
        for (int u = 0; u < sequences.UserCount; u++)
            if (sequences.GetLength(u) >= minimumLength) users.Add(u);
        return new EvaluationCases(sequences, users.ToArray(), users.Select(u => sequences.GetLength(u) - 1).ToArray(),
            users.Select(u => sequences.GetSequence(u)[^1]).ToArray());
    }

    /// <summary>
    /// A random subset of users holding about <paramref name="targetInteractions"/> interactions: users are shuffled
    /// with <c>new System.Random(seed)</c> (Fisher-Yates; seeded System.Random is deterministic across .NET versions),
    /// taken in that order with all their interactions until the total reaches the target (the last user taken may
    /// pass it). The kept users stay in their original order, with the same catalog. Same seed, same users.
    /// </summary>
    public static InteractionSequences SampleUsers(InteractionSequences sequences, long targetInteractions, int seed)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetInteractions);
        var order = new int[sequences.UserCount];
        for (int u = 0; u < order.Length; u++) order[u] = u;
        var random = new Random(seed);
        for (int k = order.Length - 1; k > 0; k--)
        {
            int j = random.Next(k + 1);
            (order[k], order[j]) = (order[j], order[k]);
        }
        var lengths = new int[sequences.UserCount];
        long total = 0;
        foreach (var u in order)
        {
            if (total >= targetInteractions) break;
            lengths[u] = sequences.GetLength(u);
            total += lengths[u];
        }
        return sequences.WithPrefixes(lengths);
    }
}
