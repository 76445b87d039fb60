using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Microsoft.ML.Srt.Cli;

/// <summary>
/// Writes the generated block of docs/benchmarks.md (between <see cref="BeginMarker"/> and <see cref="EndMarker"/>)
/// and its two plots from the saved results. Text outside the markers is kept as it is. Every measured number comes
/// from the result files; the only numbers written here are the paper's published ones (<see cref="BeautyBenchmarkRows"/>).
/// </summary>
internal static class BeautyBenchmarkReport
{
    /// <summary>The line that opens the generated block.</summary>
    public const string BeginMarker = "<!-- beauty-benchmark:begin -->";

    /// <summary>The line that closes the generated block.</summary>
    public const string EndMarker = "<!-- beauty-benchmark:end -->";

    /// <summary>The validation-curve plot, relative to the document's folder.</summary>
    public const string ValidationPlot = "benchmarks/beauty-validation-ndcg10.png";

    /// <summary>The NDCG@5-against-negatives plot, relative to the document's folder.</summary>
    public const string NegativesPlot = "benchmarks/beauty-ndcg5-vs-negatives.png";

    private const string NotPublished = "not published in our source";
    private static readonly CultureInfo _invariant = CultureInfo.InvariantCulture;

    /// <summary>Draws the plots beside <paramref name="docPath"/> and rewrites its generated block; returns the plots written.</summary>
    public static IReadOnlyList<string> Write(BeautyBenchmarkResults results, string docPath, TextWriter progress)
    {
        var docFolder = Path.GetDirectoryName(docPath)!;
        Directory.CreateDirectory(Path.Combine(docFolder, "benchmarks"));
        var written = new List<string>();
        var plots = new Dictionary<string, bool>();
        foreach (var (relative, draw) in new (string, Func<BeautyBenchmarkResults, byte[]?>)[]
                 { (ValidationPlot, BeautyBenchmarkPlots.ValidationCurves), (NegativesPlot, BeautyBenchmarkPlots.Ndcg5AgainstNegatives) })
        {
            var png = draw(results);
            plots[relative] = png is not null;
            if (png is null) continue;
            var path = Path.Combine(docFolder, relative);
            BenchmarkSteps.WriteAtomically(path, png);
            written.Add(path);
        }
        var document = File.Exists(docPath) ? File.ReadAllText(docPath) : "# Benchmarks\n";
        BenchmarkSteps.WriteAtomically(docPath, Splice(document, Block(results, plots), docPath));
        progress.WriteLine($"Rewrote the generated block of {docPath} ({results.Rows.Count} of {BeautyBenchmarkRows.All.Count} rows, " +
                           $"speed {(results.Speed is null ? "not run" : "included")}) and {written.Count} plot(s).");
        return written;
    }

    /// <summary>Start offsets of the lines that hold <paramref name="marker"/> alone (spaces around it allowed).</summary>
    private static List<int> MarkerLines(string document, string marker) =>
        Regex.Matches(document, "^[ \\t]*" + Regex.Escape(marker) + "[ \\t]*\\r?$", RegexOptions.Multiline)
            .Select(m => m.Index + (m.Value.Length - m.Value.TrimStart().Length)).ToList();

    /// <summary>
    /// <paramref name="document"/> with its generated block replaced by <paramref name="block"/>; without one, the block
    /// goes before the first second-level heading (after the title and introduction), or at the end.
    /// </summary>
    public static string Splice(string document, string block, string docPath) => Splice(document, block, docPath, BeginMarker, EndMarker);

