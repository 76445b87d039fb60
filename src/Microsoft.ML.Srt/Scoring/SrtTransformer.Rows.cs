using Microsoft.ML.Data;

namespace Microsoft.ML.Srt.Scoring;

// How SrtTransformer reads and scores rows: a batching cursor for Transform, a one-row mapper for PredictionEngine.
public sealed partial class SrtTransformer
{
    /// <summary>Scores rows (histories as catalog indices); empty histories get empty outputs and NaN candidate scores.</summary>
    private void ScoreRows(int[][] histories, int[][]? candidates, int count, bool topK, ScoredHistory[] results)
    {
        var scored = new List<int>(count);
        for (int i = 0; i < count; i++)
        {
            if (histories[i].Length > 0) { scored.Add(i); continue; }
            Interlocked.Increment(ref _empty);
            results[i] = new ScoredHistory
            {
                Items = [], Scores = [],
                CandidateScores = candidates is null ? [] : Enumerable.Repeat(float.NaN, candidates[i].Length).ToArray(),
            };
        }
        if (scored.Count == 0) return;
        int k = topK ? _options.TopK : 0;
        if (scored.Count == count)
        {
            Model.Rank(count == histories.Length ? histories : histories[..count], k, _options.ExcludeHistory,
                candidates is null ? null : count == candidates.Length ? candidates : candidates[..count], results);
            return;
        }
        var part = new ScoredHistory[scored.Count];
        Model.Rank(scored.Select(i => histories[i]).ToArray(), k, _options.ExcludeHistory, candidates is null ? null : scored.Select(i => candidates[i]).ToArray(), part);
        for (int j = 0; j < scored.Count; j++) results[scored[j]] = part[j];
    }

    /// <summary>Reads a row's history (catalog indices; unknown ids skipped and counted) and candidates (unknown: -1, counted).</summary>
    private sealed class RowReader
    {
        private readonly SrtTransformer _parent;
        private readonly Action<List<int>> _readHistory;
        private readonly Action<List<int>>? _readCandidates;
        private readonly List<int> _buffer = new();

        public RowReader(SrtTransformer parent, DataViewRow row, DataViewSchema.Column history, DataViewSchema.Column? candidate)
        {
            _parent = parent;
            _readHistory = IdReader(row, history, (id, list) =>
            {
                if (parent.Model.Catalog.TryGetIndex(id, out int index)) list.Add(index);
                else Interlocked.Increment(ref parent._skipped);
            });
            if (candidate is { } c)
                _readCandidates = IdReader(row, c, (id, list) =>
                {
                    if (parent.Model.Catalog.TryGetIndex(id, out int index)) { list.Add(index); return; }
                    list.Add(-1);
                    Interlocked.Increment(ref parent._unknownCandidates);
                }, keepEmpty: true);
        }

        public bool HasCandidates => _readCandidates is not null;

        public int[] History()
        {
            _buffer.Clear();
            _readHistory(_buffer);
            return _buffer.ToArray();
        }

        public int[] Candidates()
        {
            _buffer.Clear();
            _readCandidates!(_buffer);
            return _buffer.ToArray();
        }

        /// <summary>Reads a text column (ids separated by spaces or commas) or a vector-of-text column, id by id.</summary>
        private static Action<List<int>> IdReader(DataViewRow row, DataViewSchema.Column column, Action<ReadOnlySpan<char>, List<int>> add,
            bool keepEmpty = false)
        {
            if (column.Type is TextDataViewType)
            {
                var getter = row.GetGetter<ReadOnlyMemory<char>>(column);
                ReadOnlyMemory<char> text = default;
                if (keepEmpty) // a scalar candidate column holds exactly one id, possibly empty (unknown)
                    return list => { getter(ref text); add(text.Span.Trim(), list); };
                return list =>
                {
                    getter(ref text);
                    var span = text.Span;
                    foreach (var range in span.SplitAny(_separators))
                    {
                        var id = span[range].Trim();
                        if (!id.IsEmpty) add(id, list);
                    }
                };
            }
            var vector = row.GetGetter<VBuffer<ReadOnlyMemory<char>>>(column);
            VBuffer<ReadOnlyMemory<char>> ids = default;
            return list =>
            {
                vector(ref ids);
                foreach (var id in ids.DenseValues())
                {
                    var span = id.Span.Trim();
                    if (keepEmpty || !span.IsEmpty) add(span, list);
                }
            };
        }
    }

