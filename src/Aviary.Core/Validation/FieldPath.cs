using System.Text.RegularExpressions;

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

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$")]
    private static partial Regex SimpleKey();
}