    /// <summary><see cref="Splice(string, string, string)"/> for the block between <paramref name="beginMarker"/> and <paramref name="endMarker"/>.</summary>
    public static string Splice(string document, string block, string docPath, string beginMarker, string endMarker)
    {
        // A marker counts only on a line of its own: the hand-written text may quote the markers.
        var begins = MarkerLines(document, beginMarker);
        var ends = MarkerLines(document, endMarker);
        int begin = begins.Count > 0 ? begins[0] : -1;
        int end = ends.Count > 0 ? ends[0] : -1;
        if (begin >= 0 && end > begin)
        {
            if (begins.Count > 1 || ends.Count > 1)
                throw new InvalidDataException($"{docPath}: the markers '{beginMarker}' and '{endMarker}' appear more than once; keep one pair, then rerun.");
            return document[..begin] + block + document[(end + endMarker.Length)..];
        }
        if (begin >= 0 || end >= 0)
            throw new InvalidDataException($"{docPath}: '{(begin >= 0 ? beginMarker : endMarker)}' (line {LineOf(document, Math.Max(begin, end))}) has no matching " +
                                           $"'{(begin >= 0 ? endMarker : beginMarker)}' after it; fix the markers by hand, then rerun.");
        var heading = Regex.Match(document, "^## ", RegexOptions.Multiline);
        return heading.Success
            ? document[..heading.Index] + block + "\n\n" + document[heading.Index..]
            : document.TrimEnd() + "\n\n" + block + "\n";
    }

    /// <summary>The generated block, markers included (no trailing line break).</summary>
    public static string Block(BeautyBenchmarkResults results, IReadOnlyDictionary<string, bool> plots)
    {
        var md = new StringBuilder();
        void Line(string text = "") => md.Append(text).Append('\n');
        Line(BeginMarker);
        Line("<!-- Generated by `srt benchmark beauty` from its saved row results; rerun it to change this block (text outside the markers is kept). -->");
        Line("## Amazon Beauty: the paper's table, reproduced (`srt benchmark beauty`)");
        Line();
        var catalog = results.Rows.Keys.Select(r => BeautyBenchmarkResults.Number(results.Unmasked(r), "items")
                                                    ?? BeautyBenchmarkResults.Number(results.Train(r), "data", "items")).FirstOrDefault(n => n is not null);
        Line($"Leave-one-out test split, full ranking over {(catalog is null ? "the whole catalog" : Count(catalog) + " items")}, ties pessimistic. " +
             "\"Masked\": the history's items are not candidates (`srt evaluate --mask-history`, the ICLRec line's convention); " +
             "the paper's columns are its published full-ranking values. Trained rows run `srt train` with only the data and " +
             "`--max-minutes`, plus the row's own options (so the default recipe otherwise); each row is its own process.");
        Line();
        Line("| row | NDCG@5 | HIT@5 | NDCG@10 | HIT@10 | MRR | masked NDCG@5 | masked HIT@5 | masked NDCG@10 | masked HIT@10 | masked MRR | " +
             "paper NDCG@5 | paper HIT@5 | training (min) | epochs (best) | s / epoch | parameters | non-embedding parameters |");
        Line("| --- | " + string.Concat(Enumerable.Repeat("--- | ", 17)).TrimEnd());
        foreach (var row in BeautyBenchmarkRows.All)
        {
            if (!results.Rows.ContainsKey(row.Name))
            {
                Line($"| {row.Name} (not run) | " + string.Join(" | ", Enumerable.Repeat("–", 10)) +
                     $" | {Paper(row.PaperNdcg5)} | {Paper(row.PaperHit5)} | – | – | – | – | – |");
                continue;
            }
            var unmasked = results.Unmasked(row.Name);
            var masked = results.Masked(row.Name);
            var train = results.Train(row.Name);
            var cells = new List<string> { row.Name };
            foreach (var metrics in new[] { unmasked, masked })
                cells.AddRange(new[] { "ndcg@5", "hit@5", "ndcg@10", "hit@10", "mrr" }.Select(k => Metric(BeautyBenchmarkResults.Number(metrics, k))));
            cells.Add(Paper(row.PaperNdcg5));
            cells.Add(Paper(row.PaperHit5));
            if (train is null)
            {
                cells.AddRange(["none (counts)", "–", "–", "0", "0"]);
            }
            else
            {
                cells.Add(Fixed(BeautyBenchmarkResults.Number(train, "train_seconds") / 60, 1));
                cells.Add($"{Count(BeautyBenchmarkResults.Number(train, "epochs"))} ({Count(BeautyBenchmarkResults.Number(train, "best_epoch"))})");
                cells.Add(Fixed(BeautyBenchmarkResults.Number(train, "seconds_per_epoch"), 1));
                cells.Add(Count(BeautyBenchmarkResults.Number(train, "parameters")));
                cells.Add(Count(BeautyBenchmarkResults.Number(train, "non_embedding_parameters")));
            }
            Line("| " + string.Join(" | ", cells) + " |");
        }
        Line();
        Line("Rows: " + string.Join("; ", BeautyBenchmarkRows.All.Select(r => $"`{r.Name}` = {r.Description}")) + ". " +
             $"\"{NotPublished}\": ../shared/data/README.md quotes no value of the paper's for that row.");
        Line();

        Line("**Against the paper.**");
        Line();
        foreach (var row in BeautyBenchmarkRows.All.Where(r => r.PaperNdcg5 is not null || r.PaperHit5 is not null))
            Line("- " + AgainstPaper(results, row));
        Line();
        Line("**The trend** (the paper: more negatives give a better NDCG@5). " + Trend(results));
        Line();

        WriteSpeed(md, results);

        Line("### Plots");
        Line();
        Line(plots.GetValueOrDefault(ValidationPlot)
            ? $"![validation NDCG@10 after each epoch, one line per trained row]({ValidationPlot})"
            : "Validation NDCG@10 per epoch: no trained row has run yet.");
        Line();
        Line(plots.GetValueOrDefault(NegativesPlot)
            ? $"![test NDCG@5 against the number of negatives, with the paper's SRT-1K]({NegativesPlot})"
            : "Test NDCG@5 against the number of negatives: no SRT row has run yet.");
        Line();

        WriteProvenance(md, results);
        md.Append(EndMarker);
        return md.ToString();
    }

