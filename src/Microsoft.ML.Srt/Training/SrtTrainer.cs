using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Runtime;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Persistence;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

/// <summary>
/// Trains SRT (Zivic, Vazquez, Sánchez, SIGIR 2024): a causal transformer over item vectors computed from item
/// text, trained autoregressively with a sampled softmax over popularity-drawn negatives and logQ correction.
/// </summary>
public sealed partial class SrtTrainer
{
    private readonly Options _options;
    private readonly Action<string> _log;
    private readonly IHost? _host;

    /// <summary>
    /// Creates a trainer; options are validated here, with messages that name the option. Without an MLContext, a null
    /// <see cref="Options.Seed"/> means <see cref="Options.DefaultSeed"/>.
    /// </summary>
    public SrtTrainer(Options options, Action<string>? log = null) : this(options, log, null)
    {
    }

    private SrtTrainer(Options options, Action<string>? log, IHost? host)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        _options = options;
        _log = log ?? (_ => { });
        _host = host;
        // As ML.NET's trainers: an unset seed comes from the context's random source, drawn once per trainer.
        Seed = options.Seed ?? host?.Rand.Next() ?? Options.DefaultSeed;
    }

    /// <summary>The seed this trainer's fits use: <see cref="Options.Seed"/>, else drawn from the MLContext.</summary>
    internal int Seed { get; }

    /// <summary>True once the caller's token or the MLContext (ML.NET's CancelExecution) asks training to stop.</summary>
    internal bool IsCancellationRequested() =>
        _options.CancellationToken.IsCancellationRequested || (_host is not null && MlNetInternals.IsCancelled(_host));

    /// <summary>The options this trainer uses.</summary>
    public Options TrainerOptions => _options;

    /// <summary>
    /// Trains on <paramref name="train"/> (sequences over its catalog), validating on
    /// <paramref name="validation"/> when given, and returns the trained model bound to the catalog.
    /// </summary>
    public SrtModel Train(InteractionSequences train, EvaluationCases? validation = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        var o = _options;
        var catalog = train.Catalog;
        var device = ResolveDevice(o.Device);
        random.manual_seed(Seed);
        _log($"SRT: seed {Seed}{(o.Seed is null ? (_host is null ? " (default)" : " (drawn from the MLContext)") : "")}.");

        SrtNetwork network;
        ItemFeaturizer featurizer;
        IReadOnlySet<string> addedFields = new HashSet<string>();
        var initial = LoadInitialModel(device);
        try
        {
            network = initial is { } start
                ? CreateNetworkFrom(start.Model, catalog, device, out featurizer, out addedFields)
                : CreateNetwork(catalog, device, out featurizer);
        }
        finally
        {
            if (initial is { Owned: true } loaded) loaded.Model.Dispose();
        }
        var session = new SrtTrainingSession(network, train, o, device, _log, Seed, IsCancellationRequested);
        if (initial is not null && o.EwcLambda > 0) session.Ewc = ComputeEwc(network, featurizer, addedFields, train.Catalog, device);
        var summary = session.Run(validation);
        // Rows no item uses were never trained: zero them (signal-free for new items, and small model files). A fine-tuned
        // model keeps them: they were trained on the pre-training catalogs, and new items may use them.
        long zeroed = initial is null ? network.Items.ZeroRowsNoItemUses() : 0;
        if (zeroed > 0) _log($"Zeroed {zeroed:N0} token-table rows that no catalog item uses (never trained).");
        return new SrtModel(network, featurizer, catalog, o.CosineSimilarity, device, summary, train.ItemCounts());
    }

    /// <summary>A freshly initialised network for <paramref name="catalog"/> (seeded by the caller), bound to the catalog's token matrices.</summary>
    internal SrtNetwork CreateNetwork(ItemCatalog catalog, Device device, out ItemFeaturizer featurizer)
    {
        var o = _options;
        var (layers, heads, dimension) = ResolveSize(o);
        bool usesText = o.ItemRepresentation != ItemRepresentation.Id;
        featurizer = CreateFeaturizer(o, catalog, usesText);
        if (usesText && featurizer.Fields.Count == 0)
            throw new ArgumentException($"The catalog has no text or token-list fields, so {nameof(Options.ItemRepresentation)}={o.ItemRepresentation} has nothing to read. Give a catalog with text, or use ItemRepresentation.Id.");
        var shape = new SrtNetworkShape(dimension, layers, heads, o.MaxLength, o.Dropout, o.FeedForwardMultiplier,
            usesText, o.ItemRepresentation != ItemRepresentation.Text, featurizer.TextVocabularySize,
            featurizer.TextFieldCaps.Count, featurizer.TokenFieldVocabularies.Values.Select(v => v.TableSize).ToArray(),
            catalog.Count + 1);
        var network = new SrtNetwork(shape);
        network.to(device);
        network.Items.SetCatalog(featurizer.Featurize(catalog), device);
        _log($"SRT: {network.ParameterCount():N0} parameters ({network.NonEmbeddingParameterCount():N0} non-embedding), " +
             $"{layers} layers, {heads} heads, d={dimension}, {(o.Negatives > 0 ? o.Negatives + " negatives" : "all items as negatives")}, device {device}");
        return network;
    }

    internal static ItemFeaturizer CreateFeaturizer(Options o, ItemCatalog catalog, bool usesText)
    {
        if (!usesText)
            return new ItemFeaturizer(ItemFeaturizer.DefaultTokenizer, 1, new Dictionary<string, int>(), new Dictionary<string, TokenFieldVocabulary>(), o.TokenFieldMaxTokens);
        int vocabulary = o.TokenizerVocabularySize > 0 ? o.TokenizerVocabularySize
            : o.Tokenizer is null ? ItemFeaturizer.Gpt2VocabularySize : InferVocabularySize(o.Tokenizer);
        var textCaps = TextFieldCaps(o, catalog.TextFields);
        var tokenVocabularies = TokenFieldVocabularies(o, catalog, catalog.TokenFields);
        return o.Tokenizer is null
            ? new ItemFeaturizer(ItemFeaturizer.DefaultTokenizer, vocabulary + 1, textCaps, tokenVocabularies, o.TokenFieldMaxTokens)
            : new ItemFeaturizer(o.Tokenizer, vocabulary + 1, textCaps, tokenVocabularies, o.TokenFieldMaxTokens);
    }

    /// <summary>The token cap of each of <paramref name="fields"/> (text fields), from the options.</summary>
    internal static Dictionary<string, int> TextFieldCaps(Options o, IEnumerable<string> fields) =>
        fields.ToDictionary(f => f, f => o.FieldMaxTokens.TryGetValue(f, out var cap) ? cap : o.TextFieldMaxTokens);

    /// <summary>A vocabulary for each of <paramref name="fields"/> (token-list fields of <paramref name="catalog"/>), built from the catalog's tokens.</summary>
    internal static Dictionary<string, TokenFieldVocabulary> TokenFieldVocabularies(Options o, ItemCatalog catalog, IEnumerable<string> fields)
    {
        var vocabularies = new Dictionary<string, TokenFieldVocabulary>();
        foreach (var name in fields)
        {
            int field = IndexOfField(catalog.TokenFields, name);
            var tokens = Enumerable.Range(0, catalog.Count).SelectMany(i => catalog.GetTokens(i, field));
            vocabularies[name] = TokenFieldVocabulary.Build(tokens, o.TokenFieldTableSize, o.TokenFieldHashBuckets);
        }
        return vocabularies;
    }

    private static int IndexOfField(IReadOnlyList<string> fields, string name)
    {
        for (int i = 0; i < fields.Count; i++) if (fields[i] == name) return i;
        throw new ArgumentException($"The catalog has no field '{name}'.", nameof(name));
    }

    private static int InferVocabularySize(Tokenizer tokenizer) => tokenizer switch
    {
        BpeTokenizer b => b.Vocabulary.Count + (b.SpecialTokens?.Count ?? 0),
        _ => throw new ArgumentException($"Cannot infer the vocabulary size of a {tokenizer.GetType().Name}; set {nameof(Options.TokenizerVocabularySize)}."),
    };

    internal static Device ResolveDevice(string name)
    {
        if (string.Equals(name, "auto", StringComparison.OrdinalIgnoreCase))
            return cuda.is_available() ? CUDA : CPU;
        try { return new Device(name); }
        catch (Exception e) { throw new ArgumentException($"{nameof(Options.Device)} '{name}' is not a torch device (use auto, cpu, cuda or cuda:N).", e); }
    }

    internal static (int Layers, int Heads, int Dimension) ResolveSize(Options o)
    {
        if (!SrtPresets.All.TryGetValue(o.Preset, out var p))
            throw new ArgumentException($"{nameof(Options.Preset)} '{o.Preset}' is unknown; presets: {string.Join(", ", SrtPresets.All.Keys)}.");
        int layers = o.Layers > 0 ? o.Layers : p.Layers, heads = o.Heads > 0 ? o.Heads : p.Heads, d = o.Dimension > 0 ? o.Dimension : p.Dimension;
        if (d % heads != 0) throw new ArgumentException($"{nameof(Options.Dimension)} ({d}) must be a multiple of {nameof(Options.Heads)} ({heads}).");
        return (layers, heads, d);
    }

    private static void Validate(Options o)
    {
        static void Require(bool ok, string option, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, $"SrtTrainer option {option} {rule}.");
        }
        Require(!string.IsNullOrWhiteSpace(o.UserColumnName), nameof(o.UserColumnName), "must name a column");
        Require(!string.IsNullOrWhiteSpace(o.ItemColumnName), nameof(o.ItemColumnName), "must name a column");
        Require(o.Layers >= 0, nameof(o.Layers), "must be 0 (preset) or positive");
        Require(o.Heads >= 0, nameof(o.Heads), "must be 0 (preset) or positive");
        Require(o.Dimension >= 0, nameof(o.Dimension), "must be 0 (preset) or positive");
        Require(o.MaxLength >= 1, nameof(o.MaxLength), "must be at least 1");
        Require(o.Dropout >= 0 && o.Dropout < 1, nameof(o.Dropout), "must be in [0, 1)");
        Require(o.FeedForwardMultiplier >= 1, nameof(o.FeedForwardMultiplier), "must be at least 1");
        Require(o.Negatives >= 0, nameof(o.Negatives), "must be 0 (all items) or positive");
        Require(o.PopularityExponent >= 0, nameof(o.PopularityExponent), "must be non-negative");
        Require(o.Temperature > 0, nameof(o.Temperature), "must be positive");
        Require(o.Epochs >= 1, nameof(o.Epochs), "must be at least 1");
        Require(o.BatchSize >= 1, nameof(o.BatchSize), "must be at least 1");
        Require(o.LearningRate > 0, nameof(o.LearningRate), "must be positive");
        Require(o.WeightDecay >= 0, nameof(o.WeightDecay), "must be non-negative");
        Require(o.WarmupFraction >= 0 && o.WarmupFraction <= 1, nameof(o.WarmupFraction), "must be in [0, 1]");
        Require(o.GradientClipNorm >= 0, nameof(o.GradientClipNorm), "must be non-negative (0 disables)");
        Require(o.EarlyStoppingPatience >= 0, nameof(o.EarlyStoppingPatience), "must be non-negative (0 disables)");
        Require(o.MaxMinutes >= 0, nameof(o.MaxMinutes), "must be non-negative (0 = no budget)");
        Require(o.ValidationInterval >= 1, nameof(o.ValidationInterval), "must be at least 1");
        Require(o.ValidationMaxUsers >= 0, nameof(o.ValidationMaxUsers), "must be non-negative");
        Require(o.TextFieldMaxTokens >= 1, nameof(o.TextFieldMaxTokens), "must be at least 1");
        Require(o.TokenFieldMaxTokens >= 1, nameof(o.TokenFieldMaxTokens), "must be at least 1");
        Require(o.TokenFieldHashBuckets >= 1, nameof(o.TokenFieldHashBuckets), "must be at least 1");
        Require(o.TokenFieldTableSize > o.TokenFieldHashBuckets, nameof(o.TokenFieldTableSize), "must exceed TokenFieldHashBuckets");
        Require(o.TokenizerVocabularySize >= 0, nameof(o.TokenizerVocabularySize), "must be 0 (infer) or positive");
        Require(o.InitialModel is null || o.InitialModelPath is null, nameof(o.InitialModelPath), "must be null when InitialModel is set (give the pre-trained model one way)");
        Require(o.InitialModelPath is null || !string.IsNullOrWhiteSpace(o.InitialModelPath), nameof(o.InitialModelPath), "must name a file (or be null)");
        Require(o.FineTuning == FineTuningSchedule.None || o.InitialModel is not null || o.InitialModelPath is not null,
            nameof(o.FineTuning), "needs a pre-trained model (InitialModel or InitialModelPath) to fine-tune");
        Require(o.EwcLambda >= 0 && double.IsFinite(o.EwcLambda), nameof(o.EwcLambda), "must be non-negative (0 turns EWC off)");
        Require(o.EwcLambda == 0 || o.InitialModel is not null || o.InitialModelPath is not null, nameof(o.EwcLambda), "needs a pre-trained model (InitialModel or InitialModelPath)");
        Require(o.EwcLambda == 0 || o.EwcData is not null, nameof(o.EwcData), "must hold the pre-training data when EwcLambda is set (the Fisher estimate is computed on it)");
        Require(o.EwcBatches >= 1, nameof(o.EwcBatches), "must be at least 1");
        Require(o.StageEpochs >= 1, nameof(o.StageEpochs), "must be at least 1");
        Require(o.StageLearningRate is null || o.StageLearningRate > 0, nameof(o.StageLearningRate), "must be positive (or null: LearningRate)");
        Require(o.CheckpointPath is null || !string.IsNullOrWhiteSpace(o.CheckpointPath), nameof(o.CheckpointPath), "must name a file (or be null)");
        Require(!o.Resume || o.CheckpointPath is not null, nameof(o.Resume), "needs CheckpointPath (the checkpoint to resume from)");
        ResolveSize(o);
        ValidateOutputOptions(o);
    }
}
