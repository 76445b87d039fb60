namespace Microsoft.ML.Srt.Data;

/// <summary>Notes that every catalog reader adds, so that items without text are never a silent surprise.</summary>
internal static class CatalogNotes
{
    public static void NoteItemsWithoutText(ItemCatalog catalog, string source, LoadReport report)
    {
        if (catalog.TextFields.Count == 0) return;
        int empty = 0;
        for (int i = 0; i < catalog.Count; i++)
        {
            bool any = false;
            for (int f = 0; f < catalog.TextFields.Count && !any; f++) any = catalog.GetText(i, f).Length > 0;
            if (!any) empty++;
        }
        if (empty > 0) report.Note($"{source}: {empty} item(s) have no text (every text field is empty); they are kept.");
    }
}
