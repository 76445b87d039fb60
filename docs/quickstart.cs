// SRT quickstart as a .NET 10 file-based app: `dotnet run docs/quickstart.cs [OUTPUT_FOLDER]`.
// It trains a tiny SRT model on the project's synthetic shop data, evaluates it next to a popularity baseline,
// recommends for one user with titles, and draws the validation curve as a PNG. The same steps as
// docs/notebooks/quickstart.ipynb, without Polyglot Notebooks (deprecated upstream): docs/quickstart.md says more.
// The library as a project reference; this repository's Directory.Build.targets applies here too, so on Debian 12 the
// app's copy of TorchSharp's native library gets the libstdc++ fix (docs/build.md).
#:project ../src/Microsoft.ML.Srt
// Inside this repository the version comes from Directory.Packages.props (5.1.59); elsewhere write ScottPlot@5.1.59.
#:package ScottPlot
// libtorch ships for every platform: build for this machine only (half the output). ML.NET and this library emit code
// at run time, so no native AOT (a file-based app's default for `dotnet publish`).
#:property RuntimeIdentifier=$(NETCoreSdkRuntimeIdentifier)
#:property PublishAot=false

using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Srt;                   // mlContext.Recommendation()
using Microsoft.ML.Srt.Data;              // UserSplits, DataViewInteractionReader
using Microsoft.ML.Srt.Data.Synthetic;    // SyntheticDataGenerator
using Microsoft.ML.Srt.Evaluation;        // NextItemMetrics, SrtEvaluationOptions
using Microsoft.ML.Srt.Scoring;           // SrtTransformer, PopularityRecommender, SrtHistoryInput, SrtRecommendationOutput
using Microsoft.ML.Srt.Training;          // SrtTrainer.Options, SrtEpochReport
using ScottPlot;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture; // numbers print alike in every locale
string outputFolder = Path.GetFullPath(args.Length > 0 ? args[0] : ".");
Directory.CreateDirectory(outputFolder);

// ## Data
// Synthetic shop data (docs/synthetic-data.md): items have a title, a brand and categories, and users move through
// product lines, so the next item is learnable from the text. Leave-one-out: each user's last item is the test
// target. Fit gets every sequence without its test item and holds out the last remaining one for validation.
var mlContext = new MLContext(seed: 1);
var generator = new SyntheticDataGenerator(new SyntheticDataOptions { Seed = 42, UserCount = 2_000, ItemCount = 500 });
var (catalog, sequences) = generator.Generate();
var split = UserSplits.LeaveOneOut(sequences);
int[] withoutTestItem = Enumerable.Range(0, sequences.UserCount)
    .Select(u => sequences.GetLength(u) - (sequences.GetLength(u) >= LeaveOneOutSplit.MinimumEvaluatedLength ? 1 : 0))
    .ToArray();
IDataView interactions = DataViewInteractionReader.ToDataView(sequences.WithPrefixes(withoutTestItem));
Console.WriteLine($"Synthetic shop data (seed 42): {sequences.UserCount:N0} users, {catalog.Count:N0} items, " +
                  $"{sequences.InteractionCount:N0} interactions; {split.Test.Count:N0} test users.");

// ## Train
// An ML.NET estimator: Fit returns an SrtTransformer. Items are embedded from their text; validation runs after every
// epoch and the best epoch's weights are kept. The model is tiny on purpose (d = 32, one layer, 20 short epochs).
Console.WriteLine("Training SRT: d=32, 1 layer, 20 epochs, full softmax over the 500 items ...");
var options = new SrtTrainer.Options
{
    Catalog = catalog,
    TimestampColumnName = "Timestamp",
    Dimension = 32, Layers = 1, Heads = 2,
    Epochs = 20, BatchSize = 128, LearningRate = 3e-3, Dropout = 0.2,
    Negatives = 0,                        // 500 items: score every item in the loss, no sampling
    Seed = 1, Device = "cpu",
    TopK = 10, ExcludeHistory = true,     // what the model returns: 10 items, none already in the history
    Progress = new EpochPrinter(),
};
using SrtTransformer model = mlContext.Recommendation().Srt(options).Fit(interactions);
var summary = model.Model.TrainingSummary!;
Console.WriteLine($"Trained in {summary.TotalSeconds:F1} s; kept epoch {summary.BestEpoch} (best validation NDCG@10).");

