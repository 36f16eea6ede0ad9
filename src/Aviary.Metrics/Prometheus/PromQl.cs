using System.Text;

namespace Aviary.Metrics.Prometheus;

/// <summary>PromQL text helpers.</summary>
public static class PromQl
{
    /// <summary>
    /// A query on one line, as Flagger sends it: every run of whitespace becomes one space and the ends are trimmed.
    /// Unlike Flagger, whitespace inside string literals is kept and <c>#</c> comments are removed first (otherwise a
    /// comment would swallow the rest of a query once its lines are joined).
    /// </summary>
    public static string Normalize(string query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var text = new StringBuilder(query.Length);
        var pendingSpace = false;
        for (var i = 0; i < query.Length; i++)
        {
            var c = query[i];
            if (c is '"' or '\'' or '`')
            {
                if (pendingSpace && text.Length > 0) text.Append(' ');
                pendingSpace = false;
                var end = EndOfString(query, i);
                text.Append(query, i, end - i);
                i = end - 1;
            }
            else if (c == '#')
            {
                while (i + 1 < query.Length && query[i + 1] != '\n') i++;
                pendingSpace = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                pendingSpace = true;
            }
            else
            {
                if (pendingSpace && text.Length > 0) text.Append(' ');
                pendingSpace = false;
                text.Append(c);
            }
        }
        return text.ToString();
    }

    /// <summary>The index after the literal that starts at <paramref name="start"/> (the end of the text if unclosed).</summary>
    private static int EndOfString(string query, int start)
    {
        var quote = query[start];
        for (var i = start + 1; i < query.Length; i++)
        {
            if (query[i] == '\\' && quote != '`') i++;
            else if (query[i] == quote) return i + 1;
        }
        return query.Length;
    }
}
