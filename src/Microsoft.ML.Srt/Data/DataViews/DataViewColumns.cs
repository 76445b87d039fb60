using System.Globalization;
using Microsoft.ML.Data;

namespace Microsoft.ML.Srt.Data;

/// <summary>Schema checks and typed readers for id and timestamp columns of an <see cref="IDataView"/>.</summary>
internal static class DataViewColumns
{
    public const string IdTypes = "text (ReadOnlyMemory<char>), an integer (Int32, Int64, UInt32, UInt64) or a key type";
    public const string TimeTypes = "a number (Single, Double, Int32, Int64, UInt32, UInt64), text holding a number, DateTime or DateTimeOffset";

    /// <summary>Finds a column by name (exactly, else ignoring case and underscores); a missing column is an error listing the schema.</summary>
    public static DataViewSchema.Column Find(DataViewSchema schema, string name, string source)
    {
        var names = schema.Where(c => !c.IsHidden).Select(c => c.Name).ToList();
        int k = TextFile.FindColumn(names, name);
        if (k < 0) throw new SrtDataException(source, null, name, $"column '{name}' is missing (columns: {string.Join(", ", names)}).");
        return schema[names[k]];
    }

    public static DataViewSchema.Column? TryFind(DataViewSchema schema, string? name)
    {
        if (name is null) return null;
        var names = schema.Where(c => !c.IsHidden).Select(c => c.Name).ToList();
        int k = TextFile.FindColumn(names, name);
        return k < 0 ? null : schema[names[k]];
    }

    /// <summary>Reads an id column of the current row as characters.</summary>
    public abstract class IdReader
    {
        public abstract ReadOnlySpan<char> Read();

        public static IdReader Create(DataViewRow row, DataViewSchema.Column column, string source)
        {
            var type = column.Type;
            if (type is TextDataViewType) return new TextReader(row.GetGetter<ReadOnlyMemory<char>>(column));
            if (type is KeyDataViewType key) return KeyReader.Create(row, column, key);
            if (type == NumberDataViewType.Int32) return new NumberReader<int>(row.GetGetter<int>(column));
            if (type == NumberDataViewType.Int64) return new NumberReader<long>(row.GetGetter<long>(column));
            if (type == NumberDataViewType.UInt32) return new NumberReader<uint>(row.GetGetter<uint>(column));
            if (type == NumberDataViewType.UInt64) return new NumberReader<ulong>(row.GetGetter<ulong>(column));
            throw new SrtDataException(source, null, column.Name, $"column '{column.Name}' has type {type}; expected {IdTypes}.");
        }

        public static void Check(DataViewSchema.Column column, string source)
        {
            var t = column.Type;
            if (t is TextDataViewType || t is KeyDataViewType || t == NumberDataViewType.Int32 || t == NumberDataViewType.Int64
                || t == NumberDataViewType.UInt32 || t == NumberDataViewType.UInt64) return;
            throw new SrtDataException(source, null, column.Name, $"column '{column.Name}' has type {t}; expected {IdTypes}.");
        }
    }

    private sealed class TextReader(ValueGetter<ReadOnlyMemory<char>> getter) : IdReader
    {
        private ReadOnlyMemory<char> _value;
        public override ReadOnlySpan<char> Read() { getter(ref _value); return _value.Span.Trim(); }
    }

    private sealed class NumberReader<T>(ValueGetter<T> getter) : IdReader where T : ISpanFormattable
    {
        private readonly char[] _buffer = new char[24];
        private T _value = default!;
        public override ReadOnlySpan<char> Read()
        {
            getter(ref _value);
            _value.TryFormat(_buffer, out int written, default, CultureInfo.InvariantCulture);
            return _buffer.AsSpan(0, written);
        }
    }

    /// <summary>
    /// Keys read as their key value text when the column has KeyValues annotations (as after MapValueToKey), else as
    /// the 0-based key index. Key 0 means missing and reads as empty (an error for the caller).
    /// </summary>
    private sealed class KeyReader : IdReader
    {
        private readonly Func<ulong> _read;
        private readonly string[]? _values;
        private readonly char[] _buffer = new char[24];