    private static string AgainstPaper(BeautyBenchmarkResults results, BeautyBenchmarkRow row)
    {
        var unmasked = results.Unmasked(row.Name);
        if (unmasked is null) return $"`{row.Name}`: not run yet (paper: NDCG@5 {Paper(row.PaperNdcg5)}, HIT@5 {Paper(row.PaperHit5)}).";
        var masked = results.Masked(row.Name);
        var parts = new List<string>();
        foreach (var (key, label, paper) in new[] { ("ndcg@5", "NDCG@5", row.PaperNdcg5), ("hit@5", "HIT@5", row.PaperHit5) })
        {
            if (paper is null) continue;
            var ours = BeautyBenchmarkResults.Number(unmasked, key);
            var oursMasked = BeautyBenchmarkResults.Number(masked, key);
            parts.Add($"{label} {Metric(ours)} is {Difference(ours, paper.Value)} the paper's {Metric(paper)}" +
                      (oursMasked is null ? "" : $" (history masked: {Metric(oursMasked)}, {Difference(oursMasked, paper.Value)})"));
        }
        var train = results.Train(row.Name);
        var options = train?["options"];
        var machine = results.Rows[row.Name]["machine"];
        string how = train is null ? "" :
            $" It trained {Count(BeautyBenchmarkResults.Number(train, "epochs"))} epochs (best {Count(BeautyBenchmarkResults.Number(train, "best_epoch"))}, " +
            $"stopped by {BeautyBenchmarkResults.Text(train, "stop_reason") ?? "?"}) in {Fixed(BeautyBenchmarkResults.Number(train, "train_seconds") / 60, 1)} minutes " +
            $"of a {Fixed(BeautyBenchmarkResults.Number(options, "max_minutes"), 0)}-minute budget on {Count(BeautyBenchmarkResults.Number(machine, "cores"))} CPU cores, " +
            $"{Layers(BeautyBenchmarkResults.Number(options, "layers"))}, d = {Count(BeautyBenchmarkResults.Number(options, "dimension"))}.";
        var notPublished = row.PaperHit5 is null ? " The paper's HIT@5 for it is " + NotPublished + "." : "";
        return $"`{row.Name}`: {string.Join("; ", parts)}.{how}{notPublished}";
    }

