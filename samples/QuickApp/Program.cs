// QuickApp: an application that uses the Microsoft.ML.Srt package. It trains SRT on synthetic shop data, saves
// the fitted transformer with mlContext.Model.Save, then starts itself again to load that zip in a second process
// and recommend. The zip is all the two processes share.
//
//   dotnet run -c Release                        train, save quickapp-model.zip (next to the program), reload it in a second process
//   dotnet run -c Release -- MODEL.zip           the same with another model path
//   dotnet run -c Release -- recommend MODEL.zip ITEM ITEM ...   only the second step
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Srt;
using Microsoft.ML.Srt.Data.Synthetic;
using Microsoft.ML.Srt.Scoring;
using Microsoft.ML.Srt.Training;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

return args switch
{
    ["recommend", var path, .. var history] when history.Length > 0 => Recommend(path, history),
    [] => TrainSaveAndReload(Path.Combine(AppContext.BaseDirectory, "quickapp-model.zip")),
    [var path] when path != "recommend" => TrainSaveAndReload(Path.GetFullPath(path)),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: QuickApp [MODEL.zip]  |  QuickApp recommend MODEL.zip ITEM [ITEM ...]");
    return 2;
}

static int TrainSaveAndReload(string modelPath)
{
    var ml = new MLContext(seed: 1);

    // Data: the library's synthetic shop (items with a title and a brand; users whose next item depends on the
    // recent ones). An application loads its own interactions and items into IDataViews the same way.
    var generator = new SyntheticDataGenerator(new SyntheticDataOptions { Seed = 7, UserCount = 600, ItemCount = 300 });
    var (catalog, sequences) = generator.Generate();
    var interactions = new List<Interaction>();
    for (int user = 0; user < sequences.UserCount; user++)
    {
        var sequence = sequences.GetSequence(user);
        for (int k = 0; k < sequence.Length; k++)
            interactions.Add(new Interaction { UserId = sequences.UserIds[user], ItemId = catalog.GetId(sequence[k]), Timestamp = k });
    }
    var items = Enumerable.Range(0, catalog.Count).Select(i =>
    {
        var (title, brand, _) = generator.GetItemText(i);
        return new Item { ItemId = catalog.GetId(i), Title = title, Brand = brand };
    }).ToList();
    IDataView interactionView = ml.Data.LoadFromEnumerable(interactions);
    Console.WriteLine($"QuickApp: {sequences.UserCount:N0} users, {items.Count:N0} items, {interactions.Count:N0} interactions (synthetic).");

    // Train: a small model and a few epochs, so the sample runs in seconds.
    var trainer = ml.Recommendation().Srt(new SrtTrainer.Options
    {
        Items = ml.Data.LoadFromEnumerable(items),
        TimestampColumnName = "Timestamp",
        Dimension = 32, Layers = 1, Heads = 2, Epochs = 3, BatchSize = 64, Negatives = 100, LearningRate = 3e-3,
        TopK = 5,
    });
    var watch = Stopwatch.StartNew();
    using SrtTransformer model = trainer.Fit(interactionView);
    Console.WriteLine($"Trained SRT in {watch.Elapsed.TotalSeconds:F1} s: {model.Model.ParameterCount:N0} parameters.");

    // Save: the transformer's input is one row per user with a History column (item ids, oldest first).
    IDataView histories = SrtTransformer.HistoriesFromInteractions(interactionView, timestampColumnName: "Timestamp");
    ml.Model.Save(model, histories.Schema, modelPath);
    Console.WriteLine($"Saved {modelPath} ({new FileInfo(modelPath).Length / 1024:N0} KB) with mlContext.Model.Save.");

    // One user's history, without its last item: what would this user buy next?
    var first = sequences.GetSequence(0);
    var history = first[..^1].ToArray().Select(catalog.GetId).TakeLast(5).ToArray();
    Console.WriteLine($"Process {Environment.ProcessId} (the trainer) recommends:");
    Print(model, history);

    // The second process: this program again, with the model path and the history as arguments.
    var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        start.ArgumentList.Add(typeof(Item).Assembly.Location);   // started as `dotnet QuickApp.dll`
    start.ArgumentList.Add("recommend");
    start.ArgumentList.Add(modelPath);
    foreach (var id in history) start.ArgumentList.Add(id);
    Console.WriteLine("Starting a second process to load the zip ...");
    Console.Out.Flush();
    using var second = Process.Start(start)!;
    second.WaitForExit();
    return second.ExitCode;
}

static int Recommend(string modelPath, string[] history)
{
    var ml = new MLContext();
    ml.ComponentCatalog.RegisterSrt();   // once, before Load: lets ML.NET find the SRT loader
    ITransformer model = ml.Model.Load(modelPath, out _);
    Console.WriteLine($"Process {Environment.ProcessId} loaded {modelPath} with mlContext.Model.Load and recommends:");
    Print(model, history);
    return 0;
}

// Prints the top-K for one history with a PredictionEngine, and the items' titles from the model's catalog.
static void Print(ITransformer model, string[] history)
{
    var srt = model as SrtTransformer ?? ((IEnumerable<ITransformer>)model).OfType<SrtTransformer>().Last();
    var catalog = srt.Model.Catalog;
    string Title(string id) => catalog.TryGetIndex(id, out int index) ? catalog.GetTitle(index) : "?";

    using var engine = new MLContext().Model.CreatePredictionEngine<SrtHistoryInput, SrtRecommendationOutput>(model);
    var result = engine.Predict(new SrtHistoryInput { History = history });
    Console.WriteLine("  history: " + string.Join(" | ", history.Select(id => $"{id} {Title(id)}")));
    for (int r = 0; r < result.RecommendedItems.Length; r++)
        Console.WriteLine($"  {r + 1}. {result.RecommendedItems[r]} {result.RecommendationScores[r]:F6}  {Title(result.RecommendedItems[r])}");
}

sealed class Interaction
{
    public string UserId { get; set; } = "";
    public string ItemId { get; set; } = "";
    public float Timestamp { get; set; }
}

sealed class Item
{
    public string ItemId { get; set; } = "";
    public string Title { get; set; } = "";
    public string Brand { get; set; } = "";
}
