using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Persistence;
using Microsoft.ML.Srt.Scoring;

namespace Microsoft.ML.Srt.Training;

// The ML.NET estimator face of SrtTrainer: Fit(IDataView) → SrtTransformer, with Train(...) as its core.
public sealed partial class SrtTrainer : IEstimator<SrtTransformer>
{
    private ChannelLog? _channelLog;

    /// <summary>A trainer that logs through <paramref name="env"/>'s log channel (what the catalog methods create).</summary>
    internal static SrtTrainer Create(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        var host = env.Register("SrtTrainer");
        var sink = new ChannelLog(host);
        return new SrtTrainer(options, sink.Write, host) { _channelLog = sink };
    }

    /// <summary>
    /// Trains on <paramref name="interactions"/> (one row per user-item interaction, columns named by
    /// <see cref="Options.UserColumnName"/>, <see cref="Options.ItemColumnName"/> and optionally
    /// <see cref="Options.TimestampColumnName"/>) and returns the fitted transformer.
    /// </summary>
    /// <remarks>
    /// The catalog is <see cref="Options.Catalog"/>, else <see cref="Options.Items"/> read with the Items* options;
    /// without either only <see cref="ItemRepresentation.Id"/> can train (a bare catalog of the interaction ids).
    /// Validation: without <see cref="Options.ValidationData"/>, each user's last interaction is held out as the
    /// validation target (users with at least 3 interactions) and the rest is trained on, so fitting on data whose
    /// last interaction per user was already removed for testing reproduces the leave-one-out protocol. With
    /// <see cref="Options.ValidationData"/>, all of <paramref name="interactions"/> is trained on; validation users
    /// are matched to training users by id, and each validation user's history is its training sequence followed by
    /// its validation interactions but the last, which is the target.
    /// </remarks>
    public SrtTransformer Fit(IDataView interactions)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        using var scope = _channelLog?.Begin();
        var o = _options;
        var report = new LoadReport();
        var catalog = o.Catalog;
        if (catalog is null && o.Items is not null)
        {
            catalog = ItemCatalogDataView.Read(o.Items, new ItemCatalogDataView.Options
            {
                IdColumn = o.ItemsIdColumnName,
                TextColumns = o.TextColumnNames,
                TokenColumns = o.TokenColumnNames,
                SourceName = "Items",
            }, report);
        }
        if (catalog is null && o.ItemRepresentation != ItemRepresentation.Id)
            throw new ArgumentException(
                $"SRT computes item vectors from item text, so it needs the item catalog: set {nameof(Options)}.{nameof(Options.Items)} " +
                $"(an IDataView with the '{o.ItemsIdColumnName}' column and text columns) or {nameof(Options)}.{nameof(Options.Catalog)}. " +
                $"Without item text, set {nameof(Options.ItemRepresentation)} = {nameof(ItemRepresentation.Id)} (SASRec-style id embeddings).",
                nameof(interactions));

