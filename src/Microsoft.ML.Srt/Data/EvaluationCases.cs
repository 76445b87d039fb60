namespace Microsoft.ML.Srt.Data;

/// <summary>
/// Next-item prediction cases for evaluation: for each case, a user's history (a prefix of that user's
/// sequence in <see cref="Source"/>) and the item that came next. Histories are not copied.
/// </summary>
public sealed class EvaluationCases
{
    /// <summary>Creates cases over <paramref name="source"/>: case <c>k</c> is user <c>users[k]</c>'s first
    /// <c>historyLengths[k]</c> items followed by <c>targets[k]</c>.</summary>
    public EvaluationCases(InteractionSequences source, int[] users, int[] historyLengths, int[] targets)
    {
        if (users.Length != historyLengths.Length || users.Length != targets.Length)
            throw new ArgumentException("users, historyLengths and targets must have the same length.");
        for (int k = 0; k < users.Length; k++)
        {
            if (historyLengths[k] < 1 || historyLengths[k] > source.GetLength(users[k]))
                throw new ArgumentException($"Case {k}: history length {historyLengths[k]} does not fit user {users[k]}.");
            if ((uint)targets[k] >= (uint)source.Catalog.Count)
                throw new ArgumentException($"Case {k}: target {targets[k]} is outside the catalog.");
        }
        Source = source;
        Users = users;
        HistoryLengths = historyLengths;
        Targets = targets;
    }

    /// <summary>The sequences that the histories are prefixes of.</summary>
    public InteractionSequences Source { get; }

    /// <summary>User index (into <see cref="Source"/>) of each case.</summary>
    public int[] Users { get; }

    /// <summary>History length of each case.</summary>
    public int[] HistoryLengths { get; }

    /// <summary>Catalog index of the item to predict, per case.</summary>
    public int[] Targets { get; }

    /// <summary>Number of cases.</summary>
    public int Count => Users.Length;

    /// <summary>The history of case <paramref name="k"/>, oldest first.</summary>
    public ReadOnlySpan<int> GetHistory(int k) => Source.GetSequence(Users[k])[..HistoryLengths[k]];
}