        private KeyReader(Func<ulong> read, string[]? values) { _read = read; _values = values; }

        public static KeyReader Create(DataViewRow row, DataViewSchema.Column column, KeyDataViewType key)
        {
            string[]? values = null;
            if (column.Annotations.Schema.GetColumnOrNull("KeyValues") is { Type: VectorDataViewType { ItemType: TextDataViewType } })
            {
                VBuffer<ReadOnlyMemory<char>> names = default;
                column.Annotations.GetValue("KeyValues", ref names);
                values = names.DenseValues().Select(m => m.ToString()).ToArray();
            }
            Func<ulong> read = key.RawType == typeof(uint) ? Make<uint>(row, column, v => v)
                : key.RawType == typeof(ulong) ? Make<ulong>(row, column, v => v)
                : key.RawType == typeof(ushort) ? Make<ushort>(row, column, v => v)
                : Make<byte>(row, column, v => v);
            return new KeyReader(read, values);
        }

        private static Func<ulong> Make<T>(DataViewRow row, DataViewSchema.Column column, Func<T, ulong> widen)
        {
            var getter = row.GetGetter<T>(column);
            T value = default!;
            return () => { getter(ref value); return widen(value); };
        }

        public override ReadOnlySpan<char> Read()
        {
            ulong k = _read();
            if (k == 0) return ReadOnlySpan<char>.Empty;
            if (_values is not null) return k <= (ulong)_values.Length ? _values[k - 1] : ReadOnlySpan<char>.Empty;
            (k - 1).TryFormat(_buffer, out int written, default, CultureInfo.InvariantCulture);
            return _buffer.AsSpan(0, written);
        }
    }

    /// <summary>A reader of a timestamp column as a double; text is parsed (invariant culture) with a row-numbered error.</summary>
    public static Func<long, double> TimeReader(DataViewRow row, DataViewSchema.Column column, string source, Func<long, long> lineOf)
    {
        var t = column.Type;
        if (t == NumberDataViewType.Single) { var g = row.GetGetter<float>(column); float v = 0; return _ => { g(ref v); return v; }; }
        if (t == NumberDataViewType.Double) { var g = row.GetGetter<double>(column); double v = 0; return _ => { g(ref v); return v; }; }
        if (t == NumberDataViewType.Int32) { var g = row.GetGetter<int>(column); int v = 0; return _ => { g(ref v); return v; }; }
        if (t == NumberDataViewType.Int64) { var g = row.GetGetter<long>(column); long v = 0; return _ => { g(ref v); return v; }; }
        if (t == NumberDataViewType.UInt32) { var g = row.GetGetter<uint>(column); uint v = 0; return _ => { g(ref v); return v; }; }
        if (t == NumberDataViewType.UInt64) { var g = row.GetGetter<ulong>(column); ulong v = 0; return _ => { g(ref v); return v; }; }
        if (t is DateTimeDataViewType) { var g = row.GetGetter<DateTime>(column); DateTime v = default; return _ => { g(ref v); return v.Ticks; }; }
        if (t is DateTimeOffsetDataViewType) { var g = row.GetGetter<DateTimeOffset>(column); DateTimeOffset v = default; return _ => { g(ref v); return v.UtcTicks; }; }
        if (t is TextDataViewType)
        {
            var g = row.GetGetter<ReadOnlyMemory<char>>(column);
            ReadOnlyMemory<char> v = default;
            return position =>
            {
                g(ref v);
                if (!TextFile.TryParseNumber(v.Span, out double d))
                    throw new SrtDataException(source, lineOf(position), column.Name, $"'{v}' is not a number.");
                return d;
            };
        }
        throw new SrtDataException(source, null, column.Name, $"column '{column.Name}' has type {t}; expected {TimeTypes}.");
    }
}
