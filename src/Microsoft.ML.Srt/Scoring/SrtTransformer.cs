using Microsoft.ML.Data;
using Microsoft.ML.Srt.Data;

namespace Microsoft.ML.Srt.Scoring;

/// <summary>
/// The fitted SRT model as an ML.NET <see cref="ITransformer"/>: for each input row's history of item ids it adds the
/// top-K recommended item ids and their scores. Scoring is lazy: rows are scored as a cursor reads them.
/// </summary>
/// <remarks>
/// Input: <see cref="Options.HistoryColumnName"/> (default <c>History</c>), oldest item first, either a vector of
/// text item ids (the primary form, as <see cref="HistoriesFromInteractions"/> produces) or one text value of ids
/// separated by spaces or commas. Ids missing from the model's catalog are skipped and counted in
/// <see cref="SkippedHistoryItems"/>; a row left with no known item gets empty outputs and is counted in
/// <see cref="EmptyHistories"/>. Output: <c>RecommendedItems</c> (vector of text, best first) and
/// <c>RecommendationScores</c> (vector of Single, the same order).
/// </remarks>
public sealed class SrtTransformer : ITransformer, IDisposable
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

        internal Options Clone() => (Options)MemberwiseClone();

        internal void Validate()
        {
            Check(!string.IsNullOrWhiteSpace(HistoryColumnName), nameof(HistoryColumnName), "must name a column");
            Check(!string.IsNullOrWhiteSpace(RecommendedItemsColumnName), nameof(RecommendedItemsColumnName), "must name a column");
            Check(!string.IsNullOrWhiteSpace(ScoresColumnName), nameof(ScoresColumnName), "must name a column");
            Check(RecommendedItemsColumnName != ScoresColumnName, nameof(ScoresColumnName), "must differ from RecommendedItemsColumnName");
            Check(TopK >= 1, nameof(TopK), "must be at least 1");
        }

        private static void Check(bool ok, string option, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, $"SrtTransformer option {option} {rule}.");
        }
    }

    private static readonly char[] _separators = [' ', ',', '\t', ';'];
    private readonly Options _options;
    private long _skipped, _empty;

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

    /// <summary>History ids not found in the model's catalog, skipped so far (over every cursor of every transformed view).</summary>
    public long SkippedHistoryItems => Interlocked.Read(ref _skipped);

    /// <summary>Rows scored so far whose history had no known item (their outputs are empty vectors).</summary>
    public long EmptyHistories => Interlocked.Read(ref _empty);

    /// <summary>False: rows are scored by a cursor over the transformed view; use <see cref="Transform"/>.</summary>
    public bool IsRowToRowMapper => false;

    /// <summary>The input schema plus the two output columns; checks the history column's presence and type.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckHistoryColumn(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(_options.RecommendedItemsColumnName, new VectorDataViewType(TextDataViewType.Instance));
        builder.AddColumn(_options.ScoresColumnName, new VectorDataViewType(NumberDataViewType.Single));
        return builder.ToSchema();
    }

    /// <summary>Not supported yet (<see cref="IsRowToRowMapper"/> is false).</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) =>
        throw new NotSupportedException("SrtTransformer is not a row-to-row mapper yet (so no PredictionEngine): use Transform, or SrtModel.Recommend.");

    /// <summary>A lazy view: the input's columns plus the recommendations, computed as rows are read.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new ScoredDataView(this, input, GetOutputSchema(input.Schema));
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

    private DataViewSchema.Column CheckHistoryColumn(DataViewSchema schema)
    {
        var name = _options.HistoryColumnName;
        var column = schema.GetColumnOrNull(name)
            ?? throw new SrtDataException("input", null, name,
                $"column '{name}' is missing (columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}); " +
                "it holds each row's history of item ids (SrtTransformer.HistoriesFromInteractions builds it from interactions).");
        if (column.Type is not TextDataViewType && column.Type is not VectorDataViewType { ItemType: TextDataViewType })
            throw new SrtDataException("input", null, name,
                $"column '{name}' has type {column.Type}; expected a vector of text item ids, or text of ids separated by spaces or commas.");
        return column;
    }

    /// <summary>Scores one history; ids outside the catalog are skipped and counted.</summary>
    private (string[] Items, float[] Scores) Score(List<int> history)
    {
        if (history.Count == 0)
        {
            Interlocked.Increment(ref _empty);
            return ([], []);
        }
        var top = Model.Recommend(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history), _options.TopK, _options.ExcludeHistory);
        return (top.Select(p => Model.Catalog.GetId(p.Item)).ToArray(), top.Select(p => p.Score).ToArray());
    }

    private void Resolve(ReadOnlySpan<char> id, List<int> history)
    {
        id = id.Trim();
        if (id.IsEmpty) return;
        if (Model.Catalog.TryGetIndex(id, out int index)) history.Add(index);
        else Interlocked.Increment(ref _skipped);
    }

    private sealed class ScoredDataView(SrtTransformer parent, IDataView source, DataViewSchema schema) : IDataView
    {
        public bool CanShuffle => source.CanShuffle;

        public DataViewSchema Schema => schema;

        public long? GetRowCount() => source.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            int inputCount = source.Schema.Count;
            var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
            bool scores = needed.Contains(inputCount) || needed.Contains(inputCount + 1);
            var history = source.Schema[parent._options.HistoryColumnName];
            var sourceColumns = source.Schema.Where(c => needed.Contains(c.Index) || (scores && c.Index == history.Index));
            return new Cursor(parent, source.GetRowCursor(sourceColumns, rand), schema, history, needed);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly SrtTransformer _parent;
        private readonly DataViewRowCursor _input;
        private readonly DataViewSchema _schema;
        private readonly HashSet<int> _active;
        private readonly int _inputCount;
        private readonly Func<List<int>, List<int>>? _readHistory;
        private readonly List<int> _history = new();
        private long _scoredPosition = -1;
        private (string[] Items, float[] Scores) _scored = ([], []);

        public Cursor(SrtTransformer parent, DataViewRowCursor input, DataViewSchema schema, DataViewSchema.Column history, HashSet<int> active)
        {
            _parent = parent;
            _input = input;
            _schema = schema;
            _active = active;
            _inputCount = input.Schema.Count;
            if (!input.IsColumnActive(history)) return;
            if (history.Type is TextDataViewType)
            {
                var getter = input.GetGetter<ReadOnlyMemory<char>>(history);
                ReadOnlyMemory<char> text = default;
                _readHistory = list =>
                {
                    getter(ref text);
                    foreach (var range in text.Span.SplitAny(_separators)) parent.Resolve(text.Span[range], list);
                    return list;
                };
            }
            else
            {
                var getter = input.GetGetter<VBuffer<ReadOnlyMemory<char>>>(history);
                VBuffer<ReadOnlyMemory<char>> ids = default;
                _readHistory = list =>
                {
                    getter(ref ids);
                    foreach (var id in ids.DenseValues()) parent.Resolve(id.Span, list);
                    return list;
                };
            }
        }

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override DataViewSchema Schema => _schema;

        public override bool MoveNext() => _input.MoveNext();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index < _inputCount ? _input.IsColumnActive(_input.Schema[column.Index]) : _active.Contains(column.Index);

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _inputCount) return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            if (!_active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
            if (column.Index == _inputCount)
            {
                if (typeof(TValue) != typeof(VBuffer<ReadOnlyMemory<char>>))
                    throw new InvalidOperationException($"Column '{column.Name}' is a vector of text, not {typeof(TValue).Name}.");
                ValueGetter<VBuffer<ReadOnlyMemory<char>>> items = (ref VBuffer<ReadOnlyMemory<char>> v) =>
                {
                    var scored = Current();
                    var editor = VBufferEditor.Create(ref v, scored.Items.Length);
                    for (int k = 0; k < scored.Items.Length; k++) editor.Values[k] = scored.Items[k].AsMemory();
                    v = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)items;
            }
            if (typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Column '{column.Name}' is a vector of Single, not {typeof(TValue).Name}.");
            ValueGetter<VBuffer<float>> scores = (ref VBuffer<float> v) =>
            {
                var scored = Current();
                var editor = VBufferEditor.Create(ref v, scored.Scores.Length);
                scored.Scores.CopyTo(editor.Values);
                v = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)scores;
        }

        private (string[] Items, float[] Scores) Current()
        {
            if (_input.Position < 0) throw new InvalidOperationException("The cursor is not on a row; call MoveNext first.");
            if (_scoredPosition == _input.Position) return _scored;
            _history.Clear();
            _scored = _parent.Score(_readHistory!(_history));
            _scoredPosition = _input.Position;
            return _scored;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _input.Dispose();
            base.Dispose(disposing);
        }
    }
}
