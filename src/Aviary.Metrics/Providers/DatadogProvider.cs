using System.Globalization;
using System.Net;
using System.Text.Json;
using Aviary.Core.Abstractions;
using Aviary.Core.Primitives;

namespace Aviary.Metrics.Providers;

/// <summary>
/// <c>type: datadog</c>, as Flagger's Datadog provider: <c>GET {address}/api/v1/query?query=…&amp;from=…&amp;to=…</c> (Datadog's
/// "query timeseries points", v1) with the <c>DD-API-KEY</c> and <c>DD-APPLICATION-KEY</c> headers from the secret's
/// <c>datadog_api_key</c> and <c>datadog_application_key</c>; the window reaches back ten metric intervals; the answer is
/// the first point of the first series (the oldest: the newest bucket is usually incomplete). No series, no point or a
/// null value is no data. The address defaults to <c>https://api.datadoghq.com</c>. <see cref="IsOnlineAsync"/> asks
/// <c>/api/v1/validate</c>. Errors carry Datadog's status and words, never the keys.
/// </summary>
internal sealed class DatadogProvider : IMetricQueryProvider
{
    public const string TypeName = "datadog";
    public const string DefaultAddress = "https://api.datadoghq.com";
    public const string ApiKeySecretKey = "datadog_api_key";
    public const string ApplicationKeySecretKey = "datadog_application_key";

    private const int WindowIntervals = 10;

    private readonly HttpApi _api;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;

    private DatadogProvider(HttpApi api, TimeSpan window, TimeProvider time)
    {
        _api = api;
        _window = window;
        _time = time;
    }

    public string Type => TypeName;

    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context)
    {
        var setup = new ProviderSetup(context, TypeName);
        var url = setup.Address(DefaultAddress);
        var apiKey = setup.Credential(ApiKeySecretKey);
        var applicationKey = setup.Credential(ApplicationKeySecretKey);
        var interval = setup.Interval();
        if (setup.Error is { } error) return Outcome<IMetricQueryProvider>.Fail(error);
        var headers = new Dictionary<string, string> { ["DD-API-KEY"] = apiKey, ["DD-APPLICATION-KEY"] = applicationKey };
        return new DatadogProvider(new HttpApi(TypeName, url, headers, context.Timeout, context.Time), interval * WindowIntervals, context.Time);
    }

    public async ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken)
    {
        var to = _time.GetUtcNow().ToUnixTimeSeconds();
        var from = to - (long)_window.TotalSeconds;
        var path = "/api/v1/query?query=" + Uri.EscapeDataString(query)
            + "&from=" + from.ToString(CultureInfo.InvariantCulture) + "&to=" + to.ToString(CultureInfo.InvariantCulture);
        var (status, body, error) = await _api.GetAsync(path, cancellationToken).ConfigureAwait(false);
        if (error is not null) return QueryResult.Failed(error);
        if (status != HttpStatusCode.OK) return QueryResult.Failed(_api.Refused(status, body));
        try
        {
            using var document = JsonDocument.Parse(body);
            if (!document.RootElement.TryGetProperty("series", out var series) || series.ValueKind != JsonValueKind.Array || series.GetArrayLength() == 0)
                return QueryResult.NoData($"{TypeName} query returned no series: {HttpApi.Trim(body)}");
            var first = series[0];
            if (!first.TryGetProperty("pointlist", out var points) || points.ValueKind != JsonValueKind.Array || points.GetArrayLength() == 0)
                return QueryResult.NoData($"{TypeName} query returned a series without points");
            var point = points[0];
            if (point.ValueKind != JsonValueKind.Array || point.GetArrayLength() < 2 || point[1].ValueKind != JsonValueKind.Number)
                return QueryResult.NoData($"{TypeName} query's first point has no value: {point.GetRawText()}");
            var value = point[1].GetDouble();
            return double.IsFinite(value) ? QueryResult.Of(value) : QueryResult.NoData($"{TypeName} query's first point is {value}");
        }
        catch (JsonException e)
        {
            return QueryResult.Failed($"{TypeName} answered something that is not JSON ({e.Message}): {HttpApi.Trim(body)}");
        }
    }

    public async ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken)
    {
        var (status, body, error) = await _api.GetAsync("/api/v1/validate", cancellationToken).ConfigureAwait(false);
        if (error is not null) return Outcome.Fail(error);
        return status == HttpStatusCode.OK ? Outcome.Ok : Outcome.Fail(_api.Refused(status, body));
    }

    public void Dispose() => _api.Dispose();
}
