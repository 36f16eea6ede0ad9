using Aviary.Core.Model;
using Microsoft.Extensions.Primitives;
using Microsoft.AspNetCore.Http;

namespace Aviary.Routing.Proxy.Configuration;

/// <summary>
/// One compiled <see cref="AnalysisMatch"/>: every header and every query parameter condition must hold. A header named
/// <c>cookie</c> is matched against the whole Cookie header, as Istio does (Flagger's cookie-based A/B testing).
/// </summary>
internal sealed class RequestMatcher
{
    private readonly (string Name, StringCondition Condition)[] _headers;
    private readonly (string Name, StringCondition Condition)[] _query;

    private RequestMatcher((string, StringCondition)[] headers, (string, StringCondition)[] query)
    {
        _headers = headers;
        _query = query;
    }

    public bool IsMatch(IHeaderDictionary headers, string queryString)
    {
        foreach (var (name, condition) in _headers)
        {
            if (!headers.TryGetValue(name, out var values) || values.Count == 0) return false;
            if (!condition.IsMatch(Join(name, values))) return false;
        }
        foreach (var (name, condition) in _query)
        {
            if (QueryString.TryGetFirst(queryString, name) is not { } value || !condition.IsMatch(value)) return false;
        }
        return true;
    }

    // Several fields of one header are matched as one value, as Envoy joins them: "; " for cookies, ", " otherwise.
    private static string Join(string name, StringValues values) =>
        values.Count == 1 ? values[0] ?? "" :
        string.Join(string.Equals(name, "cookie", StringComparison.OrdinalIgnoreCase) ? "; " : ", ", values.ToArray());

    public static RequestMatcher? Create(AnalysisMatch match, string path, List<string> errors)
    {
        var before = errors.Count;
        if (match.SourceLabels is { Count: > 0 })
            errors.Add($"{path}.sourceLabels: the built-in router cannot match source labels");
        List<(string, StringCondition)> headers = [];
        foreach (var (name, header) in match.Headers ?? new Dictionary<string, HeaderMatch>())
        {
            var condition = StringCondition.Create(header?.Exact, header?.Prefix, header?.Suffix, header?.Regex, $"{path}.headers[{name}]", errors);
            if (string.IsNullOrWhiteSpace(name)) errors.Add($"{path}.headers: empty header name");
            else if (condition is not null) headers.Add((name, condition));
        }
        List<(string, StringCondition)> query = [];
        foreach (var (name, param) in match.QueryParams ?? new Dictionary<string, StringMatch>())
        {
            var condition = StringCondition.Create(param?.Exact, param?.Prefix, null, param?.Regex, $"{path}.queryParams[{name}]", errors);
            if (string.IsNullOrEmpty(name)) errors.Add($"{path}.queryParams: empty parameter name");
            else if (condition is not null) query.Add((name, condition));
        }
        return errors.Count == before ? new RequestMatcher([.. headers], [.. query]) : null;
    }
}
