namespace Aviary.Cli;

/// <summary>Plain, kubectl-style column tables.</summary>
internal static class Tables
{
    public static void Write(TextWriter output, IReadOnlyList<string[]> rows)
    {
        if (rows.Count == 0) return;
        var widths = new int[rows.Max(r => r.Length)];
        foreach (var row in rows)
            for (var i = 0; i < row.Length; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        foreach (var row in rows)
        {
            var cells = row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i] + 3));
            output.WriteLine(string.Concat(cells).TrimEnd());
        }
    }
}
