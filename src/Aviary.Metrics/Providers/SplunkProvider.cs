using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Aviary.Core.Abstractions;

namespace Aviary.Metrics.Providers;

/// <summary>
/// <c>type: splunk</c> (Splunk Observability Cloud, formerly SignalFx), as Flagger's Splunk provider: the query is a
/// SignalFlow program executed over the last ten metric intervals with <c>immediate</c> set, authenticated with the
/// <c>X-SF-Token</c> header from the secret's <c>sf_token_key</c>; the answer is the last non-null value of the one time
/// series it returns (several series are an error, none is no data). Flagger runs it over SignalFlow's WebSocket; Aviary
/// uses the same API's HTTP form, <c>POST {stream}/v2/signalflow/execute</c>, whose answer is a stream of server-sent
/// events (<c>control-message</c>, <c>metadata</c>, <c>data</c> with <c>{"data":[{"tsId":…,"value":…}]}</c>, <c>error</c>).
/// <c>spec.provider.address</c> is required; as in Flagger, an <c>api.</c> host is queried at its <c>stream.</c> twin
/// and <see cref="IsOnlineAsync"/> asks the API host's <c>/v2/metric?limit=1</c>. Errors never carry the token.
/// </summary>
internal sealed class SplunkProvider : IMetricQueryProvider
{
    public const string TypeName = "splunk";
    public const string TokenSecretKey = "sf_token_key";

    private const int WindowIntervals = 10;

    private readonly HttpApi _stream;
    private readonly HttpApi _api;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;

    private SplunkProvider(HttpApi stream, HttpApi api, TimeSpan window, TimeProvider time)
    {
        _stream = stream;
        _api = api;
        _window = window;
        _time = time;
    }

    public string Type => TypeName;

    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context)
    {
        var setup = new ProviderSetup(context, TypeName);
        var url = setup.Address(null, $"{TypeName} endpoint is not set: set spec.provider.address (e.g. https://api.us1.signalfx.com)");
        var token = setup.Credential(TokenSecretKey);
        var interval = setup.Interval();
        if (setup.Error is { } error) return Outcome<IMetricQueryProvider>.Fail(error);
        var headers = new Dictionary<string, string> { ["X-SF-Token"] = token };
        return new SplunkProvider(
            new HttpApi(TypeName, WithHostPrefix(url, "api.", "stream."), headers, context.Timeout, context.Time),
            new HttpApi(TypeName, WithHostPrefix(url, "stream.", "api."), headers, context.Timeout, context.Time),
            interval * WindowIntervals, context.Time);
    }

    /// <summary><paramref name="url"/> with a host starting <paramref name="from"/> starting <paramref name="to"/> instead.</summary>
    private static Uri WithHostPrefix(Uri url, string from, string to) =>
        url.Host.StartsWith(from, StringComparison.OrdinalIgnoreCase) ? new UriBuilder(url) { Host = to + url.Host[from.Length..] }.Uri : url;

    public async ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken)
    {
        var stop = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var start = stop - (long)_window.TotalMilliseconds;
        var path = "/v2/signalflow/execute?start=" + start.ToString(CultureInfo.InvariantCulture) + "&stop=" + stop.ToString(CultureInfo.InvariantCulture)
            + "&immediate=true";
        var (status, body, error) = await _stream.PostAsync(path, Encoding.UTF8.GetBytes(query), "text/plain", [], cancellationToken).ConfigureAwait(false);
        if (error is not null) return QueryResult.Failed(error);
        if (status != HttpStatusCode.OK) return QueryResult.Failed(_stream.Refused(status, body));
        var last = new Dictionary<string, double>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, data) in Events(body))
            {
                using var document = JsonDocument.Parse(data);
                var root = document.RootElement;
                if (name == "error")
                    return QueryResult.Failed($"{TypeName} query failed: {HttpApi.Trim(root.TryGetProperty("message", out var m) ? m.ToString() : data)}");
                if (name != "data" || !root.TryGetProperty("data", out var points) || points.ValueKind != JsonValueKind.Array) continue;
                foreach (var point in points.EnumerateArray())
                {
                    // A null value is a gap, dropped as Flagger drops it.
                    if (!point.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.Number) continue;
                    last[point.TryGetProperty("tsId", out var id) ? id.ToString() : ""] = value.GetDouble();
                }
            }
        }
        catch (JsonException e)
        {
            return QueryResult.Failed($"{TypeName} answered an event that is not JSON ({e.Message}): {HttpApi.Trim(body)}");
        }
        return last.Count switch
        {
            0 => QueryResult.NoData($"{TypeName} query returned no values"),
            1 => QueryResult.Of(last.Values.Single()),
            var n => QueryResult.Failed($"{TypeName} query returned {n.ToString(CultureInfo.InvariantCulture)} time series; it must return one value"),
        };
    }

    /// <summary>The events of a server-sent event stream: each one's name (default <c>message</c>) and its data lines joined.</summary>
    internal static IEnumerable<(string Name, string Data)> Events(string stream)
    {
        string name = "message";
        var data = new StringBuilder();
        foreach (var raw in stream.ReplaceLineEndings("\n").Split('\n').Append(""))
        {
            if (raw.Length == 0)
            {
                if (data.Length > 0) yield return (name, data.ToString());
                name = "message";
                data.Clear();
                continue;
            }
            if (raw.StartsWith(':')) continue;
            var colon = raw.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? raw : raw[..colon];
            var value = colon < 0 ? "" : raw[(colon + 1)..].TrimStart(' ');
            if (field == "event") name = value;
            else if (field == "data") data.Append(data.Length > 0 ? "\n" : "").Append(value);
        }
    }

    public async ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken)
    {
        var (status, body, error) = await _api.GetAsync("/v2/metric?limit=1", cancellationToken).ConfigureAwait(false);
        if (error is not null) return Outcome.Fail(error);
        return status == HttpStatusCode.OK ? Outcome.Ok : Outcome.Fail(_api.Refused(status, body));
    }

    public void Dispose()
    {
        _stream.Dispose();
        _api.Dispose();
    }
}