    private static string Trend(BeautyBenchmarkResults results)
    {
        var text = new StringBuilder();
        var values = BeautyBenchmarkRows.NegativesTrend.Select(r => (Row: r, Ndcg5: BeautyBenchmarkResults.Number(results.Unmasked(r), "ndcg@5"))).ToList();
        var missing = values.Where(v => v.Ndcg5 is null).Select(v => v.Row).ToList();
        if (missing.Count > 0)
        {
            text.Append($"Cannot be checked yet: {string.Join(", ", missing)} not run.");
        }
        else
        {
            bool holds = values.Zip(values.Skip(1)).All(p => p.First.Ndcg5 < p.Second.Ndcg5);
            var chain = new StringBuilder($"{values[0].Row} {Metric(values[0].Ndcg5)}");
            foreach (var (first, second) in values.Zip(values.Skip(1)))
                chain.Append(first.Ndcg5 < second.Ndcg5 ? " < " : " ≥ ").Append($"{second.Row} {Metric(second.Ndcg5)}");
            text.Append(holds ? $"**Holds** for srt-10 < srt-100 < srt-300 < srt-1k: {chain}." : $"**Does not hold** for every step: {chain}.");
        }
        if (BeautyBenchmarkResults.Number(results.Unmasked("srt-all"), "ndcg@5") is double all)
            text.Append($" With every item as a negative (srt-all): {Metric(all)}.");
        var srt1k = BeautyBenchmarkRows.All.Single(r => r.Name == BeautyBenchmarkRows.DefaultRecipe);
        var ours = BeautyBenchmarkResults.Number(results.Unmasked(srt1k.Name), "ndcg@5");
        text.Append(ours is null
            ? $" Whether SRT-1K reaches the paper's {Metric(srt1k.PaperNdcg5)}: srt-1k not run yet."
            : ours >= srt1k.PaperNdcg5
                ? $" **SRT-1K reaches the paper's {Metric(srt1k.PaperNdcg5)}**: {Metric(ours)}."
                : $" **SRT-1K does not reach the paper's {Metric(srt1k.PaperNdcg5)}**: {Metric(ours)}, {Fixed(srt1k.PaperNdcg5 - ours, 4)} short.");
        return text.ToString();
    }