    /// <summary>Getters of the output columns (index 0: items, 1: scores, 2: candidate scores) over the current row's result.</summary>
    private static ValueGetter<TValue> OutputGetter<TValue>(SrtModel model, DataViewSchema.Column column, int output, Func<ScoredHistory> current)
    {
        Delegate getter;
        Type expected;
        switch (output)
        {
            case 0:
                expected = typeof(VBuffer<ReadOnlyMemory<char>>);
                var ids = model.ItemIds;
                getter = (ValueGetter<VBuffer<ReadOnlyMemory<char>>>)((ref VBuffer<ReadOnlyMemory<char>> v) =>
                {
                    var items = current().Items;
                    var editor = VBufferEditor.Create(ref v, items.Length);
                    for (int k = 0; k < items.Length; k++) editor.Values[k] = ids[items[k]];
                    v = editor.Commit();
                });
                break;
            case 1:
                expected = typeof(VBuffer<float>);
                getter = (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => CopyTo(current().Scores, ref v));
                break;
            default:
                if (column.Type is VectorDataViewType)
                {
                    expected = typeof(VBuffer<float>);
                    getter = (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => CopyTo(current().CandidateScores, ref v));
                }
                else
                {
                    expected = typeof(float);
                    getter = (ValueGetter<float>)((ref float v) => v = current().CandidateScores[0]);
                }
                break;
        }
        if (typeof(TValue) != expected)
            throw new InvalidOperationException($"Column '{column.Name}' has type {column.Type}, read as {expected.Name}, not {typeof(TValue).Name}.");
        return (ValueGetter<TValue>)getter;
    }

    /// <summary>
    /// What the Transform cursor and the PredictionEngine row share: input columns pass through from <paramref name="input"/>;
    /// output columns (after the input's) are active when requested and read from the current row's result.
    /// </summary>
    private sealed class OutputColumns(SrtTransformer parent, DataViewRow input, HashSet<int> active, string rowKind)
    {
        public int InputCount { get; } = input.Schema.Count;

        /// <summary>Whether any output column is requested (then the history must be read).</summary>
        public bool AnyRequested => active.Any(i => i >= InputCount);

        /// <summary>Whether the top-k outputs (items or scores) are requested; otherwise only candidate scores are computed.</summary>
        public bool TopKRequested => active.Contains(InputCount) || active.Contains(InputCount + 1);

        public bool IsActive(DataViewSchema.Column column) =>
            column.Index < InputCount ? input.IsColumnActive(input.Schema[column.Index]) : active.Contains(column.Index);

        public ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column, Func<ScoredHistory> current)
        {
            if (column.Index < InputCount) return input.GetGetter<TValue>(input.Schema[column.Index]);
            if (!active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested from this {rowKind}.");
            return OutputGetter<TValue>(parent.Model, column, column.Index - InputCount, current);
        }
    }

    private static void CopyTo(float[] values, ref VBuffer<float> v)
    {
        var editor = VBufferEditor.Create(ref v, values.Length);
        values.CopyTo(editor.Values);
        v = editor.Commit();
    }

    private (DataViewSchema.Column History, DataViewSchema.Column? Candidate) InputColumns(DataViewSchema schema) =>
        (schema[_options.HistoryColumnName], _options.CandidateColumnName is { } c ? schema[c] : null);

