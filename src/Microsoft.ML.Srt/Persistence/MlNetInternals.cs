using System.Reflection;

namespace Microsoft.ML.Srt.Persistence;

/// <summary>
/// The one place where this library reaches into Microsoft.ML internals. Microsoft.ML is pinned exactly
/// (Directory.Packages.props) and tests call every member here, so an upgrade that breaks one fails loudly.
/// </summary>
internal static class MlNetInternals
{
    private static readonly MethodInfo? SchemaShapeCreate = typeof(SchemaShape).GetMethod("Create",
        BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, [typeof(DataViewSchema)]);

    /// <summary>
    /// <c>SchemaShape.Create(DataViewSchema)</c>, which Microsoft.ML 5.0.1 keeps internal (as it does the
    /// SchemaShape.Column constructor); estimators need it to describe their output columns.
    /// </summary>
    public static SchemaShape SchemaShapeOf(DataViewSchema schema)
    {
        if (SchemaShapeCreate is null)
            throw new InvalidOperationException("Microsoft.ML's SchemaShape.Create(DataViewSchema) was not found: this Microsoft.ML version is not supported.");
        return (SchemaShape)SchemaShapeCreate.Invoke(null, [schema])!;
    }
}