// ## Evaluate
// Each user's last interaction, ranked given the ones before, over the whole catalog (history not masked, ties
// pessimistic: docs/evaluation.md). The popularity baseline goes through the same evaluator; SRT should beat it.
IDataView allInteractions = DataViewInteractionReader.ToDataView(sequences);
var evaluation = new SrtEvaluationOptions { TimestampColumnName = "Timestamp", Ks = [10], MaskHistory = false };
NextItemMetrics srt = mlContext.Recommendation().Evaluate(model, allInteractions, evaluation);
var popularityModel = PopularityRecommender.Fit(split.Train);
NextItemMetrics popularity = mlContext.Recommendation().Evaluate(popularityModel, allInteractions, evaluation);
Console.WriteLine();
Console.WriteLine($"Test: {srt.Cases:N0} users, full ranking over {catalog.Count:N0} items");
Console.WriteLine($"  {"model",-12} {"NDCG@10",8} {"HIT@10",8} {"MRR",8}");
foreach (var (name, m) in new[] { ("SRT", srt), ("popularity", popularity) })
    Console.WriteLine($"  {name,-12} {m.Ndcg[10],8:F4} {m.Hit[10],8:F4} {m.Mrr,8:F4}");

// ## Recommend
// A PredictionEngine answers one history at a time (one engine per thread). The history is what training saw of the
// first user; their held-out test item is marked if the model found it. A score is the cosine similarity between the
// user's vector and the item's: only the order matters (with this small model all of them can be negative).
var engine = mlContext.Model.CreatePredictionEngine<SrtHistoryInput, SrtRecommendationOutput>(model);
int user = 0;
string[] history = [.. sequences.GetSequence(user)[..withoutTestItem[user]].ToArray().Select(catalog.GetId)];
string heldOut = catalog.GetId(sequences.GetSequence(user)[^1]);
SrtRecommendationOutput top = engine.Predict(new SrtHistoryInput { History = history });
int brand = catalog.TextFields.ToList().IndexOf(SyntheticDataGenerator.BrandField);
string Describe(string id) =>
    catalog.TryGetIndex(id, out int i) ? $"{id}  {catalog.GetTitle(i)} [{catalog.GetText(i, brand)}]" : id;

Console.WriteLine();
Console.WriteLine($"User {sequences.UserIds[user]} recently bought (oldest first):");
foreach (var id in history.TakeLast(5)) Console.WriteLine($"      {Describe(id)}");
Console.WriteLine("Top-10 recommendations:");
for (int k = 0; k < top.RecommendedItems.Length; k++)
    Console.WriteLine($"  {k + 1,2}. {Describe(top.RecommendedItems[k])}  (score {top.RecommendationScores[k]:F3})" +
                      (top.RecommendedItems[k] == heldOut ? "  <- held-out next item" : ""));

// ## Plot
// Validation NDCG@10 after each epoch, from the training summary, with the kept epoch marked.
var plot = new Plot();
double[] epochs = [.. summary.Epochs.Select(e => (double)e.Epoch)];
double[] validation = [.. summary.Epochs.Select(e => e.ValidationNdcg10)];
plot.Add.ScatterLine(epochs, validation).LineWidth = 2;
var best = summary.Epochs.Single(e => e.Epoch == summary.BestEpoch);
plot.Add.Marker(best.Epoch, best.ValidationNdcg10, MarkerShape.FilledCircle, 10).LegendText = $"kept: epoch {best.Epoch}";
plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
plot.Title("SRT quickstart: validation NDCG@10 after each epoch");
plot.XLabel("epoch");
plot.YLabel("validation NDCG@10");
plot.ShowLegend(Alignment.LowerRight);
string png = Path.Combine(outputFolder, "quickstart-validation-ndcg10.png");
plot.SavePng(png, 800, 450);
Console.WriteLine();
Console.WriteLine($"Validation curve: {png}");

// Prints each epoch as it ends (a synchronous IProgress: Progress<T> would post the reports to the thread pool).
sealed class EpochPrinter : IProgress<SrtEpochReport>
{
    public void Report(SrtEpochReport e) => Console.WriteLine(
        $"  epoch {e.Epoch,2}/{e.PlannedEpochs}  loss {e.TrainLoss:F4}  val NDCG@10 {e.ValidationNdcg10:F4}" +
        $"  {e.TrainSeconds,4:F1} s{(e.IsBest ? "  *" : "")}");
}
