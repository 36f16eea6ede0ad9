using System.Globalization;
using System.Net;
using System.Text.Json;
using Aviary.Core.Abstractions;
using Aviary.Core.Primitives;

namespace Aviary.Metrics.Providers;

/// <summary>
/// <c>type: dynatrace</c>, as Flagger's Dynatrace provider: the metrics API v2,
/// <c>GET {address}/api/v2/metrics/query?metricSelector=&lt;query&gt;&amp;resolution=Inf&amp;from=…&amp;to=…</c> (milliseconds, ten
/// metric intervals back) with <c>Authorization: Api-Token &lt;dynatrace_token&gt;</c>; the answer is the first value of the
/// last data entry of the first result. No result, no data entry or a null value is no data. <c>spec.provider.address</c>
/// (the environment's URL) is required. <see cref="IsOnlineAsync"/> lists one metric (<c>/api/v2/metrics?pageSize=1</c>).
/// Errors carry Dynatrace's status and words, never the token.
/// </summary>
internal sealed class DynatraceProvider : IMetricQueryProvider
{
    public const string TypeName = "dynatrace";
    public const string TokenSecretKey = "dynatrace_token";

    private const int WindowIntervals = 10;

    private readonly HttpApi _api;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;

    private DynatraceProvider(HttpApi api, TimeSpan window, TimeProvider time)
    {
        _api = api;
        _window = window;
        _time = time;
    }

    public string Type => TypeName;

    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context)
    {
        var setup = new ProviderSetup(context, TypeName);
        var url = setup.Address(null, $"{TypeName} address is empty: set spec.provider.address to the environment's URL");
        var token = setup.Credential(TokenSecretKey);
        var interval = setup.Interval();
        if (setup.Error is { } error) return Outcome<IMetricQueryProvider>.Fail(error);
        var api = new HttpApi(TypeName, url, new Dictionary<string, string> { ["Authorization"] = "Api-Token " + token }, context.Timeout, context.Time);
        return new DynatraceProvider(api, interval * WindowIntervals, context.Time);
    }

    public async ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken)
    {
        var to = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var from = to - (long)_window.TotalMilliseconds;
        var path = "/api/v2/metrics/query?metricSelector=" + Uri.EscapeDataString(query) + "&resolution=Inf"
            + "&from=" + from.ToString(CultureInfo.InvariantCulture) + "&to=" + to.ToString(CultureInfo.InvariantCulture);
        var (status, body, error) = await _api.GetAsync(path, cancellationToken).ConfigureAwait(false);
        if (error is not null) return QueryResult.Failed(error);
        if (status != HttpStatusCode.OK) return QueryResult.Failed(_api.Refused(status, body));
        try
        {
            using var document = JsonDocument.Parse(body);
            if (!document.RootElement.TryGetProperty("result", out var results) || results.ValueKind != JsonValueKind.Array || results.GetArrayLength() == 0)
                return QueryResult.NoData($"{TypeName} query returned no result: {HttpApi.Trim(body)}");
            if (!results[0].TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array || data.GetArrayLength() == 0)
                return QueryResult.NoData($"{TypeName} query returned no data for {HttpApi.Trim(query)}");
            var last = data[data.GetArrayLength() - 1];
            if (!last.TryGetProperty("values", out var values) || values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0
                || values[0].ValueKind != JsonValueKind.Number)
                return QueryResult.NoData($"{TypeName} query's data has no value: {HttpApi.Trim(last.GetRawText())}");
            var value = values[0].GetDouble();
            return double.IsFinite(value) ? QueryResult.Of(value) : QueryResult.NoData($"{TypeName} query's value is {value}");
        }
        catch (JsonException e)
        {
            return QueryResult.Failed($"{TypeName} answered something that is not JSON ({e.Message}): {HttpApi.Trim(body)}");
        }
    }

    public async ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken)
    {
        var (status, body, error) = await _api.GetAsync("/api/v2/metrics?pageSize=1", cancellationToken).ConfigureAwait(false);
        if (error is not null) return Outcome.Fail(error);
        return status == HttpStatusCode.OK ? Outcome.Ok : Outcome.Fail(_api.Refused(status, body));
    }

    public void Dispose() => _api.Dispose();
}
