namespace Microsoft.ML.Srt.Data.Synthetic;

/// <summary>
/// Options of <see cref="SyntheticDataGenerator"/>. The defaults give a Beauty-sized toy set (2,000 items,
/// 5,000 users, about 9 interactions per user, every user at least 5) in well under a second.
/// See docs/synthetic-data.md for the generative model and the statistics it promises.
/// </summary>
public sealed class SyntheticDataOptions
{
    /// <summary>Seed of every random choice. The same seed and options give byte-identical output. Default 42.</summary>
    public ulong Seed = 42;

    /// <summary>Number of catalog items. Default 2,000.</summary>
    public int ItemCount = 2_000;

    /// <summary>Number of users (one sequence each). Default 5,000.</summary>
    public int UserCount = 5_000;

    /// <summary>
    /// Number of latent topics. Each topic has its own title vocabulary, brands and category token.
    /// 0 (the default) picks <c>max(2, ItemCount / 100)</c>, so topics keep about 100 items at any scale.
    /// </summary>
    public int TopicCount;

    /// <summary>Product lines per topic; items of one line share a title word and a category token. Default 5.</summary>
    public int LinesPerTopic = 5;

    /// <summary>Topics per department; topics of one department share a category token and are related. Default 4.</summary>
    public int TopicsPerDepartment = 4;

    /// <summary>Brands per topic (a brand belongs to one topic, or two with <see cref="SharedBrandProbability"/>). Default 6.</summary>
    public int BrandsPerTopic = 6;

    /// <summary>Probability that a brand also sells in a second topic of its department. Default 0.3.</summary>
    public double SharedBrandProbability = 0.3;

    /// <summary>Mean sequence length (before the cap <see cref="MaxSequenceLength"/>). Default 9 (Amazon Beauty: 8.9).</summary>
    public double MeanSequenceLength = 9;

    /// <summary>Minimum sequence length (5 makes the set 5-core on the user side, like Beauty). Default 5.</summary>
    public int MinSequenceLength = 5;

    /// <summary>Maximum sequence length. Default 200.</summary>
    public int MaxSequenceLength = 200;

    /// <summary>Exponent s of the Zipf popularity prior: the item of popularity rank r has weight (r + 1)^-s. Default 0.8.</summary>
    public double PopularityExponent = 0.8;

    /// <summary>
    /// Fraction of items reserved for test targets: they occur only as the last item of a sequence, so a
    /// leave-one-out split never trains on them ("items unseen in training"). Default 0.05.
    /// </summary>
    public double ReservedItemFraction = 0.05;

    /// <summary>Probability that the next item follows the second-to-last item rather than the last one. Default 0.25.</summary>
    public double SecondToLastAnchorProbability = 0.25;

    /// <summary>Probability that the next item comes from the anchor item's product line. Default 0.4.</summary>
    public double SameLineProbability = 0.4;

    /// <summary>Probability that the next item comes from the anchor item's brand. Default 0.1.</summary>
    public double SameBrandProbability = 0.1;

    /// <summary>Probability that the next item comes from the anchor item's topic (any line). Default 0.2.</summary>
    public double SameTopicProbability = 0.2;

    /// <summary>Probability that the next item comes from a topic of the anchor's department. Default 0.1.</summary>
    public double RelatedTopicProbability = 0.1;

    // The remaining probability (default 0.2) draws the next item from one of the user's favourite topics.

    /// <summary>Number of favourite topics per user (where sequences start and drift back to), 1 to 64. Default 3.</summary>
    public int FavouriteTopicCount = 3;

    /// <summary>Per-step probability that one favourite topic is replaced by a new one (preference drift). Default 0.05.</summary>
    public double PreferenceDriftProbability = 0.05;

    /// <summary>Users generated per work block when writing or generating in parallel (does not change the output). Default 4,096.</summary>
    public int UsersPerBlock = 4_096;

    /// <summary>Threads used to generate blocks; the output does not depend on it. Default: all processors.</summary>
    public int MaxDegreeOfParallelism = -1;

    internal int EffectiveTopicCount => TopicCount > 0 ? TopicCount : Math.Max(2, ItemCount / 100);

    internal void Validate()
    {
        if (ItemCount < 1) throw new ArgumentOutOfRangeException(nameof(ItemCount), "At least one item is needed.");
        if (UserCount < 1) throw new ArgumentOutOfRangeException(nameof(UserCount), "At least one user is needed.");
        if (LinesPerTopic < 1 || TopicsPerDepartment < 1 || BrandsPerTopic < 1 || FavouriteTopicCount < 1)
            throw new ArgumentOutOfRangeException(nameof(LinesPerTopic), "Lines, topics per department, brands and favourites must be at least 1.");
        if ((long)EffectiveTopicCount * LinesPerTopic > ItemCount)
            throw new ArgumentException($"{EffectiveTopicCount} topics x {LinesPerTopic} lines need at least that many items; ItemCount is {ItemCount}.");
        if (FavouriteTopicCount > 64) throw new ArgumentOutOfRangeException(nameof(FavouriteTopicCount), "At most 64 favourite topics.");
        if (MinSequenceLength < 2 || MaxSequenceLength < MinSequenceLength)
            throw new ArgumentOutOfRangeException(nameof(MinSequenceLength), "Need 2 <= MinSequenceLength <= MaxSequenceLength.");
        if (MeanSequenceLength < MinSequenceLength)
            throw new ArgumentOutOfRangeException(nameof(MeanSequenceLength), "MeanSequenceLength must be at least MinSequenceLength.");
        if (ReservedItemFraction < 0 || ReservedItemFraction >= 1)
            throw new ArgumentOutOfRangeException(nameof(ReservedItemFraction), "Must be in [0, 1).");
        if (PopularityExponent < 0) throw new ArgumentOutOfRangeException(nameof(PopularityExponent));
        double transitions = SameLineProbability + SameBrandProbability + SameTopicProbability + RelatedTopicProbability;
        if (SameLineProbability < 0 || SameBrandProbability < 0 || SameTopicProbability < 0 || RelatedTopicProbability < 0 || transitions > 1)
            throw new ArgumentException("Transition probabilities must be non-negative and sum to at most 1.");
        if (UsersPerBlock < 1) throw new ArgumentOutOfRangeException(nameof(UsersPerBlock));
    }
}
