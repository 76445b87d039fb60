namespace Microsoft.ML.Srt.Training;

public sealed partial class SrtTrainer
{
    public sealed partial class Options
    {
        // ---- Output of the fitted SrtTransformer ----

        /// <summary>The transformer's input column: each row's history, a vector of text item ids (or text of ids separated by spaces or commas). Default <c>History</c>.</summary>
        public string HistoryColumnName = "History";

        /// <summary>The transformer's output column of recommended item ids (vector of text, best first). Default <c>RecommendedItems</c>.</summary>
        public string RecommendedItemsColumnName = "RecommendedItems";

        /// <summary>The transformer's output column of scores (vector of Single, same order). Default <c>RecommendationScores</c>.</summary>
        public string ScoresColumnName = "RecommendationScores";

        /// <summary>Recommendations per row of the transformer. Default 10.</summary>
        public int TopK = 10;

        /// <summary>Leave items already in a row's history out of its recommendations. Default false.</summary>
        public bool ExcludeHistory;

        /// <summary>The transformer's input column of candidate item ids to score (text, or vector of text). Default null: none.</summary>
        public string? CandidateColumnName;

        /// <summary>The transformer's output column of candidate scores (Single, or vector of Single). Default <c>CandidateScore</c>.</summary>
        public string CandidateScoreColumnName = "CandidateScore";

        /// <summary>Rows the transformer scores per forward pass. Default 256.</summary>
        public int ScoringBatchSize = 256;
    }
}
