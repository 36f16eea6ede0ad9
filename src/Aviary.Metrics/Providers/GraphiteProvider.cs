using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aviary.Core.Abstractions;

namespace Aviary.Metrics.Providers;

/// <summary>
/// <c>type: graphite</c>, as Flagger's Graphite provider: the query is the parameters of Graphite's render API
/// (<c>target=…&amp;from=-1min</c>, whitespace collapsed), sent as <c>GET {address}/render?…&amp;format=json</c>, with basic auth
/// from the secret's <c>username</c> and <c>password</c> when there is a <c>secretRef</c>; the answer is the last non-null
/// datapoint over all returned series, and none is no data. <see cref="IsOnlineAsync"/> renders <c>target=test</c> (no data
/// counts as online). Errors carry Graphite's status and words, never the password.
/// </summary>
internal sealed partial class GraphiteProvider : IMetricQueryProvider
{
    public const string TypeName = "graphite";

    private readonly HttpApi _api;

    private GraphiteProvider(HttpApi api) => _api = api;

    public string Type => TypeName;

    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context)
    {
        var setup = new ProviderSetup(context, TypeName);
        var url = setup.Address(null, $"{TypeName} address {context.Spec.Address} is not a valid URL");
        var headers = new Dictionary<string, string>();
        if (context.Spec.SecretRef is not null)
        {
            var user = setup.Credential("username", $"{TypeName} credentials do not contain a username");
            var password = setup.Credential("password", $"{TypeName} credentials do not contain a password");
            headers["Authorization"] = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        }
        if (setup.Error is { } error) return Outcome<IMetricQueryProvider>.Fail(error);
        return new GraphiteProvider(new HttpApi(TypeName, url, headers, context.Timeout, context.Time));
    }

    /// <summary>The render path for a query: its parameters (whitespace collapsed) with <c>format=json</c>, re-encoded.</summary>
    internal static string RenderPath(string query)
    {
        var parameters = Whitespace().Replace(query.Trim(), " ").Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Select(p => (Name: Unescape(p[0]), Value: p.Length > 1 ? Unescape(p[1]) : ""))
            .Where(p => p.Name != "format")
            .Append((Name: "format", Value: "json"));
        return "/render?" + string.Join("&", parameters.Select(p => $"{Uri.EscapeDataString(p.Name)}={Uri.EscapeDataString(p.Value)}"));

        static string Unescape(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));
    }

    public async ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken)
    {
        var (status, body, error) = await _api.GetAsync(RenderPath(query), cancellationToken).ConfigureAwait(false);
        if (error is not null) return QueryResult.Failed(error);
        if (status != HttpStatusCode.OK) return QueryResult.Failed(_api.Refused(status, body));
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                return QueryResult.Failed($"{TypeName} answered something that is not a list of series: {HttpApi.Trim(body)}");
            double? last = null;
            foreach (var series in document.RootElement.EnumerateArray())
            {
                if (!series.TryGetProperty("datapoints", out var points) || points.ValueKind != JsonValueKind.Array) continue;
                foreach (var point in points.EnumerateArray())
                {
                    if (point.ValueKind != JsonValueKind.Array || point.GetArrayLength() != 2) continue;
                    var value = point[0];
                    if (value.ValueKind == JsonValueKind.Number) last = value.GetDouble();
                    else if (value.ValueKind == JsonValueKind.String && double.TryParse(value.GetString(), System.Globalization.NumberStyles.Float,
                                 System.Globalization.CultureInfo.InvariantCulture, out var parsed)) last = parsed;
                }
            }
            return last is { } v && double.IsFinite(v) ? QueryResult.Of(v) : QueryResult.NoData($"{TypeName} query returned no datapoint with a value");
        }
        catch (JsonException e)
        {
            return QueryResult.Failed($"{TypeName} answered something that is not JSON ({e.Message}): {HttpApi.Trim(body)}");
        }
    }

    public async ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken)
    {
        var result = await RunQueryAsync("target=test", cancellationToken).ConfigureAwait(false);
        return result.Kind == QueryResultKind.Error ? Outcome.Fail(result.Message!) : Outcome.Ok;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    public void Dispose() => _api.Dispose();
}