        var all = ReadInteractions(interactions, catalog, o.UnknownItems, "training data", report);
        InteractionSequences train;
        EvaluationCases? validation;
        if (o.ValidationData is null)
        {
            var lengths = new int[all.UserCount];
            for (int u = 0; u < all.UserCount; u++)
            {
                int n = all.GetLength(u);
                lengths[u] = n >= LeaveOneOutSplit.MinimumEvaluatedLength ? n - 1 : n;
            }
            train = all.WithPrefixes(lengths);
            validation = UserSplits.LeaveOneOut(all).Test;
        }
        else
        {
            train = all;
            validation = ValidationCases(all, o.ValidationData, o.UnknownItems, report);
        }
        foreach (var note in report.Notes) _log(note);
        foreach (var (reason, count) in report.Dropped.Where(d => d.Value > 0)) _log($"dropped {count} ({reason})");
        _log($"SRT data: {train.UserCount} users, {train.InteractionCount} training interactions, {train.Catalog.Count} items, " +
             $"{validation?.Count ?? 0} validation cases.");
        var model = Train(train, validation is { Count: > 0 } ? validation : null);
        return new SrtTransformer(model, TransformerOptions());
    }

    /// <summary>
    /// The schema of the fitted transformer's output for the training data's schema <paramref name="inputSchema"/>, as
    /// ML.NET's <c>EstimatorChain.Fit</c> asks before fitting: the interactions must hold the user and item columns (text,
    /// integer or key) and the timestamp column when one is named; errors name the column. The output is the input
    /// columns plus <see cref="Options.RecommendedItemsColumnName"/> (vector of text) and <see cref="Options.ScoresColumnName"/>
    /// (vector of Single), and <see cref="Options.CandidateScoreColumnName"/> when the candidate column is present: what
    /// <see cref="SrtTransformer.GetOutputSchema"/> gives for the same input. Those columns are computed from the history
    /// column (<see cref="Options.HistoryColumnName"/>), which interactions do not have: histories are scored by the
    /// fitted transformer (docs/api.md, "In an EstimatorChain").
    /// </summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var o = _options;
        CheckIdColumn(inputSchema, o.UserColumnName, nameof(Options.UserColumnName));
        CheckIdColumn(inputSchema, o.ItemColumnName, nameof(Options.ItemColumnName));
        if (o.TimestampColumnName is { } timestampName)
        {
            var timestamp = FindColumn(inputSchema, timestampName, nameof(Options.TimestampColumnName));
            var t = timestamp.ItemType;
            if (timestamp.Kind != SchemaShape.Column.VectorKind.Scalar || !(t is NumberDataViewType || t is TextDataViewType
                || t is DateTimeDataViewType || t is DateTimeOffsetDataViewType))
                throw new SrtDataException("training data", null, timestamp.Name,
                    $"column '{timestamp.Name}' ({nameof(Options.TimestampColumnName)}) has type {t} ({timestamp.Kind}); expected {DataViewColumns.TimeTypes}.");
        }
        var added = new DataViewSchema.Builder();
        added.AddColumn(o.RecommendedItemsColumnName, new VectorDataViewType(TextDataViewType.Instance));
        added.AddColumn(o.ScoresColumnName, new VectorDataViewType(NumberDataViewType.Single));
        if (o.CandidateColumnName is { } candidateName && inputSchema.FirstOrDefault(c => c.Name == candidateName) is { Name: not null } candidate)
        {
            if (candidate.ItemType is not TextDataViewType)
                throw new SrtDataException("training data", null, candidateName,
                    $"column '{candidateName}' (CandidateColumnName) has type {candidate.ItemType} ({candidate.Kind}); expected a text item id or a vector of text item ids.");
            added.AddColumn(o.CandidateScoreColumnName, candidate.Kind == SchemaShape.Column.VectorKind.Scalar
                ? NumberDataViewType.Single : new VectorDataViewType(NumberDataViewType.Single));
        }
        var addedShape = MlNetInternals.SchemaShapeOf(added.ToSchema());
        var names = addedShape.Select(c => c.Name).ToHashSet();
        return new SchemaShape(inputSchema.Where(c => !names.Contains(c.Name)).Concat(addedShape));
    }

    /// <summary>A column of <paramref name="schema"/> by name, matched as Fit matches it (exactly, else ignoring case and underscores).</summary>
    private static SchemaShape.Column FindColumn(SchemaShape schema, string name, string option)
    {
        var names = schema.Select(c => c.Name).ToList();
        int k = TextFile.FindColumn(names, name);
        if (k < 0)
            throw new SrtDataException("training data", null, name,
                $"column '{name}' ({option}) is missing (columns: {string.Join(", ", names)}); SrtTrainer fits on interactions, one row per user-item interaction.");
        return schema.First(c => c.Name == names[k]);
    }

    private static void CheckIdColumn(SchemaShape schema, string name, string option)
    {
        var column = FindColumn(schema, name, option);
        var t = column.ItemType;
        bool id = t is TextDataViewType || column.IsKey || t == NumberDataViewType.Int32 || t == NumberDataViewType.Int64
            || t == NumberDataViewType.UInt32 || t == NumberDataViewType.UInt64;
        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || !id)
            throw new SrtDataException("training data", null, column.Name,
                $"column '{column.Name}' ({option}) has type {t} ({column.Kind}); expected {DataViewColumns.IdTypes}.");
    }

    private SrtTransformer.Options TransformerOptions() => new()
    {
        HistoryColumnName = _options.HistoryColumnName,
        RecommendedItemsColumnName = _options.RecommendedItemsColumnName,
        ScoresColumnName = _options.ScoresColumnName,
        TopK = _options.TopK,
        ExcludeHistory = _options.ExcludeHistory,
        CandidateColumnName = _options.CandidateColumnName,
        CandidateScoreColumnName = _options.CandidateScoreColumnName,
        ScoringBatchSize = _options.ScoringBatchSize,
    };

    private InteractionSequences ReadInteractions(IDataView data, ItemCatalog? catalog, UnknownItemPolicy policy, string source, LoadReport report)
    {
        var o = _options;
        if (o.TimestampColumnName is not null) DataViewColumns.Find(data.Schema, o.TimestampColumnName, source);
        return DataViewInteractionReader.Read(data, catalog, new DataViewInteractionReader.Options
        {
            UserColumn = o.UserColumnName,
            ItemColumn = o.ItemColumnName,
            TimestampColumn = o.TimestampColumnName,
            UnknownItems = policy,
            SourceName = source,
        }, report);
    }

    /// <summary>Validation users matched to training users by id; history = training sequence + validation items but the last.</summary>
    private EvaluationCases ValidationCases(InteractionSequences train, IDataView data, UnknownItemPolicy policy, LoadReport report)
    {
        // Validation items must index the training catalog: unknown ones are an error under Error, else dropped.
        var validationReport = new LoadReport();
        var read = ReadInteractions(data, train.Catalog, policy == UnknownItemPolicy.Error ? UnknownItemPolicy.Error : UnknownItemPolicy.Drop,
            "validation data", validationReport);
        foreach (var (reason, count) in validationReport.Dropped.Where(d => d.Value > 0)) report.Drop("validation_" + reason, count);
        var trainUsers = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int u = 0; u < train.UserCount; u++) trainUsers[train.UserIds[u]] = u;
        var userIds = new List<string>();
        var offsets = new List<long> { 0 };
        var items = new List<int>();
        var caseUsers = new List<int>();
        var historyLengths = new List<int>();
        var targets = new List<int>();
        int withoutHistory = 0;
        for (int v = 0; v < read.UserCount; v++)
        {
            var held = read.GetSequence(v);
            if (held.IsEmpty) continue;
            var before = trainUsers.TryGetValue(read.UserIds[v], out int u) ? train.GetSequence(u) : ReadOnlySpan<int>.Empty;
            int length = before.Length + held.Length;
            if (length < 2) { withoutHistory++; continue; }
            caseUsers.Add(userIds.Count);
            userIds.Add(read.UserIds[v]);
            foreach (var i in before) items.Add(i);
            foreach (var i in held) items.Add(i);
            offsets.Add(items.Count);
            historyLengths.Add(length - 1);
            targets.Add(held[^1]);
        }
        if (withoutHistory > 0) report.Drop("validation_user_without_history", withoutHistory);
        var sequences = new InteractionSequences(train.Catalog, userIds.ToArray(), offsets.ToArray(), items.ToArray());
        return new EvaluationCases(sequences, caseUsers.ToArray(), historyLengths.ToArray(), targets.ToArray());
    }

    private static void ValidateOutputOptions(Options o)
    {
        static void Require(bool ok, string option, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, $"SrtTrainer option {option} {rule}.");
        }
        Require(!string.IsNullOrWhiteSpace(o.ItemsIdColumnName), nameof(o.ItemsIdColumnName), "must name a column");
        Require(!string.IsNullOrWhiteSpace(o.HistoryColumnName), nameof(o.HistoryColumnName), "must name a column");
        Require(!string.IsNullOrWhiteSpace(o.RecommendedItemsColumnName), nameof(o.RecommendedItemsColumnName), "must name a column");
        Require(!string.IsNullOrWhiteSpace(o.ScoresColumnName), nameof(o.ScoresColumnName), "must name a column");
        Require(o.ScoresColumnName != o.RecommendedItemsColumnName, nameof(o.ScoresColumnName), "must differ from RecommendedItemsColumnName");
        Require(o.TopK >= 1, nameof(o.TopK), "must be at least 1");
        Require(o.ScoringBatchSize >= 1, nameof(o.ScoringBatchSize), "must be at least 1");
        if (o.CandidateColumnName is not null)
        {
            Require(!string.IsNullOrWhiteSpace(o.CandidateColumnName), nameof(o.CandidateColumnName), "must name a column (or be null)");
            Require(!string.IsNullOrWhiteSpace(o.CandidateScoreColumnName), nameof(o.CandidateScoreColumnName), "must name a column");
            Require(o.CandidateScoreColumnName != o.RecommendedItemsColumnName && o.CandidateScoreColumnName != o.ScoresColumnName,
                nameof(o.CandidateScoreColumnName), "must differ from RecommendedItemsColumnName and ScoresColumnName");
        }
    }

    /// <summary>Forwards the trainer's log lines to an ML.NET channel while a Fit runs (and to a short-lived one otherwise).</summary>
    private sealed class ChannelLog(IHost host)
    {
        private IChannel? _channel;

        public IDisposable Begin()
        {
            var channel = host.Start("Training");
            _channel = channel;
            return new End(this, channel);
        }

        public void Write(string message)
        {
            if (_channel is { } channel) { channel.Info(MessageSensitivity.None, message); return; }
            using var once = host.Start("Training");
            once.Info(MessageSensitivity.None, message);
        }

        private sealed class End(ChannelLog owner, IChannel channel) : IDisposable
        {
            public void Dispose()
            {
                if (ReferenceEquals(owner._channel, channel)) owner._channel = null;
                channel.Dispose();
            }
        }
    }
}
