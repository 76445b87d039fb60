using Microsoft.ML.Srt.Featurization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Model;

/// <summary>
/// Computes item vectors from item text: each field's tokens are embedded and mean-pooled (one shared table
/// for text fields, one table per token-list field), the pooled fields are concatenated, and a linear
/// adapter maps them to width d. Optionally an id embedding (SASRec-style) is added or used alone.
/// The parameters never depend on the catalog: the catalog's token matrices are inputs, not weights.
/// </summary>
internal sealed class ItemEncoder : nn.Module<Tensor, Tensor>
{
    private readonly LazyEmbedding? _textTokens;
    private readonly LazyEmbedding[] _tokenFields;
    private readonly Linear? _adapter;
    private readonly LazyEmbedding? _ids;
    private Tensor[] _fieldTokens = Array.Empty<Tensor>(); // per field [items + 1, width]; catalog data, not parameters
    private bool[] _fieldIsText = Array.Empty<bool>();

    /// <param name="shape">The network shape.</param>
    /// <param name="initialize">False leaves the embedding tables uninitialised (see <see cref="LazyEmbedding"/>).</param>
    public ItemEncoder(SrtNetworkShape shape, bool initialize = true) : base(nameof(ItemEncoder))
    {
        Shape = shape;
        int d = shape.Dimension;
        if (shape.UsesText)
        {
            _textTokens = new LazyEmbedding("text_tokens", shape.TextVocabularySize, d, initialize);
            register_module("text_tokens", _textTokens);
            _tokenFields = new LazyEmbedding[shape.TokenFieldTableSizes.Length];
            for (int f = 0; f < _tokenFields.Length; f++)
            {
                _tokenFields[f] = new LazyEmbedding($"token_field_{f}", shape.TokenFieldTableSizes[f], d, initialize);
                register_module($"token_field_{f}", _tokenFields[f]);
            }
            _adapter = nn.Linear((shape.TextFieldCount + _tokenFields.Length) * d, d);
            register_module("adapter", _adapter);
        }
        else
        {
            _tokenFields = Array.Empty<LazyEmbedding>();
        }
        if (shape.UsesIds)
        {
            // An id table is the one catalog-sized parameter; it exists only in the id modes.
            _ids = new LazyEmbedding("ids", shape.IdTableSize, d, initialize);
            register_module("ids", _ids);
        }
    }

    // Children are registered above under their own names. TorchSharp would otherwise also register every module field
    // under its C# name when this module is added to a parent, so each table appeared twice in state_dict (and in model files).
    protected override void RegisterComponents() { }

    public SrtNetworkShape Shape { get; }

    /// <summary>The embedding tables, trained row-wise by <see cref="LazyAdamW"/>.</summary>
    public IEnumerable<LazyEmbedding> Tables =>
        new[] { _textTokens, _ids }.Where(t => t is not null).Select(t => t!).Concat(_tokenFields);

    /// <summary>Uses a catalog's token matrices (one per field, in the shape's field order) from now on.</summary>
    public void SetCatalog(IReadOnlyList<ItemTokenMatrix> fields, Device device)
    {
        if (Shape.UsesText && fields.Count != Shape.TextFieldCount + _tokenFields.Length)
            throw new ArgumentException($"Expected {Shape.TextFieldCount + _tokenFields.Length} field matrices, got {fields.Count}.");
        foreach (var t in _fieldTokens) t.Dispose();
        _fieldTokens = Shape.UsesText
            ? fields.Select(m => tensor(m.Tokens, new long[] { m.Rows, m.Width }, ScalarType.Int64, device)).ToArray()
            : Array.Empty<Tensor>();
        _fieldIsText = fields.Select(m => m.IsText).ToArray();
    }

    /// <summary>
    /// Token tensors (one per field, as <see cref="SetCatalog"/> takes them) of another catalog, for <see cref="Encode"/>:
    /// item vectors of a changed catalog without touching the encoder's own. Text representation only (an id table is
    /// bound to the training catalog).
    /// </summary>
    public Tensor[] TokenTensors(IReadOnlyList<ItemTokenMatrix> fields, Device device)
    {
        if (Shape.UsesIds) throw new InvalidOperationException("An encoder with an id table can only encode its training catalog.");
        if (fields.Count != _fieldIsText.Length || fields.Select(m => m.IsText).Where((t, f) => t != _fieldIsText[f]).Any())
            throw new ArgumentException($"Expected {_fieldIsText.Length} field matrices in the training catalog's field order, got {fields.Count}.");
        return fields.Select(m => tensor(m.Tokens, new long[] { m.Rows, m.Width }, ScalarType.Int64, device)).ToArray();
    }

    /// <summary>Item vectors <c>[M, d]</c> for item rows <c>[M]</c> (catalog index + 1; 0 = padding).</summary>
    public override Tensor forward(Tensor items) => Encode(_fieldTokens, items);

    /// <summary>Item vectors <c>[M, d]</c> for rows <c>[M]</c> of the given per-field token tensors (see <see cref="TokenTensors"/>).</summary>
    public Tensor Encode(Tensor[] fieldTokens, Tensor items)
    {
        using var scope = NewDisposeScope();
        Tensor? result = null;
        if (_adapter is not null)
        {
            var pooled = new Tensor[fieldTokens.Length];
            int tokenField = 0;
            for (int f = 0; f < fieldTokens.Length; f++)
            {
                var rows = fieldTokens[f].index_select(0, items);
                var bag = _fieldIsText[f] ? _textTokens! : _tokenFields[tokenField++];
                pooled[f] = bag.MeanPool(rows);
            }
            result = _adapter.forward(cat(pooled, 1));
        }
        if (_ids is not null)
        {
            var idVectors = _ids.Lookup(items);
            result = result is null ? idVectors : result + idVectors;
        }
        return result!.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Sets to zero every row of the token tables that no item of the current catalog uses, and returns how many of
    /// those rows were not zero already. Training reads and updates only rows of catalog items, so these rows still hold their random initial
    /// values: noise for a later item that has such a token, and most of a model file (GPT-2's table has 50,257 rows;
    /// Beauty's titles use about a fifth of them). Zero rows carry no signal and compress to almost nothing. No catalog
    /// item's vector changes.
    /// </summary>
    public long ZeroRowsNoItemUses()
    {
        if (_adapter is null) return 0;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var used = new Dictionary<LazyEmbedding, Tensor>();
        int tokenField = 0;
        for (int f = 0; f < _fieldTokens.Length; f++)
        {
            var table = _fieldIsText[f] ? _textTokens! : _tokenFields[tokenField++];
            if (!used.TryGetValue(table, out var mask))
                used[table] = mask = zeros(table.Weight.shape[0], ScalarType.Bool, table.Weight.device);
            mask.index_fill_(0, _fieldTokens[f].flatten(), Scalars.True);
        }
        long zeroed = 0;
        foreach (var (table, mask) in used)
        {
            var unused = mask.logical_not();
            zeroed += unused.logical_and(table.Weight.ne(Scalars.Zero).any(1)).sum().item<long>();
            table.Weight.masked_fill_(unused.unsqueeze(1), Scalars.Zero);
        }
        return zeroed;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) foreach (var t in _fieldTokens) t.Dispose();
        base.Dispose(disposing);
    }
}
