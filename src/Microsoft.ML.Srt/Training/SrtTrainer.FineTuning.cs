using System.IO.Compression;
using Microsoft.ML.Srt.Data;
using Microsoft.ML.Srt.Featurization;
using Microsoft.ML.Srt.Model;
using Microsoft.ML.Srt.Persistence;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Srt.Training;

// Fine-tuning: a fit that starts from a pre-trained model's weights and featurizer instead of random ones.
public sealed partial class SrtTrainer
{
    public sealed partial class Options
    {
        // ---- Fine-tuning ----

        /// <summary>
        /// A pre-trained model to start from (fine-tuning): training begins from its weights, and the catalog is featurized
        /// with its tokenizer, field caps and token-field vocabularies, so the network keeps its shape. The model's size
        /// (layers, heads, width, feed-forward multiplier, history length) and item representation must match the options
        /// where they name one (<see cref="Layers"/>, <see cref="Heads"/>, <see cref="Dimension"/> or a non-default
        /// <see cref="Preset"/>; <see cref="MaxLength"/>, <see cref="FeedForwardMultiplier"/>, <see cref="ItemRepresentation"/>,
        /// <see cref="Tokenizer"/>, <see cref="TokenizerVocabularySize"/> always), else training is refused with an error
        /// naming the option. Only <see cref="ItemRepresentation.Text"/> models can be fine-tuned on another catalog (an id
        /// table belongs to its own catalog). The training catalog must have every item field the model reads; fields it has
        /// beyond those are added, with zero adapter columns so that training starts from the model's own item vectors (a
        /// new token-list field also gets a new table of random rows). The model is read, never changed. Default null:
        /// random initial weights.
        /// </summary>
        public SrtModel? InitialModel;

        /// <summary>
        /// <see cref="InitialModel"/> as a file: an SRT model file (<see cref="SrtModel.Save(string)"/>) or an ML.NET zip
        /// holding an <see cref="SrtTransformer"/> (<c>mlContext.Model.Save</c>). Set at most one of the two. Default null.
        /// </summary>
        public string? InitialModelPath;

        /// <summary>
        /// How the pre-trained network trains (needs <see cref="InitialModel"/> or <see cref="InitialModelPath"/> when not
        /// <see cref="FineTuningSchedule.None"/>). Default <see cref="FineTuningSchedule.None"/>: every parameter from the first step.
        /// </summary>
        public FineTuningSchedule FineTuning = FineTuningSchedule.None;

        /// <summary>Epochs per layer stage of <see cref="FineTuningSchedule.Progressive"/> (the final, everything stage gets
        /// the epochs left of <see cref="Epochs"/>). Default 10 (the paper's).</summary>
        public int StageEpochs = 10;

        /// <summary>Peak learning rate of each layer stage of <see cref="FineTuningSchedule.Progressive"/>. Default null:
        /// <see cref="LearningRate"/>, as the paper's stages use its training rate (1e-4 there).</summary>
        public double? StageLearningRate;

        /// <summary>
        /// Elastic Weight Consolidation strength λ: adds λ/2 Σ F (θ − θ*)² to the loss, where θ* are the pre-trained
        /// weights and F a diagonal Fisher estimate (mean squared gradient over <see cref="EwcBatches"/> batches of
        /// <see cref="EwcData"/>), so weights that mattered for the pre-training data move less. Covers the dense
        /// parameters (transformer, norms, field adapter, position embeddings); the embedding tables are not penalised.
        /// 0 (the default) turns it off; the paper uses 100. Needs <see cref="InitialModel"/> and <see cref="EwcData"/>.
        /// </summary>
        public double EwcLambda;

        /// <summary>The pre-training data (sequences over its own catalog, which the pre-trained model's featurizer reads)
        /// that the Fisher estimate of <see cref="EwcLambda"/> is computed on, before fine-tuning starts. Default null.</summary>
        public InteractionSequences? EwcData;

        /// <summary>Batches (of <see cref="BatchSize"/>) of <see cref="EwcData"/> the Fisher estimate averages. Default 100.</summary>
        public int EwcBatches = 100;
    }

    /// <summary>True when the options name a model to start from.</summary>
    internal bool FineTunes => _options.InitialModel is not null || _options.InitialModelPath is not null;

    /// <summary>
    /// The model to start from, and whether this trainer loaded it (and so must dispose it); null without one.
    /// </summary>
    internal (SrtModel Model, bool Owned)? LoadInitialModel(Device device)
    {
        var o = _options;
        if (o.InitialModel is { } given) return (given, false);
        if (o.InitialModelPath is not { } path) return null;
        return (LoadModelOrMlNetZip(path, device, nameof(Options.InitialModelPath)), true);
    }