    private static void WriteSpeed(StringBuilder md, BeautyBenchmarkResults results)
    {
        void Line(string text = "") => md.Append(text).Append('\n');
        Line("### Speed and memory");
        Line();
        var step = results.SpeedResult("step");
        var scoring = results.SpeedResult("scoring");
        var train = results.Train(BeautyBenchmarkRows.DefaultRecipe);
        Line("| measure | value |");
        Line("| --- | --- |");
        if (step is not null)
        {
            Line($"| optimizer step, `srt benchmark step`: d = {Count(BeautyBenchmarkResults.Number(step, "dimension"))}, {Layers(BeautyBenchmarkResults.Number(step, "layers"))}, " +
                 $"{Negatives(step["negatives"])} shared negatives, batch {Count(BeautyBenchmarkResults.Number(step, "batch_size"))}, length {Count(BeautyBenchmarkResults.Number(step, "length"))}, " +
                 $"{Count(BeautyBenchmarkResults.Number(step, "threads"))} threads | median {Fixed(BeautyBenchmarkResults.Number(step, "ms_per_step_median"), 1)} ms, " +
                 $"p90 {Fixed(BeautyBenchmarkResults.Number(step, "ms_per_step_p90"), 1)} ms ({Count(BeautyBenchmarkResults.Number(step, "steps"))} steps); " +
                 $"{Count(BeautyBenchmarkResults.Number(step, "sequences_per_second"))} sequences/s" +
                 (BeautyBenchmarkResults.Number(step, "cpu_steal_percent") is double steal ? $"; {Fixed(steal, 1)}% of the CPU stolen by the hypervisor" : "") + " |");
        }
        var beautyStep = results.SpeedResult("beauty_step");
        if (beautyStep is not null)
        {
            var o = beautyStep["options"];
            Line($"| optimizer step on Beauty's own length-bucketed batches, `srt train --preset {BeautyBenchmarkResults.Text(o, "preset")} --epochs " +
                 $"{Count(BeautyBenchmarkResults.Number(beautyStep, "epochs"))}`: d = {Count(BeautyBenchmarkResults.Number(o, "dimension"))}, {Layers(BeautyBenchmarkResults.Number(o, "layers"))}, " +
                 $"{Negatives(o?["negatives"])} shared negatives, batch {Count(BeautyBenchmarkResults.Number(o, "batch_size"))} | mean {Fixed(BeautyBenchmarkResults.Number(beautyStep, "ms_per_step"), 1)} ms; " +
                 $"{Count(BeautyBenchmarkResults.Number(beautyStep, "sequences_per_second"))} sequences/s |");
        }
        if (train is not null)
        {
            Line($"| training on Beauty, the default recipe (`{BeautyBenchmarkRows.DefaultRecipe}` row) | {Count(BeautyBenchmarkResults.Number(train, "sequences_per_second"))} sequences/s, " +
                 $"{Fixed(BeautyBenchmarkResults.Number(train, "ms_per_step"), 1)} ms per optimizer step, {Fixed(BeautyBenchmarkResults.Number(train, "seconds_per_epoch"), 1)} s per epoch (validation included) |");
        }
        if (scoring is not null)
        {
            Line($"| scoring: the `{BeautyBenchmarkRows.DefaultRecipe}` model file | {Fixed(BeautyBenchmarkResults.Number(scoring, "model_file_mb"), 1)} MB, loaded in {Fixed(BeautyBenchmarkResults.Number(scoring, "load_seconds"), 2)} s " +
                 $"(catalog vectors {Fixed(BeautyBenchmarkResults.Number(scoring, "catalog_vectors_seconds"), 2)} s) |");
            Line($"| single user, top-{Count(BeautyBenchmarkResults.Number(scoring, "k"))} over {Count(BeautyBenchmarkResults.Number(scoring, "catalog_items"))} items ({Count(BeautyBenchmarkResults.Number(scoring, "threads"))} threads) | " +
                 $"PredictionEngine p50 {Fixed(BeautyBenchmarkResults.Number(scoring, "single_user", "prediction_engine", "p50_ms"), 2)} ms, p99 {Fixed(BeautyBenchmarkResults.Number(scoring, "single_user", "prediction_engine", "p99_ms"), 2)} ms; " +
                 $"`SrtModel.Recommend` p50 {Fixed(BeautyBenchmarkResults.Number(scoring, "single_user", "recommend", "p50_ms"), 2)} ms, p99 {Fixed(BeautyBenchmarkResults.Number(scoring, "single_user", "recommend", "p99_ms"), 2)} ms |");
            Line($"| batched, {Count(BeautyBenchmarkResults.Number(scoring, "users"))} test users | Transform {Count(BeautyBenchmarkResults.Number(scoring, "batched", "transform_users_per_second"))} users/s " +
                 $"({Count(BeautyBenchmarkResults.Number(scoring, "batched", "batch_size"))} histories per pass); `SrtModel.Recommend` {Count(BeautyBenchmarkResults.Number(scoring, "batched", "recommend_users_per_second"))} users/s |");
        }
        var rss = BeautyBenchmarkRows.All.Where(r => results.Train(r.Name) is not null)
            .Select(r => $"{r.Name} {Count(BeautyBenchmarkResults.Number(results.Train(r.Name), "peak_rss_mb"))} MB").ToList();
        if (rss.Count > 0) Line($"| peak RSS of each row's `srt train` process (training, test evaluation, saving) | {string.Join("; ", rss)} |");
        var machine = results.Speed?["machine"] ?? results.Rows.Values.Select(r => r["machine"]).FirstOrDefault();
        if (machine is not null)
        {
            Line($"| machine | {BeautyBenchmarkResults.Text(machine, "cpu")}, {Count(BeautyBenchmarkResults.Number(machine, "cores"))} cores, " +
                 $"{Fixed(BeautyBenchmarkResults.Number(machine, "memory_gib"), 1)} GiB; {BeautyBenchmarkResults.Text(machine, "os")}; {BeautyBenchmarkResults.Text(machine, "runtime")} |");
        }
        Line($"| date (UTC) | {(results.Speed is null ? "speed step not run yet" : $"speed step {BeautyBenchmarkResults.Text(results.Speed, "finished_utc")}")} |");
        Line();
    }

