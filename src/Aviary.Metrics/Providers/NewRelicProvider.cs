using System.Globalization;
using System.Net;
using System.Text.Json;
using Aviary.Core.Abstractions;
using Aviary.Core.Primitives;

namespace Aviary.Metrics.Providers;

/// <summary>
/// <c>type: newrelic</c>, as Flagger's New Relic provider: the Insights query API,
/// <c>GET {address}/v1/accounts/{newrelic_account_id}/query?nrql=&lt;query&gt; SINCE &lt;interval&gt; seconds ago</c> with the
/// <c>X-Query-Key</c> header from the secret's <c>newrelic_query_key</c>; the answer is <c>results[0].result</c>, and
/// anything else (no result, several, a null) is no data. The address defaults to <c>https://insights-api.newrelic.com</c>.
/// <see cref="IsOnlineAsync"/> runs <c>SELECT * FROM Metric</c>. Errors carry New Relic's status and words, never the key.
/// </summary>
internal sealed class NewRelicProvider : IMetricQueryProvider
{
    public const string TypeName = "newrelic";
    public const string DefaultAddress = "https://insights-api.newrelic.com";
    public const string QueryKeySecretKey = "newrelic_query_key";
    public const string AccountIdSecretKey = "newrelic_account_id";

    private readonly HttpApi _api;
    private readonly string _path;
    private readonly long _sinceSeconds;

    private NewRelicProvider(HttpApi api, string accountId, long sinceSeconds)
    {
        _api = api;
        _path = $"/v1/accounts/{Uri.EscapeDataString(accountId)}/query";
        _sinceSeconds = sinceSeconds;
    }

    public string Type => TypeName;

    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context)
    {
        var setup = new ProviderSetup(context, TypeName);
        var url = setup.Address(DefaultAddress);
        var account = setup.Credential(AccountIdSecretKey);
        var key = setup.Credential(QueryKeySecretKey);
        var interval = setup.Interval();
        if (setup.Error is { } error) return Outcome<IMetricQueryProvider>.Fail(error);
        var api = new HttpApi(TypeName, url, new Dictionary<string, string> { ["X-Query-Key"] = key }, context.Timeout, context.Time);
        return new NewRelicProvider(api, account, (long)interval.TotalSeconds);
    }

    private string QueryPath(string nrql) =>
        _path + "?nrql=" + Uri.EscapeDataString($"{nrql} SINCE {_sinceSeconds.ToString(CultureInfo.InvariantCulture)} seconds ago");

    public async ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken)
    {
        var (status, body, error) = await _api.GetAsync(QueryPath(query), cancellationToken).ConfigureAwait(false);
        if (error is not null) return QueryResult.Failed(error);
        if (status != HttpStatusCode.OK) return QueryResult.Failed(_api.Refused(status, body));
        try
        {
            using var document = JsonDocument.Parse(body);
            if (!document.RootElement.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array || results.GetArrayLength() != 1)
                return QueryResult.NoData($"{TypeName} query did not return exactly one result: {HttpApi.Trim(body)}");
            if (!results[0].TryGetProperty("result", out var result) || result.ValueKind != JsonValueKind.Number)
                return QueryResult.NoData($"{TypeName} query's result has no value: {HttpApi.Trim(body)}");
            var value = result.GetDouble();
            return double.IsFinite(value) ? QueryResult.Of(value) : QueryResult.NoData($"{TypeName} query's result is {value}");
        }
        catch (JsonException e)
        {
            return QueryResult.Failed($"{TypeName} answered something that is not JSON ({e.Message}): {HttpApi.Trim(body)}");
        }
    }

    public async ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken)
    {
        var (status, body, error) = await _api.GetAsync(QueryPath("SELECT * FROM Metric"), cancellationToken).ConfigureAwait(false);
        if (error is not null) return Outcome.Fail(error);
        return status == HttpStatusCode.OK ? Outcome.Ok : Outcome.Fail(_api.Refused(status, body));
    }

    public void Dispose() => _api.Dispose();
}