    /// <summary>
    /// Reads an SRT model file, or the SRT model inside an ML.NET zip that holds an <see cref="SrtTransformer"/> (its
    /// <c>SrtModel.zip</c> entry); errors name <paramref name="option"/> and the file.
    /// </summary>
    internal static SrtModel LoadModelOrMlNetZip(string path, Device device, string option)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"SrtTrainer option {option}: the model file '{path}' does not exist.", path);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            ZipArchiveEntry? inner = null;
            try
            {
                using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
                if (zip.GetEntry(SrtModelFile.ManifestEntry) is null)
                {
                    inner = zip.Entries.FirstOrDefault(e => e.Name == SrtTransformerPersistence.ModelEntry);
                    if (inner is not null)
                    {
                        using var copy = new MemoryStream();
                        using (var s = inner.Open()) s.CopyTo(copy);
                        copy.Position = 0;
                        return SrtModelFile.Load(copy, $"'{path}' (its entry {inner.FullName})", device.ToString());
                    }
                }
            }
            catch (InvalidDataException) when (inner is null)
            {
                // Not a zip at all: SrtModelFile.Load below says so in its own words.
            }
            stream.Position = 0;
            return SrtModelFile.Load(stream, $"'{path}'", device.ToString());
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"SrtTrainer option {option}: {e.Message}", e);
        }
    }

    /// <summary>
    /// A network of <paramref name="initial"/>'s shape holding a copy of its weights (the options' dropout), bound to
    /// <paramref name="catalog"/> through <paramref name="initial"/>'s featurizer. Item fields of the catalog that the
    /// pre-trained model does not read are added (<paramref name="addedFields"/>): each gets zero columns in the field
    /// adapter, so training starts from exactly the pre-trained model's item vectors, and a token-list field gets a new
    /// table of random rows.
    /// </summary>
    internal SrtNetwork CreateNetworkFrom(SrtModel initial, ItemCatalog catalog, Device device, out ItemFeaturizer featurizer, out IReadOnlySet<string> addedFields)
    {
        (featurizer, addedFields, var shape) = FineTuneLayout(initial, catalog);
        var pretrained = initial.Featurizer;
        // Every pre-trained tensor is copied below, so the tables skip their random initialisation; added tables draw theirs.
        var network = new SrtNetwork(shape, initializeTables: false);
        try
        {
            using (no_grad())
            {
                var weights = initial.Network.state_dict();
                // Adapter input blocks of width d in field order (text fields, then token-list fields); a pre-trained field's
                // block moves past the added text fields when it is a token-list field.
                var oldFields = pretrained.Fields;
                var newFields = featurizer.Fields;
                foreach (var (name, target) in network.state_dict())
                {
                    if (weights.TryGetValue(name, out var weight) && weight.shape.SequenceEqual(target.shape))
                        target.copy_(weight);
                    else if (name == AdapterWeightName)
                    {
                        target.zero_();
                        long d = shape.Dimension;
                        for (int f = 0; f < oldFields.Count; f++)
                        {
                            long to = IndexOf(newFields, oldFields[f]) * d;
                            target.narrow(1, to, d).copy_(weight!.narrow(1, f * d, d));
                        }
                    }
                    else if (!weights.ContainsKey(name) && name.StartsWith(TokenFieldTablePrefix, StringComparison.Ordinal))
                    {
                        nn.init.normal_(target, 0, 0.02);
                        target[0].zero_();
                    }
                    else
                        throw new InvalidOperationException($"Cannot start '{name}' ({string.Join("x", target.shape)}) from the pre-trained model.");
                }
            }
            network.to(device);
            network.Items.SetCatalog(featurizer.Featurize(catalog), device);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        _log($"SRT: fine-tuning from a pre-trained model: {network.ParameterCount():N0} parameters, {shape.Layers} layers, {shape.Heads} heads, " +
             $"d={shape.Dimension}, {featurizer.Fields.Count} item fields read with its tokenizer and vocabularies, device {device}");
        if (addedFields.Count > 0)
            _log($"SRT: added the item field(s) {string.Join(", ", addedFields.Select(f => $"'{f}'"))}, which the pre-trained model does not read " +
                 "(zero adapter columns: training starts from its item vectors).");
        return network;
    }

    /// <summary>
    /// What fine-tuning <paramref name="initial"/> on <paramref name="catalog"/> builds, without building it: the featurizer
    /// (<paramref name="initial"/>'s, with the catalog's fields it does not read added), those added fields, and the
    /// network shape. Refuses a pre-trained model that does not fit the options or the catalog.
    /// </summary>
    internal (ItemFeaturizer Featurizer, IReadOnlySet<string> AddedFields, SrtNetworkShape Shape) FineTuneLayout(SrtModel initial, ItemCatalog catalog)
    {
        var o = _options;
        CheckCompatible(o, initial);
        var pretrained = initial.Featurizer;
        var missing = pretrained.Fields.Where(f => !catalog.TextFields.Contains(f) && !catalog.TokenFields.Contains(f)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException(
                $"SrtTrainer option {InitialOptionName(o)}: the pre-trained model reads the item field(s) {string.Join(", ", missing.Select(f => $"'{f}'"))}, " +
                $"which the training catalog lacks (it has: {string.Join(", ", catalog.TextFields.Concat(catalog.TokenFields))}).");
        var newText = catalog.TextFields.Where(f => !pretrained.TextFieldCaps.ContainsKey(f)).ToList();
        var newTokenLists = catalog.TokenFields.Where(f => !pretrained.TokenFieldVocabularies.ContainsKey(f)).ToList();
        foreach (var f in newText.Where(pretrained.TokenFieldVocabularies.ContainsKey).Concat(newTokenLists.Where(pretrained.TextFieldCaps.ContainsKey)))
            throw new ArgumentException(
                $"SrtTrainer option {InitialOptionName(o)}: the pre-trained model reads the item field '{f}' as " +
                $"{(pretrained.TextFieldCaps.ContainsKey(f) ? "text" : "a token list")}, but the training catalog has it as " +
                $"{(catalog.TextFields.Contains(f) ? "text" : "a token list")}. Give the field in the pre-trained model's kind.");
        var extended = newText.Count + newTokenLists.Count == 0 ? pretrained
            : pretrained.WithFields(TextFieldCaps(o, newText), TokenFieldVocabularies(o, catalog, newTokenLists));

        var source = initial.Network.Shape;
        var shape = source with
        {
            Dropout = o.Dropout,
            IdTableSize = catalog.Count + 1,
            TextFieldCount = source.TextFieldCount + newText.Count,
            TokenFieldTableSizes = source.TokenFieldTableSizes.Concat(newTokenLists.Select(f => extended.TokenFieldVocabularies[f].TableSize)).ToArray(),
        };
        return (extended, newText.Concat(newTokenLists).ToHashSet(), shape);
    }

    private const string AdapterWeightName = "items.adapter.weight";
    private const string TokenFieldTablePrefix = "items.token_field_";

    private static int IndexOf(IReadOnlyList<string> fields, string field)
    {
        for (int i = 0; i < fields.Count; i++) if (fields[i] == field) return i;
        throw new InvalidOperationException($"Field '{field}' is not read.");
    }

    /// <summary>
    /// θ* (the network's weights now, the pre-trained ones) and the diagonal Fisher estimate on <see cref="Options.EwcData"/>,
    /// computed with the network bound to that data's catalog, then bound back to <paramref name="catalog"/>.
    /// </summary>
    private ElasticWeightConsolidation ComputeEwc(SrtNetwork network, ItemFeaturizer featurizer, IReadOnlySet<string> addedFields, ItemCatalog catalog, Device device)
    {
        var o = _options;
        var data = o.EwcData!;
        var missing = featurizer.Fields.Where(f => !addedFields.Contains(f) && !data.Catalog.TextFields.Contains(f) && !data.Catalog.TokenFields.Contains(f)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"SrtTrainer option {nameof(Options.EwcData)}: its catalog lacks the field(s) {string.Join(", ", missing.Select(f => $"'{f}'"))} that the pre-trained model reads.", nameof(Options.EwcData));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        // Fields added for fine-tuning are empty in the pre-training data, as they were for the pre-trained model.
        network.Items.SetCatalog(featurizer.Featurize(data.Catalog, addedFields), device);
        try
        {
            var session = new SrtTrainingSession(network, data, o, device, _ => { }, Seed, IsCancellationRequested);
            var ewc = session.DiagonalFisher(o.EwcBatches, o.EwcLambda);
            _log($"SRT: EWC λ = {o.EwcLambda:G3}, Fisher estimate over {ewc.Batches} batches of the pre-training data in {watch.Elapsed.TotalSeconds:F1} s.");
            return ewc;
        }
        finally
        {
            network.Items.SetCatalog(featurizer.Featurize(catalog), device);
        }
    }

    private static string InitialOptionName(Options o) => o.InitialModel is not null ? nameof(Options.InitialModel) : nameof(Options.InitialModelPath);

    /// <summary>Refuses a pre-trained model whose shape, item representation or tokenizer differs from what the options name.</summary>
    private static void CheckCompatible(Options o, SrtModel initial)
    {
        var s = initial.Network.Shape;
        string source = InitialOptionName(o);
        void Refuse(string option, string what) => throw new ArgumentException(
            $"SrtTrainer option {option} does not fit the pre-trained model of {source}: {what}. Set {option} to the pre-trained model's value (or leave it unset where it may be 0) to fine-tune it.", option);

        var representation = s.UsesIds ? (s.UsesText ? ItemRepresentation.TextAndId : ItemRepresentation.Id) : ItemRepresentation.Text;
        if (representation != o.ItemRepresentation)
            Refuse(nameof(Options.ItemRepresentation), $"it was trained with ItemRepresentation.{representation}, the options say {o.ItemRepresentation}");
        if (s.UsesIds)
            throw new ArgumentException(
                $"SrtTrainer option {source}: the pre-trained model embeds item ids (ItemRepresentation.{representation}); its id table belongs to its own catalog, " +
                $"so it cannot be fine-tuned on another. Pre-train with ItemRepresentation.{nameof(ItemRepresentation.Text)} (the default).", source);

        bool presetNamed = SrtPresets.All.TryGetValue(o.Preset, out var preset) && !string.Equals(o.Preset, SrtPresets.Default, StringComparison.OrdinalIgnoreCase);
        void Size(string option, int value, int? fromPreset, int actual)
        {
            int? expected = value > 0 ? value : presetNamed ? fromPreset : null;
            if (expected is { } e && e != actual)
                Refuse(value > 0 ? option : nameof(Options.Preset), $"{option} is {actual} there, the options say {e}");
        }
        Size(nameof(Options.Layers), o.Layers, preset.Layers, s.Layers);
        Size(nameof(Options.Heads), o.Heads, preset.Heads, s.Heads);
        Size(nameof(Options.Dimension), o.Dimension, preset.Dimension, s.Dimension);
        if (o.MaxLength != s.MaxLength) Refuse(nameof(Options.MaxLength), $"it reads histories of {s.MaxLength} items, the options say {o.MaxLength}");
        if (o.FeedForwardMultiplier != s.FeedForwardMultiplier)
            Refuse(nameof(Options.FeedForwardMultiplier), $"its feed-forward multiplier is {s.FeedForwardMultiplier}, the options say {o.FeedForwardMultiplier}");
        if (o.TokenizerVocabularySize > 0 && o.TokenizerVocabularySize + 1 != s.TextVocabularySize)
            Refuse(nameof(Options.TokenizerVocabularySize), $"its text vocabulary has {s.TextVocabularySize - 1} tokens, the options say {o.TokenizerVocabularySize}");
        if (o.Tokenizer is { } tokenizer && !SameTokenizer(tokenizer, initial.Featurizer))
            Refuse(nameof(Options.Tokenizer), "it was trained with another tokenizer (its own is used when Tokenizer is null)");
    }

    /// <summary>True when <paramref name="tokenizer"/> is the featurizer's, or a BPE tokenizer with the same vocabulary.</summary>
    private static bool SameTokenizer(Tokenizer tokenizer, ItemFeaturizer featurizer)
    {
        var theirs = featurizer.Tokenizer;
        if (ReferenceEquals(tokenizer, theirs)) return true;
        if (tokenizer is BpeTokenizer a && theirs is BpeTokenizer b)
            return a.Vocabulary.Count == b.Vocabulary.Count && a.Vocabulary.All(kv => b.Vocabulary.TryGetValue(kv.Key, out int id) && id == kv.Value);
        return false;
    }
}

/// <summary>How a fit from <see cref="SrtTrainer.Options.InitialModel"/> trains the pre-trained network.</summary>
public enum FineTuningSchedule
{
    /// <summary>Everything trains from the first step, as in a fit from scratch (default).</summary>
    None,

    /// <summary>
    /// Progressive unfreezing (the paper's section 4.5): the top transformer layer alone (with the final norm and the repeat
    /// bias) for <see cref="SrtTrainer.Options.StageEpochs"/> epochs, then the top two, and so on, each stage a one-cycle
    /// schedule peaking at <see cref="SrtTrainer.Options.StageLearningRate"/>; then the token embeddings, item encoder and
    /// position embeddings join for the epochs left, a one-cycle schedule peaking at <see cref="SrtTrainer.Options.LearningRate"/>.
    /// </summary>
    Progressive,
}
