namespace Microsoft.ML.Srt.Data.Synthetic;

/// <summary>
/// What a synthetic set looks like: the statistics that docs/synthetic-data.md promises, measured on
/// the generated sequences (by the streaming writer as it writes, or from an in-memory set).
/// </summary>
public sealed class SyntheticDataStatistics
{
    /// <summary>Number of users (sequences).</summary>
    public long Users { get; init; }

    /// <summary>Number of interactions.</summary>
    public long Interactions { get; init; }

    /// <summary>Mean sequence length.</summary>
    public double MeanLength => Users == 0 ? 0 : (double)Interactions / Users;

    /// <summary>Shortest sequence.</summary>
    public int MinLength { get; init; }

    /// <summary>Longest sequence.</summary>
    public int MaxLength { get; init; }

    /// <summary>Share of consecutive pairs whose second item has the first item's topic.</summary>
    public double SameTopicShare { get; init; }

    /// <summary>Share of consecutive pairs whose second item has the first item's product line (and so shares its line word).</summary>
    public double SameLineShare { get; init; }

    /// <summary>Share of interactions that go to the most popular 10% of catalog items (the long tail's head).</summary>
    public double Top10PercentItemShare { get; init; }

    /// <summary>Number of catalog items with at least one interaction.</summary>
    public int DistinctItems { get; init; }

    /// <summary>Number of items reserved for test targets.</summary>
    public int ReservedItems { get; init; }

    /// <summary>Number of sequences whose last item is a reserved item (test targets unseen in training).</summary>
    public long ReservedTargets { get; init; }

    /// <summary>Number of reserved items found before the last position of a sequence (always 0).</summary>
    public long ReservedBeforeLast { get; init; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"users={Users} interactions={Interactions} meanLength={MeanLength:F2} minLength={MinLength} maxLength={MaxLength} " +
        $"sameTopic={SameTopicShare:F3} sameLine={SameLineShare:F3} top10%Items={Top10PercentItemShare:F3} " +
        $"distinctItems={DistinctItems} reservedItems={ReservedItems} reservedTargets={ReservedTargets} reservedBeforeLast={ReservedBeforeLast}";

    /// <summary>Sums over sequences; blocks are measured separately and merged in order.</summary>
    internal sealed class Accumulator
    {
        public long Users, Interactions, Pairs, SameTopic, SameLine, ReservedTargets, ReservedBeforeLast;
        public int MinLength = int.MaxValue, MaxLength;

        public void Add(ReadOnlySpan<int> seq, SyntheticDataGenerator g)
        {
            Users++;
            Interactions += seq.Length;
            MinLength = Math.Min(MinLength, seq.Length);
            MaxLength = Math.Max(MaxLength, seq.Length);
            for (int k = 0; k < seq.Length; k++)
            {
                if (g.IsReservedForTest(seq[k]))
                {
                    if (k == seq.Length - 1) ReservedTargets++; else ReservedBeforeLast++;
                }
                if (k == 0) continue;
                Pairs++;
                if (g.GetTopic(seq[k]) == g.GetTopic(seq[k - 1])) SameTopic++;
                if (g.GetLine(seq[k]) == g.GetLine(seq[k - 1])) SameLine++;
            }
        }

        public void Merge(Accumulator o)
        {
            Users += o.Users; Interactions += o.Interactions; Pairs += o.Pairs;
            SameTopic += o.SameTopic; SameLine += o.SameLine;
            ReservedTargets += o.ReservedTargets; ReservedBeforeLast += o.ReservedBeforeLast;
            MinLength = Math.Min(MinLength, o.MinLength);
            MaxLength = Math.Max(MaxLength, o.MaxLength);
        }

        public SyntheticDataStatistics Result(long[] itemCounts, int reservedItems)
        {
            var sorted = (long[])itemCounts.Clone();
            Array.Sort(sorted);
            int head = Math.Max(1, sorted.Length / 10);
            long headSum = 0;
            for (int k = sorted.Length - head; k < sorted.Length; k++) headSum += sorted[k];
            return new SyntheticDataStatistics
            {
                Users = Users,
                Interactions = Interactions,
                MinLength = Users == 0 ? 0 : MinLength,
                MaxLength = MaxLength,
                SameTopicShare = Pairs == 0 ? 0 : (double)SameTopic / Pairs,
                SameLineShare = Pairs == 0 ? 0 : (double)SameLine / Pairs,
                Top10PercentItemShare = Interactions == 0 ? 0 : (double)headSum / Interactions,
                DistinctItems = itemCounts.Count(c => c > 0),
                ReservedItems = reservedItems,
                ReservedTargets = ReservedTargets,
                ReservedBeforeLast = ReservedBeforeLast,
            };
        }
    }
}
