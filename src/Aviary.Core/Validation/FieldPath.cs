using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Aviary.Core.Manifests;

namespace Aviary.Core.Validation;

/// <summary>Builds field paths such as <c>spec.analysis.metrics[1].name</c>.</summary>
public static partial class FieldPath
{
    public static string Property(string parent, string name)
    {
        if (SimpleKey().IsMatch(name)) return parent.Length == 0 ? name : $"{parent}.{name}";
        return $"{parent}[\"{name.Replace("\"", "\\\"", StringComparison.Ordinal)}\"]";
    }

    public static string Index(string parent, int index) => $"{parent}[{index}]";

    /// <summary>
    /// The source position of the field at <paramref name="path"/> in <paramref name="root"/>: its value's, else its
    /// key's, else that of the deepest field on the path that exists (a missing field is reported on its parent).
    /// </summary>
    public static SourcePosition? Locate(JsonNode root, string path, SourceMap positions)
    {
        JsonNode? node = root;
        var best = positions.Of(root);
        foreach (var segment in Segments(path))
        {
            JsonNode? next;
            SourcePosition? keyPosition = null;
            if (segment.Index is { } i && node is JsonArray array && i < array.Count) next = array[i];
            else if (segment.Name is { } name && node is JsonObject obj && obj.TryGetPropertyValue(name, out next))
                keyPosition = positions.OfKey(obj, name);
            else return best;
            best = positions.Of(next) ?? keyPosition ?? best;
            if (next is null) return best;
            node = next;
        }
        return best;
    }

    private readonly record struct Segment(string? Name, int? Index);

    /// <summary>Splits a path built by <see cref="Property"/> and <see cref="Index"/> back into its steps.</summary>
    private static List<Segment> Segments(string path)
    {
        var segments = new List<Segment>();
        var i = 0;
        while (i < path.Length)
        {
            if (path[i] == '.') { i++; continue; }
            if (path[i] == '[' && i + 1 < path.Length && path[i + 1] == '"')
            {
                var name = new System.Text.StringBuilder();
                var j = i + 2;
                for (; j < path.Length && path[j] != '"'; j++)
                {
                    if (path[j] == '\\' && j + 1 < path.Length) j++;
                    name.Append(path[j]);
                }
                segments.Add(new Segment(name.ToString(), null));
                i = Math.Min(path.Length, j + 2); // past '"]'
                continue;
            }
            if (path[i] == '[')
            {
                var close = path.IndexOf(']', i);
                if (close < 0) break;
                segments.Add(int.TryParse(path.AsSpan(i + 1, close - i - 1), System.Globalization.NumberStyles.None,
                    System.Globalization.CultureInfo.InvariantCulture, out var index) ? new Segment(null, index) : new Segment(null, null));
                i = close + 1;
                continue;
            }
            // A key with dots ("app.kubernetes.io/name", which Property leaves unquoted) is split here; the lookup
            // then stops at its parent, which is still a useful position.
            var end = i;
            while (end < path.Length && path[end] is not ('[' or '.')) end++;
            segments.Add(new Segment(path[i..end], null));
            i = end;
        }
        return segments;
    }

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$")]
    private static partial Regex SimpleKey();
}
