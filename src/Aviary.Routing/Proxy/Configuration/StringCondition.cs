using System.Text.RegularExpressions;

namespace Aviary.Routing.Proxy.Configuration;

/// <summary>
/// One compiled string condition of an A/B match, with Istio's semantics: exact, prefix and suffix compare ordinally
/// (case-sensitive); a regex must match the whole value (RE2/Envoy style, run by the non-backtracking engine so a
/// pattern cannot blow up); no operator at all only checks that the value is present.
/// </summary>
internal sealed class StringCondition
{
    private enum Kind { Present, Exact, Prefix, Suffix, Regex }

    private readonly Kind _kind;
    private readonly string _value;
    private readonly Regex? _regex;

    private StringCondition(Kind kind, string value, Regex? regex)
    {
        _kind = kind;
        _value = value;
        _regex = regex;
    }

    public bool IsMatch(string value) => _kind switch
    {
        Kind.Present => true,
        Kind.Exact => string.Equals(value, _value, StringComparison.Ordinal),
        Kind.Prefix => value.StartsWith(_value, StringComparison.Ordinal),
        Kind.Suffix => value.EndsWith(_value, StringComparison.Ordinal),
        _ => _regex!.IsMatch(value),
    };

    /// <summary>Compiles a condition; null with <paramref name="errors"/> filled when it is invalid.</summary>
    public static StringCondition? Create(string? exact, string? prefix, string? suffix, string? regex, string path, List<string> errors)
    {
        var set = (exact is null ? 0 : 1) + (prefix is null ? 0 : 1) + (suffix is null ? 0 : 1) + (regex is null ? 0 : 1);
        if (set > 1)
        {
            errors.Add($"{path}: set only one of exact, prefix, suffix and regex");
            return null;
        }
        if (exact is not null) return new(Kind.Exact, exact, null);
        if (prefix is not null) return new(Kind.Prefix, prefix, null);
        if (suffix is not null) return new(Kind.Suffix, suffix, null);
        if (regex is null) return new(Kind.Present, "", null);
        try
        {
            var compiled = new Regex(@"\A(?:" + regex + @")\z", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
            return new(Kind.Regex, regex, compiled);
        }
        catch (ArgumentException e)
        {
            errors.Add($"{path}.regex: invalid regular expression: {e.Message}");
            return null;
        }
    }
}
