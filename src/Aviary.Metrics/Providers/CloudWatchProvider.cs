using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Primitives;

namespace Aviary.Metrics.Providers;

/// <summary>
/// <c>type: cloudwatch</c>, as Flagger's CloudWatch provider: the query is a JSON array of <c>MetricDataQuery</c>
/// objects, sent to <c>GetMetricData</c> over ten metric intervals with <c>MaxDatapoints: 20</c>; the answer is the first
/// value of the first result, and no result or no value is no data. <c>spec.provider.region</c> is required; the endpoint
/// is <c>https://monitoring.&lt;region&gt;.amazonaws.com</c> unless <c>spec.provider.address</c> names another. Requests use
/// CloudWatch's JSON protocol, signed with <see cref="SigV4"/> (the AWS SDK is not available here). Credentials come from
/// the secret's <c>aws_access_key_id</c>, <c>aws_secret_access_key</c> (and <c>aws_session_token</c>), else from the
/// environment's <c>AWS_ACCESS_KEY_ID</c>, <c>AWS_SECRET_ACCESS_KEY</c>, <c>AWS_SESSION_TOKEN</c> (Flagger uses the SDK's
/// default chain, of which this is the first link). <see cref="IsOnlineAsync"/> sends an empty query, as Flagger: a 400
/// means CloudWatch answered and the credentials were accepted.
/// </summary>
internal sealed class CloudWatchProvider : IMetricQueryProvider
{
    public const string TypeName = "cloudwatch";
    private const string Target = "GraniteServiceVersion20100801.GetMetricData";
    private const int WindowIntervals = 10;

    private readonly HttpApi _api;
    private readonly Uri _endpoint;
    private readonly string _region;
    private readonly AwsCredentials _credentials;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;

    private CloudWatchProvider(HttpApi api, Uri endpoint, string region, AwsCredentials credentials, TimeSpan window, TimeProvider time)
    {
        _api = api;
        _endpoint = endpoint;
        _region = region;
        _credentials = credentials;
        _window = window;
        _time = time;
    }

    public string Type => TypeName;

    /// <param name="environment">Reads an environment variable (the process's by default).</param>
    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var region = context.Spec.Region?.Trim();
        if (string.IsNullOrEmpty(region)) return Outcome<IMetricQueryProvider>.Fail($"{TypeName}: region not specified (spec.provider.region)");
        var setup = new ProviderSetup(context, TypeName);
        var url = setup.Address($"https://monitoring.{region}.amazonaws.com");
        var interval = setup.Interval();
        if (setup.Error is { } error) return Outcome<IMetricQueryProvider>.Fail(error);
        var id = context.Credentials.GetValueOrDefault("aws_access_key_id") ?? environment("AWS_ACCESS_KEY_ID");
        var secret = context.Credentials.GetValueOrDefault("aws_secret_access_key") ?? environment("AWS_SECRET_ACCESS_KEY");
        var token = context.Credentials.GetValueOrDefault("aws_session_token") ?? environment("AWS_SESSION_TOKEN");
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(secret))
            return Outcome<IMetricQueryProvider>.Fail($"{TypeName}: no AWS credentials (secret keys aws_access_key_id and aws_secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
        var api = new HttpApi(TypeName, url, new Dictionary<string, string>(), context.Timeout, context.Time);
        return new CloudWatchProvider(api, url, region, new AwsCredentials(id, secret, string.IsNullOrEmpty(token) ? null : token), interval * WindowIntervals, context.Time);
    }

    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context) => Create(context, null);

    public async ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken)
    {
        JsonArray queries;
        try
        {
            queries = JsonNode.Parse(query) as JsonArray ?? throw new JsonException("not a JSON array");
        }
        catch (JsonException e)
        {
            return QueryResult.Failed($"{TypeName} query is not a JSON array of MetricDataQuery objects: {e.Message}");
        }
        var end = _time.GetUtcNow();
        var body = new JsonObject
        {
            ["MetricDataQueries"] = queries,
            ["StartTime"] = (end - _window).ToUnixTimeSeconds(),
            ["EndTime"] = end.ToUnixTimeSeconds(),
            ["MaxDatapoints"] = 20,
        };
        var (status, answer, error) = await CallAsync(body.ToJsonString(), cancellationToken).ConfigureAwait(false);
        if (error is not null) return QueryResult.Failed(error);
        if (status != HttpStatusCode.OK) return QueryResult.Failed(_api.Refused(status, Message(answer)));
        try
        {
            using var document = JsonDocument.Parse(answer);
            if (!document.RootElement.TryGetProperty("MetricDataResults", out var results) || results.ValueKind != JsonValueKind.Array || results.GetArrayLength() == 0)
                return QueryResult.NoData($"{TypeName} returned no MetricDataResults");
            if (!results[0].TryGetProperty("Values", out var values) || values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0
                || values[0].ValueKind != JsonValueKind.Number)
                return QueryResult.NoData($"{TypeName} returned no values for {HttpApi.Trim(results[0].GetRawText())}");
            return QueryResult.Of(values[0].GetDouble());
        }
        catch (JsonException e)
        {
            return QueryResult.Failed($"{TypeName} answered something that is not JSON ({e.Message}): {HttpApi.Trim(answer)}");
        }
    }

    public async ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken)
    {
        var (status, answer, error) = await CallAsync("""{"MetricDataQueries":[],"StartTime":0,"EndTime":0}""", cancellationToken).ConfigureAwait(false);
        if (error is not null) return Outcome.Fail(error);
        // An empty query is invalid: CloudWatch answering 400 (not 403) shows it is there and the credentials are good.
        return status is HttpStatusCode.OK or HttpStatusCode.BadRequest ? Outcome.Ok : Outcome.Fail(_api.Refused(status, Message(answer)));
    }

    private Task<(HttpStatusCode Status, string Body, string? Error)> CallAsync(string json, CancellationToken cancellationToken)
    {
        var payload = Encoding.UTF8.GetBytes(json);
        var headers = new List<KeyValuePair<string, string>>
        {
            new("Host", _endpoint.IsDefaultPort ? _endpoint.Host : $"{_endpoint.Host}:{_endpoint.Port.ToString(CultureInfo.InvariantCulture)}"),
            new("Content-Type", "application/x-amz-json-1.0"),
            new("X-Amz-Target", Target),
        };
        var signed = SigV4.Sign("POST", _endpoint.AbsolutePath, "", headers, payload, _region, "monitoring", _credentials, _time.GetUtcNow());
        return _api.PostAsync("", payload, "application/x-amz-json-1.0",
            [.. headers.Where(h => h.Key != "Host" && h.Key != "Content-Type"), .. signed], cancellationToken);
    }

    /// <summary>CloudWatch's JSON errors: <c>{"__type":"…#InvalidParameterValueException","message":"…"}</c>.</summary>
    private static string Message(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var type = document.RootElement.TryGetProperty("__type", out var t) ? t.GetString()?.Split('#').Last() : null;
            var message = document.RootElement.TryGetProperty("message", out var m) ? m.GetString()
                : document.RootElement.TryGetProperty("Message", out var m2) ? m2.GetString() : null;
            if (type is not null || message is not null) return $"{type}: {message}";
        }
        catch (JsonException)
        {
        }
        return body;
    }

    public void Dispose() => _api.Dispose();
}
