using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Evaluation;

/// <summary>Which items each target is ranked against (docs/evaluation.md).</summary>
public enum RankingProtocol
{
    /// <summary>Every item of the catalog but the target (no sampling bias; what <c>srt train</c> reports).</summary>
    FullCatalog,

    /// <summary>
    /// <see cref="SrtEvaluationOptions.SampledNegatives"/> items drawn uniformly without replacement per case, never the
    /// target (nor, when <see cref="SrtEvaluationOptions.MaskHistory"/> is set, a history item).
    /// </summary>
    SampledNegatives,
}

/// <summary>
/// How every evaluation entry point ranks and averages (<see cref="NextItemEvaluator"/>,
/// <c>mlContext.Recommendation().Evaluate(...)</c>, <c>SrtModel.Evaluate</c>, <see cref="CatalogRankingEvaluator"/>):
/// the protocol, history masking, the cut-offs K and, for evaluation data given as an <see cref="IDataView"/> of
/// interactions, its columns. The defaults here are the only ones: an entry point given no options uses
/// <c>new SrtEvaluationOptions()</c> (full ranking, history not masked, K = 5, 10, 20). Ties always count
/// pessimistically: a candidate whose score equals the target's ranks ahead of it.
/// </summary>
public sealed class SrtEvaluationOptions
{
    /// <summary>The cut-offs K of NDCG@K and HIT@K. Default 5, 10, 20.</summary>
    public int[] Ks = [5, 10, 20];

    /// <summary>Rank the target against the whole catalog or against sampled negatives. Default <see cref="RankingProtocol.FullCatalog"/>.</summary>
    public RankingProtocol Protocol = RankingProtocol.FullCatalog;

    /// <summary>Negatives per case under <see cref="RankingProtocol.SampledNegatives"/> (ignored otherwise). Default 10,000, as
    /// in the paper. When a case has no more eligible items than this, all of them are used (that case is then ranked as under full ranking).</summary>
    public int SampledNegatives = 10_000;

    /// <summary>
    /// Leave the items of each case's history (other than the target itself) out of the candidates. Default false:
    /// repeat consumption is real, and <c>srt train</c> reports unmasked metrics.
    /// </summary>
    public bool MaskHistory;

    /// <summary>Seed of the negative sampling: case <c>k</c> draws from its own stream of this seed, so results do not
    /// depend on batching or threads. Default 1.</summary>
    public int Seed = 1;

    /// <summary>The user column of an interactions <see cref="IDataView"/> (text, integer or key). Default <c>UserId</c>.</summary>
    public string UserColumnName = "UserId";

    /// <summary>The item column of an interactions <see cref="IDataView"/> (text, integer or key). Default <c>ItemId</c>.</summary>
    public string ItemColumnName = "ItemId";

    /// <summary>The numeric column ordering each user's interactions; null (the default) keeps row order.</summary>
    public string? TimestampColumnName;

    /// <summary>
    /// Interaction items missing from the scorer's catalog: <see cref="UnknownItemPolicy.Error"/> (the default) or
    /// <see cref="UnknownItemPolicy.Drop"/> (removed before each user's last interaction is chosen as the target).
    /// <see cref="UnknownItemPolicy.AddPlaceholder"/> is not accepted: a scorer's catalog is fixed.
    /// </summary>
    public UnknownItemPolicy UnknownItems = UnknownItemPolicy.Error;

    /// <summary>
    /// Fewest interactions a user of an interactions <see cref="IDataView"/> needs to be evaluated (the last is the target,
    /// the rest the history). Default 3, as in the leave-one-out split (<see cref="LeaveOneOutSplit.MinimumEvaluatedLength"/>),
    /// so evaluating all interactions with a model fitted on all but each user's last one gives the users and cases of
    /// <c>srt train</c>. At least 2.
    /// </summary>
    public int MinimumInteractions = LeaveOneOutSplit.MinimumEvaluatedLength;

    /// <summary>The defaults with these cut-offs (null: the default ones) and masking.</summary>
    internal static SrtEvaluationOptions With(IEnumerable<int>? ks, bool maskHistory)
    {
        var options = new SrtEvaluationOptions { MaskHistory = maskHistory };
        if (ks is not null) options.Ks = ks.ToArray();
        return options;
    }

    /// <summary>Checks every option; messages name the option.</summary>
    internal void Validate()
    {
        Check(Ks is { Length: > 0 }, nameof(Ks), "must list at least one cut-off");
        Check(Ks.All(k => k >= 1), nameof(Ks), "must hold cut-offs of at least 1");
        Check(Enum.IsDefined(Protocol), nameof(Protocol), "must be FullCatalog or SampledNegatives");
        Check(Protocol != RankingProtocol.SampledNegatives || SampledNegatives >= 1, nameof(SampledNegatives), "must be at least 1");
        Check(!string.IsNullOrWhiteSpace(UserColumnName), nameof(UserColumnName), "must name a column");
        Check(!string.IsNullOrWhiteSpace(ItemColumnName), nameof(ItemColumnName), "must name a column");
        Check(UnknownItems is UnknownItemPolicy.Error or UnknownItemPolicy.Drop, nameof(UnknownItems),
            "must be Error or Drop (a scorer's catalog is fixed, so unknown items cannot be added as placeholders)");
        Check(MinimumInteractions >= 2, nameof(MinimumInteractions), "must be at least 2 (one history item and the target)");
    }

    private static void Check(bool ok, string option, string rule)
    {
        if (!ok) throw new ArgumentOutOfRangeException(option, $"SrtEvaluationOptions.{option} {rule}.");
    }
}