    /// <summary>The scoring inputs of a schema that may lack them (a view over training interactions; see <see cref="GetOutputSchema"/>).</summary>
    private (DataViewSchema.Column? History, DataViewSchema.Column? Candidate) InputColumnsOrNull(DataViewSchema schema) =>
        (schema.GetColumnOrNull(_options.HistoryColumnName), _options.CandidateColumnName is { } c ? schema.GetColumnOrNull(c) : null);

    private sealed class ScoredDataView(SrtTransformer parent, IDataView source, DataViewSchema schema) : IDataView
    {
        public bool CanShuffle => source.CanShuffle;

        public DataViewSchema Schema => schema;

        public long? GetRowCount() => source.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            int inputCount = source.Schema.Count;
            var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
            bool outputs = needed.Any(i => i >= inputCount);
            var (history, candidate) = parent.InputColumnsOrNull(source.Schema);
            // Without a history column the input passes through, and only the outputs cannot be read (see GetOutputSchema).
            if (outputs && history is null) throw parent.MissingHistory(source.Schema, forOutputs: true);
            bool IsScoringInput(DataViewSchema.Column c) => c.Index == history?.Index || c.Index == candidate?.Index;
            // A shuffled cursor cannot be mirrored by a second one, so it scores row by row; otherwise a second cursor reads ahead.
            bool rowByRow = rand is not null && source.CanShuffle;
            var input = source.GetRowCursor(source.Schema.Where(c => needed.Contains(c.Index) || (outputs && rowByRow && IsScoringInput(c))), rand);
            var ahead = outputs && !rowByRow ? source.GetRowCursor(source.Schema.Where(IsScoringInput)) : null;
            return new ScoredCursor(parent, input, ahead, schema, needed, history, candidate);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];
    }

    /// <summary>
    /// The transformed view's cursor. Input columns come from <c>input</c>; outputs are scored lazily, a batch of consecutive rows
    /// at a time through <c>ahead</c> (a second cursor over the same rows, reading only the history and candidate columns), or
    /// row by row from <c>input</c> when there is no second cursor.
    /// </summary>
    private sealed class ScoredCursor : DataViewRowCursor
    {
        private readonly SrtTransformer _parent;
        private readonly DataViewRowCursor _input;
        private readonly DataViewRowCursor? _ahead;
        private readonly DataViewSchema _schema;
        private readonly OutputColumns _columns;
        private readonly RowReader? _reader;
        private readonly ScoredHistory[] _results;
        private readonly int[][] _histories;
        private readonly int[][]? _candidates;
        private readonly bool _topK;
        private long _first = -1;
        private int _count;
        private long _aheadRow = -1; // the last row the read-ahead cursor has passed

        public ScoredCursor(SrtTransformer parent, DataViewRowCursor input, DataViewRowCursor? ahead, DataViewSchema schema, HashSet<int> active,
            DataViewSchema.Column? history, DataViewSchema.Column? candidate)
        {
            _parent = parent;
            _input = input;
            _ahead = ahead;
            _schema = schema;
            _columns = new OutputColumns(parent, input, active, "cursor");
            _topK = _columns.TopKRequested;
            int batch = ahead is null ? 1 : parent._options.ScoringBatchSize;
            _results = new ScoredHistory[batch];
            _histories = new int[batch][];
            if (candidate is not null) _candidates = new int[batch][];
            var source = ahead ?? input;
            if (_columns.AnyRequested && history is { } h && source.IsColumnActive(h)) _reader = new RowReader(parent, source, h, candidate);
        }

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override DataViewSchema Schema => _schema;

        public override bool MoveNext() => _input.MoveNext();

        public override bool IsColumnActive(DataViewSchema.Column column) => _columns.IsActive(column);

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _columns.GetGetter<TValue>(column, Current);

        private ScoredHistory Current()
        {
            long position = _input.Position;
            if (position < 0) throw new InvalidOperationException("The cursor is not on a row; call MoveNext first.");
            if (position >= _first && position < _first + _count) return _results[position - _first];
            if (_ahead is null)
            {
                Read(_reader!, 0);
                _count = 1;
            }
            else
            {
                // Rows whose outputs were never read are passed over unscored. (A finished cursor's Position is -1, so count rows here.)
                while (_aheadRow < position - 1)
                {
                    if (!_ahead.MoveNext()) throw Mismatch();
                    _aheadRow++;
                }
                _count = 0;
                while (_count < _results.Length && _ahead.MoveNext()) Read(_reader!, _count++);
                _aheadRow += _count;
                if (_count == 0 || _aheadRow - _count + 1 != position) throw Mismatch();
            }
            _parent.ScoreRows(_histories, _candidates, _count, _topK, _results);
            _first = position;
            return _results[0];
        }

        private void Read(RowReader reader, int slot)
        {
            _histories[slot] = reader.History();
            if (_candidates is not null) _candidates[slot] = reader.Candidates();
        }

        private static InvalidOperationException Mismatch() =>
            new("SrtTransformer reads histories through a second cursor over the input, which gave different rows than the first: " +
                "the input view must give the same rows in the same order to every cursor.");

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _input.Dispose();
                _ahead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>Scores one row at a time: what <c>mlContext.Model.CreatePredictionEngine</c> uses.</summary>
    private sealed class RowMapper(SrtTransformer parent, DataViewSchema inputSchema, DataViewSchema outputSchema) : IRowToRowMapper
    {
        public DataViewSchema InputSchema => inputSchema;

        public DataViewSchema OutputSchema => outputSchema;

        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
        {
            var columns = dependingColumns.ToList();
            var result = columns.Where(c => c.Index < inputSchema.Count).Select(c => inputSchema[c.Index]).ToList();
            if (columns.Any(c => c.Index >= inputSchema.Count))
            {
                var (history, candidate) = parent.InputColumns(inputSchema);
                result.Add(history);
                if (candidate is { } c) result.Add(c);
            }
            return result.DistinctBy(c => c.Index).OrderBy(c => c.Index).ToList();
        }

        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
            new MappedRow(parent, input, outputSchema, activeColumns.Select(c => c.Index).ToHashSet());
    }

    private sealed class MappedRow : DataViewRow
    {
        private readonly SrtTransformer _parent;
        private readonly DataViewRow _input;
        private readonly DataViewSchema _schema;
        private readonly OutputColumns _columns;
        private readonly RowReader? _reader;
        private readonly ScoredHistory[] _result = new ScoredHistory[1];
        private readonly int[][] _history = new int[1][];
        private readonly int[][]? _candidates;
        private readonly bool _topK;
        private long _scoredPosition = -1;

        public MappedRow(SrtTransformer parent, DataViewRow input, DataViewSchema schema, HashSet<int> active)
        {
            _parent = parent;
            _input = input;
            _schema = schema;
            _columns = new OutputColumns(parent, input, active, "row");
            _topK = _columns.TopKRequested;
            var (history, candidate) = parent.InputColumns(input.Schema);
            if (candidate is not null) _candidates = new int[1][];
            if (_columns.AnyRequested) _reader = new RowReader(parent, input, history, candidate);
        }

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override DataViewSchema Schema => _schema;

        public override bool IsColumnActive(DataViewSchema.Column column) => _columns.IsActive(column);

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _columns.GetGetter<TValue>(column, Current);

        private ScoredHistory Current()
        {
            // The prediction engine's input row moves to a new position for every Predict call.
            if (_scoredPosition == _input.Position && _scoredPosition >= 0) return _result[0];
            _history[0] = _reader!.History();
            if (_candidates is not null) _candidates[0] = _reader.Candidates();
            _parent.ScoreRows(_history, _candidates, 1, _topK, _result);
            _scoredPosition = _input.Position;
            return _result[0];
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _input.Dispose();
            base.Dispose(disposing);
        }
    }
}
