using Microsoft.ML.Data;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Featurization;

namespace Microsoft.ML.Srt.Scoring;

/// <summary>
/// The fitted SRT model as an ML.NET <see cref="ITransformer"/>: for each input row's history of item ids it adds the
/// top-K recommended item ids and their scores, and optionally the scores of candidate items. <see cref="Transform"/>
/// is lazy and scores rows in batches as a cursor reads them; as a row-to-row mapper it also serves
/// <c>mlContext.Model.CreatePredictionEngine</c> (one history per call).
/// </summary>
/// <remarks>
/// Input: <see cref="Options.HistoryColumnName"/> (default <c>History</c>), oldest item first, either a vector of
/// text item ids (the primary form, as <see cref="HistoriesFromInteractions"/> produces) or one text value of ids
/// separated by spaces or commas. Ids missing from the model's catalog are skipped and counted in
/// <see cref="SkippedHistoryItems"/>; a row left with no known item gets empty outputs (NaN candidate scores) and is
/// counted in <see cref="EmptyHistories"/>. Output: <c>RecommendedItems</c> (vector of text, best first),
/// <c>RecommendationScores</c> (vector of Single, the same order) and, when <see cref="Options.CandidateColumnName"/> is
/// set, <c>CandidateScore</c>. Scoring is thread-safe: see docs/api.md ("Many threads").
/// </remarks>
public sealed partial class SrtTransformer : ITransformer, IDisposable
{
    /// <summary>Columns and ranking of <see cref="SrtTransformer"/>.</summary>
    public sealed class Options
    {
        /// <summary>The input history column: vector of text ids, or text of ids separated by spaces or commas. Default <c>History</c>.</summary>
        public string HistoryColumnName = "History";

        /// <summary>The output column of recommended item ids (vector of text, best first). Default <c>RecommendedItems</c>.</summary>
        public string RecommendedItemsColumnName = "RecommendedItems";

        /// <summary>The output column of scores (vector of Single, same order as the items). Default <c>RecommendationScores</c>.</summary>
        public string ScoresColumnName = "RecommendationScores";

        /// <summary>Recommendations per row (fewer when the catalog is smaller). Default 10.</summary>
        public int TopK = 10;

        /// <summary>Leave out items already in the row's history. Default false (repeat purchases are real; the evaluation protocol does not mask).</summary>
        public bool ExcludeHistory;

        /// <summary>
        /// An input column of candidate item ids to score for each row: text (one id) or a vector of text (several). Default
        /// null: no candidate scores. Ids missing from the catalog score NaN and are counted in <see cref="SrtTransformer.UnknownCandidates"/>.
        /// </summary>
        public string? CandidateColumnName;

        /// <summary>The output column of candidate scores: Single for a text candidate column, vector of Single (same order) for a
        /// vector one. Used only with <see cref="CandidateColumnName"/>. Default <c>CandidateScore</c>.</summary>
        public string CandidateScoreColumnName = "CandidateScore";

        /// <summary>Rows scored per forward pass by <see cref="SrtTransformer.Transform"/>'s cursors (consecutive rows, padded to
        /// their longest history). Default 256.</summary>
        public int ScoringBatchSize = SrtModel.DefaultBatchSize;

        internal Options Clone() => (Options)MemberwiseClone();

        internal void Validate()
        {
            Check(!string.IsNullOrWhiteSpace(HistoryColumnName), nameof(HistoryColumnName), "must name a column");
            Check(!string.IsNullOrWhiteSpace(RecommendedItemsColumnName), nameof(RecommendedItemsColumnName), "must name a column");
            Check(!string.IsNullOrWhiteSpace(ScoresColumnName), nameof(ScoresColumnName), "must name a column");
            Check(RecommendedItemsColumnName != ScoresColumnName, nameof(ScoresColumnName), "must differ from RecommendedItemsColumnName");
            Check(TopK >= 1, nameof(TopK), "must be at least 1");
            Check(ScoringBatchSize >= 1, nameof(ScoringBatchSize), "must be at least 1");
            if (CandidateColumnName is not null)
            {
                Check(!string.IsNullOrWhiteSpace(CandidateColumnName), nameof(CandidateColumnName), "must name a column (or be null)");
                Check(!string.IsNullOrWhiteSpace(CandidateScoreColumnName), nameof(CandidateScoreColumnName), "must name a column");
                Check(CandidateScoreColumnName != RecommendedItemsColumnName && CandidateScoreColumnName != ScoresColumnName,
                    nameof(CandidateScoreColumnName), "must differ from RecommendedItemsColumnName and ScoresColumnName");
            }
        }

