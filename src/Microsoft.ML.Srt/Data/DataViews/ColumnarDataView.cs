using Microsoft.ML.Data;

namespace Microsoft.ML.Srt.Data;

/// <summary>
/// A read-only <see cref="IDataView"/> over data already in memory: each column computes its value from the row
/// number. It exposes <see cref="InteractionSequences"/> and <see cref="ItemCatalog"/> to ML.NET without copying.
/// </summary>
internal sealed class ColumnarDataView : IDataView
{
    internal delegate void RowValue<T>(long row, ref T value);

    internal abstract class Column
    {
        protected Column(string name, DataViewType type) { Name = name; Type = type; }
        public string Name { get; }
        public DataViewType Type { get; }
        public abstract Delegate MakeGetter(Cursor cursor);
    }

    internal sealed class Column<T> : Column
    {
        private readonly RowValue<T> _value;
        public Column(string name, DataViewType type, RowValue<T> value) : base(name, type) => _value = value;
        public override Delegate MakeGetter(Cursor cursor) => (ValueGetter<T>)((ref T v) => _value(cursor.Position, ref v));
    }

    private readonly Column[] _columns;
    private readonly long _rowCount;

    public ColumnarDataView(long rowCount, params Column[] columns)
    {
        _rowCount = rowCount;
        _columns = columns;
        var builder = new DataViewSchema.Builder();
        foreach (var c in columns) builder.AddColumn(c.Name, c.Type);
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rowCount;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    internal sealed class Cursor : DataViewRowCursor
    {
        private readonly ColumnarDataView _view;
        private readonly bool[] _active;
        private long _position = -1;

        public Cursor(ColumnarDataView view, IEnumerable<DataViewSchema.Column> columnsNeeded)
        {
            _view = view;
            _active = new bool[view._columns.Length];
            foreach (var c in columnsNeeded) _active[c.Index] = true;
        }

        public override long Position => _position;
        public override long Batch => 0;
        public override DataViewSchema Schema => _view.Schema;

        public override bool MoveNext()
        {
            if (_position + 1 >= _view._rowCount) { _position = _view._rowCount; return false; }
            _position++;
            return true;
        }

        public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active[column.Index]) throw new InvalidOperationException($"Column '{column.Name}' was not requested by the cursor.");
            return _view._columns[column.Index].MakeGetter(this) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' has type {column.Type}, not {typeof(TValue).Name}.");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);
    }
}