    private static void WriteProvenance(StringBuilder md, BeautyBenchmarkResults results)
    {
        void Line(string text = "") => md.Append(text).Append('\n');
        Line("### How these numbers were made");
        Line();
        var files = results.Rows.Values.ToList();
        if (results.Speed is not null) files.Add(results.Speed);
        if (files.Count == 0)
        {
            Line("No row has run yet.");
            Line();
            return;
        }
        Line("```bash");
        foreach (var command in files.Select(f => BeautyBenchmarkResults.Text(f, "benchmark_command")).Where(c => c is not null).Distinct())
            Line(command!);
        Line("```");
        Line();
        var started = files.Select(f => BeautyBenchmarkResults.Text(f, "started_utc")).Where(s => s is not null).Min();
        var finished = files.Select(f => BeautyBenchmarkResults.Text(f, "finished_utc")).Where(s => s is not null).Max();
        Line($"Run between {started} and {finished} UTC (results in `{BenchmarkSteps.DisplayPath(results.OutDir)}/`, one file per row). " +
             "Each row ran these child commands of the same `srt` executable:");
        Line();
        foreach (var (name, file) in BeautyBenchmarkRows.Names.Where(n => n == BeautyBenchmarkRows.Speed ? results.Speed is not null : results.Rows.ContainsKey(n))
                     .Select(n => (n, n == BeautyBenchmarkRows.Speed ? results.Speed! : results.Rows[n])))
        {
            var commands = (file["config"]?["commands"] as JsonObject)?.Select(c => "`srt " + string.Join(' ', (c.Value as JsonArray ?? new JsonArray())
                .Select(a => SrtChildProcess.Quote(DisplayArgument(a?.GetValue<string>() ?? "")))) + "`") ?? [];
            Line($"- {name} ({BeautyBenchmarkResults.Text(file, "started_utc")} to {BeautyBenchmarkResults.Text(file, "finished_utc")}, " +
                 $"{Fixed(BeautyBenchmarkResults.Number(file, "wall_seconds") / 60, 1)} min): {string.Join("; ", commands)}");
        }
        Line();
    }

    private static string DisplayArgument(string argument) => Path.IsPathFullyQualified(argument) ? BenchmarkSteps.DisplayPath(argument) : argument;

    private static string Difference(double? ours, double paper)
    {
        if (ours is null) return "not measured against";
        double delta = ours.Value - paper;
        if (Math.Round(delta, 4) == 0) return "equal to";
        return $"{Fixed(Math.Abs(delta), 4)} ({Fixed(Math.Abs(delta) / paper * 100, 1)}%) {(delta < 0 ? "below" : "above")}";
    }

    private static string Negatives(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) ? s! : Count(BeautyBenchmarkResults.Number(node));

    private static string Paper(double? value) => value is null ? NotPublished : Metric(value);

    private static string Metric(double? value) => Fixed(value, 4);

    private static string Fixed(double? value, int decimals) => value is double v && double.IsFinite(v) ? v.ToString("F" + decimals, _invariant) : "–";

    private static string Count(double? value) => value is double v && double.IsFinite(v) ? Math.Round(v).ToString("N0", _invariant) : "–";

    private static string Layers(double? layers) => $"{Count(layers)} layer{(layers == 1 ? "" : "s")}";

    private static int LineOf(string text, int index) => text.AsSpan(0, index).Count('\n') + 1;
}