        private static void Check(bool ok, string option, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, $"SrtTransformer option {option} {rule}.");
        }
    }

    private static readonly char[] _separators = [' ', ',', '\t', ';'];
    private readonly Options _options;
    private long _skipped, _empty, _unknownCandidates;

    /// <summary>Wraps <paramref name="model"/>; the transformer owns it from now on (<see cref="Dispose"/> disposes it).</summary>
    public SrtTransformer(SrtModel model, Options? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _options = (options ?? new Options()).Clone();
        _options.Validate();
        Model = model;
    }

    /// <summary>The trained model: recommend for catalog indices, evaluate, parameter counts, training summary.</summary>
    public SrtModel Model { get; }

    /// <summary>History column name.</summary>
    public string HistoryColumnName => _options.HistoryColumnName;

    /// <summary>Recommended-items column name.</summary>
    public string RecommendedItemsColumnName => _options.RecommendedItemsColumnName;

    /// <summary>Scores column name.</summary>
    public string ScoresColumnName => _options.ScoresColumnName;

    /// <summary>Recommendations per row.</summary>
    public int TopK => _options.TopK;

    /// <summary>Whether items already in a history are left out of its recommendations.</summary>
    public bool ExcludeHistory => _options.ExcludeHistory;

    /// <summary>The input column of candidate item ids, or null when candidates are not scored.</summary>
    public string? CandidateColumnName => _options.CandidateColumnName;

    /// <summary>The output column of candidate scores (present only with <see cref="CandidateColumnName"/>).</summary>
    public string CandidateScoreColumnName => _options.CandidateScoreColumnName;

    /// <summary>Rows scored per forward pass by <see cref="Transform"/>'s cursors.</summary>
    public int ScoringBatchSize => _options.ScoringBatchSize;

    /// <summary>History ids not found in the model's catalog, skipped so far (over every cursor, row and prediction engine).</summary>
    public long SkippedHistoryItems => Interlocked.Read(ref _skipped);

    /// <summary>Rows scored so far whose history had no known item (their outputs are empty vectors).</summary>
    public long EmptyHistories => Interlocked.Read(ref _empty);

    /// <summary>Candidate ids not found in the model's catalog so far (each scored NaN).</summary>
    public long UnknownCandidates => Interlocked.Read(ref _unknownCandidates);

    /// <summary>True: <see cref="GetRowToRowMapper"/> maps one row at a time, which is what a PredictionEngine needs.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>
    /// The input schema plus the output columns (recommended items, their scores, and the candidate scores when a candidate
    /// column is set); checks the history and candidate columns' presence and types.
    /// </summary>
    /// <remarks>
    /// An input without the history column is accepted, because ML.NET's <c>EstimatorChain.Fit</c> passes the training
    /// interactions through every fitted transformer, this one included: the output then declares the same columns as
    /// <see cref="Training.SrtTrainer.GetOutputSchema"/> (the candidate score only when the candidate column is present), its
    /// input columns read as usual, and a cursor that asks for an output column throws <see cref="SrtDataException"/>
    /// naming the missing history column. <see cref="GetRowToRowMapper"/> (prediction engines) requires the column.
    /// </remarks>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        bool hasHistory = inputSchema.GetColumnOrNull(_options.HistoryColumnName) is not null;
        if (hasHistory) CheckHistoryColumn(inputSchema);
        var candidate = hasHistory || (_options.CandidateColumnName is { } c0 && inputSchema.GetColumnOrNull(c0) is not null)
            ? CheckCandidateColumn(inputSchema) : null;
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(_options.RecommendedItemsColumnName, new VectorDataViewType(TextDataViewType.Instance));
        builder.AddColumn(_options.ScoresColumnName, new VectorDataViewType(NumberDataViewType.Single));
        if (candidate is { } c)
            builder.AddColumn(_options.CandidateScoreColumnName,
                c.Type is VectorDataViewType ? new VectorDataViewType(NumberDataViewType.Single) : NumberDataViewType.Single);
        return builder.ToSchema();
    }

    /// <summary>
    /// A mapper that scores one row at a time (no batching), for <c>mlContext.Model.CreatePredictionEngine</c>. A prediction
    /// engine is not thread-safe: use one per thread, or a pool (docs/api.md, "Many threads").
    /// </summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckHistoryColumn(inputSchema);
        return new RowMapper(this, inputSchema, GetOutputSchema(inputSchema));
    }

    /// <summary>
    /// A lazy view: the input's columns plus the recommendations. A cursor scores <see cref="ScoringBatchSize"/> consecutive rows
    /// per forward pass, reading their histories through a second cursor over <paramref name="input"/> one batch ahead (so the
    /// input must give its rows in the same order to every cursor, as ML.NET data views do); a shuffling cursor scores row by row.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new ScoredDataView(this, input, GetOutputSchema(input.Schema));
    }

    /// <summary>
    /// A transformer over the same model with other <paramref name="options"/> (columns, K, candidates...). The model is shared,
    /// not copied; dispose the new transformer as well as this one, in any order.
    /// </summary>
    public SrtTransformer WithOptions(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var copy = options.Clone();
        copy.Validate();
        return new SrtTransformer(Model.Share(), copy);
    }

    /// <summary>
    /// A transformer with the same weights and options that scores against <paramref name="catalog"/> (see
    /// <see cref="SrtModel.WithCatalog"/>): added items can be recommended, removed items never are, and history ids that are no
    /// longer in the catalog are skipped and counted. No retraining. Dispose it as well as this one (in any order).
    /// </summary>
    /// <exception cref="NotSupportedException">The model embeds item ids (id representations cannot change catalog).</exception>
    public SrtTransformer WithCatalog(ItemCatalog catalog) => new(Model.WithCatalog(catalog), _options);

    /// <summary>
    /// <see cref="WithCatalog(ItemCatalog)"/> from an item data view: one row per item, the id column
    /// <paramref name="itemsIdColumnName"/> (text, integer or key) and the fields the model reads, by their training names
    /// (text columns, and vector-of-text columns for token-list fields; <see cref="ItemFeaturizer.Fields"/> lists them).
    /// Errors name the missing or mistyped column.
    /// </summary>
    public SrtTransformer WithCatalog(IDataView items, string itemsIdColumnName = "ItemId")
    {
        ArgumentNullException.ThrowIfNull(items);
        var catalog = ItemCatalogDataView.Read(items, new ItemCatalogDataView.Options
        {
            IdColumn = itemsIdColumnName,
            TextColumns = Model.Featurizer.TextFieldCaps.Keys.ToArray(),
            TokenColumns = Model.Featurizer.TokenFieldVocabularies.Keys.ToArray(),
            SourceName = "items",
        });
        return WithCatalog(catalog);
    }

    /// <summary>
    /// Saves the transformer (its options and the SRT model file) into an ML.NET model zip; called by
    /// <c>mlContext.Model.Save</c>. <c>mlContext.Model.Load</c> reads it back (docs/model-files.md).
    /// </summary>
    /// <exception cref="NotSupportedException">The model uses a custom tokenizer, which a model file cannot store.</exception>
    public void Save(ModelSaveContext ctx) => Persistence.SrtTransformerPersistence.Save(this, ctx);

    /// <summary>A copy of the options this transformer was built with (what <see cref="Save"/> stores).</summary>
    internal Options CopyOptions() => _options.Clone();

    /// <summary>Disposes the model's native (torch) memory.</summary>
    public void Dispose() => Model.Dispose();

    /// <summary>
    /// Groups interactions (one row per user-item interaction) into one row per user with a user column (text, named
    /// <paramref name="userColumnName"/>)
    /// and a history column (vector of text item ids, oldest first) ready for <see cref="Transform"/>. Reading follows
    /// <see cref="DataViewInteractionReader"/>: users in order of first appearance, each user's items by timestamp
    /// (ties and no timestamp: row order).
    /// </summary>
    public static IDataView HistoriesFromInteractions(IDataView interactions, string userColumnName = "UserId", string itemColumnName = "ItemId",
        string? timestampColumnName = null, string historyColumnName = "History")
    {
        ArgumentNullException.ThrowIfNull(interactions);
        if (timestampColumnName is not null) DataViewColumns.Find(interactions.Schema, timestampColumnName, "interactions");
        var sequences = DataViewInteractionReader.Read(interactions, null, new DataViewInteractionReader.Options
        {
            UserColumn = userColumnName,
            ItemColumn = itemColumnName,
            TimestampColumn = timestampColumnName,
            SourceName = "interactions",
        });
        return FromSequences(sequences, userColumnName, historyColumnName);
    }

    internal static IDataView FromSequences(InteractionSequences sequences, string userColumnName, string historyColumnName)
    {
        var ids = sequences.Catalog.Ids.Select(s => s.AsMemory()).ToArray();
        var users = sequences.UserIds.Select(s => s.AsMemory()).ToArray();
        return new ColumnarDataView(sequences.UserCount,
            new ColumnarDataView.Column<ReadOnlyMemory<char>>(userColumnName, TextDataViewType.Instance,
                (long row, ref ReadOnlyMemory<char> v) => v = users[row]),
            new ColumnarDataView.Column<VBuffer<ReadOnlyMemory<char>>>(historyColumnName, new VectorDataViewType(TextDataViewType.Instance),
                (long row, ref VBuffer<ReadOnlyMemory<char>> v) =>
                {
                    var sequence = sequences.GetSequence((int)row);
                    var editor = VBufferEditor.Create(ref v, sequence.Length);
                    for (int k = 0; k < sequence.Length; k++) editor.Values[k] = ids[sequence[k]];
                    v = editor.Commit();
                }));
    }

    private SrtDataException MissingHistory(DataViewSchema schema, bool forOutputs)
    {
        var name = _options.HistoryColumnName;
        return new SrtDataException("input", null, name,
            $"column '{name}' is missing (columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}); " +
            "it holds each row's history of item ids (SrtTransformer.HistoriesFromInteractions builds it from interactions)" +
            (forOutputs ? ". Without it this view passes its input through (as EstimatorChain.Fit makes over the training interactions) " +
                "but cannot compute recommendations: transform histories instead (docs/api.md, \"In an EstimatorChain\")." : "."));
    }

    private DataViewSchema.Column CheckHistoryColumn(DataViewSchema schema)
    {
        var name = _options.HistoryColumnName;
        var column = schema.GetColumnOrNull(name) ?? throw MissingHistory(schema, forOutputs: false);
        if (column.Type is not TextDataViewType && column.Type is not VectorDataViewType { ItemType: TextDataViewType })
            throw new SrtDataException("input", null, name,
                $"column '{name}' has type {column.Type}; expected a vector of text item ids, or text of ids separated by spaces or commas.");
        return column;
    }

    private DataViewSchema.Column? CheckCandidateColumn(DataViewSchema schema)
    {
        if (_options.CandidateColumnName is not { } name) return null;
        var column = schema.GetColumnOrNull(name)
            ?? throw new SrtDataException("input", null, name,
                $"column '{name}' (CandidateColumnName) is missing (columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}).");
        if (column.Type is not TextDataViewType && column.Type is not VectorDataViewType { ItemType: TextDataViewType })
            throw new SrtDataException("input", null, name,
                $"column '{name}' (CandidateColumnName) has type {column.Type}; expected a text item id or a vector of text item ids.");
        return column;
    }
}
