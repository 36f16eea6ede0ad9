using System.Collections.Concurrent;
using Aviary.Core.Model;
using Aviary.Metrics.Providers;
using Aviary.Metrics.Tests.Agreement;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// <c>type: datadog</c> against a local server that answers as Datadog's documented API does:
/// "Query timeseries points" (<c>GET /api/v1/query</c>, https://docs.datadoghq.com/api/latest/metrics/#query-timeseries-points)
/// and "Validate API key" (<c>GET /api/v1/validate</c>, https://docs.datadoghq.com/api/latest/authentication/#validate-api-key),
/// both authenticated by the <c>DD-API-KEY</c> and <c>DD-APPLICATION-KEY</c> headers (403 <c>{"errors":["Forbidden"]}</c>
/// otherwise). Secrets never appear in an answer.
/// </summary>
public sealed class DatadogProviderTests : IVendorApi
{
    private const string ApiKey = "api-key-s3cret";
    private const string AppKey = "app-key-s3cret";

    private readonly ConcurrentQueue<(string Path, IQueryCollection Query)> _requests = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
    private KestrelApp? _server;

    /// <summary>What /api/v1/query answers for an authenticated request: status and body.</summary>
    private (int Status, string Body) _answer = (200, """{"status":"ok","res_type":"time_series","series":[{"pointlist":[[1796644200000.0,97.5],[1796644260000.0,12.0]],"metric":"errors"}]}""");

    public async Task InitializeAsync() => _server = await KestrelApp.StartAsync(async context =>
    {
        _requests.Enqueue((context.Request.Path.Value ?? "", new QueryCollection(context.Request.Query.ToDictionary(kv => kv.Key, kv => kv.Value))));
        var authorized = context.Request.Headers["DD-API-KEY"] == ApiKey && context.Request.Headers["DD-APPLICATION-KEY"] == AppKey;
        context.Response.ContentType = "application/json";
        if (!authorized)
        {
            context.Response.StatusCode = 403;
            await context.Response.WriteAsync("""{"errors":["Forbidden"]}""");
            return;
        }
        switch (context.Request.Path.Value)
        {
            case "/api/v1/validate":
                await context.Response.WriteAsync("""{"valid":true}""");
                break;
            case "/api/v1/query":
                context.Response.StatusCode = _answer.Status;
                await context.Response.WriteAsync(_answer.Body);
                break;
            default:
                context.Response.StatusCode = 404;
                break;
        }
    });

    public string Type => "datadog";

    public TimeProvider Time => _time;

    public MetricTemplateProvider Redirect(MetricTemplateProvider corpus) => corpus with { Address = _server!.Url.ToString() };

    public IReadOnlyDictionary<string, string> Credentials { get; } =
        new Dictionary<string, string> { ["datadog_api_key"] = ApiKey, ["datadog_application_key"] = AppKey };

    Task IVendorApi.AnswerAsync(string target, double value)
    {
        _answer = (200,
        $$"""{"status":"ok","res_type":"time_series","series":[{"pointlist":[[1796644200000.0,{{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}}]],"metric":"q"}]}""");
        return Task.CompletedTask;
    }

    public IReadOnlyList<string> Received => [.. _requests.Where(r => r.Path == "/api/v1/query").Select(r => r.Query["query"].ToString())];

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    private IMetricQueryProvider Provider(string apiKey = ApiKey, string appKey = AppKey, string interval = "1m")
    {
        var created = MetricProviders.Create(new MetricProviderContext(
            new MetricTemplateProvider { Type = "datadog", Address = _server!.Url.ToString() },
            new Dictionary<string, string> { ["datadog_api_key"] = apiKey, ["datadog_application_key"] = appKey }, interval, _time));
        Assert.True(created.Succeeded, created.Error);
        return created.Value!;
    }

    [Fact]
    public async Task RunQuery_FirstPointOfTheFirstSeries_OverTenIntervals()
    {
        using var provider = Provider(interval: "30s");
        var result = await provider.RunQueryAsync("sum:errors{service:podinfo}.as_count()", CancellationToken.None);

        Assert.Equal(QueryResult.Of(97.5), result);
        var request = Assert.Single(_requests);
        Assert.Equal("/api/v1/query", request.Path);
        Assert.Equal("sum:errors{service:podinfo}.as_count()", request.Query["query"].ToString());
        var to = _time.GetUtcNow().ToUnixTimeSeconds();
        Assert.Equal(to.ToString(System.Globalization.CultureInfo.InvariantCulture), request.Query["to"].ToString());
        Assert.Equal((to - 300).ToString(System.Globalization.CultureInfo.InvariantCulture), request.Query["from"].ToString());
    }

    [Theory]
    [InlineData("""{"status":"ok","series":[]}""", "no series")]
    [InlineData("""{"status":"ok","series":[{"pointlist":[]}]}""", "without points")]
    [InlineData("""{"status":"ok","series":[{"pointlist":[[1796644200000.0,null]]}]}""", "no value")]
    public async Task RunQuery_NothingToRead_NoData(string body, string words)
    {
        _answer = (200, body);
        using var provider = Provider();
        var result = await provider.RunQueryAsync("avg:latency{*}", CancellationToken.None);

        Assert.Equal(QueryResultKind.NoData, result.Kind);
        Assert.Contains(words, result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(429, """{"errors":["Rate limit of 300 requests in 3600 seconds reached"]}""", "429 (rate limited)", "Rate limit of 300")]
    [InlineData(500, """{"errors":["Internal Server Error"]}""", "500 (server error)", "Internal Server Error")]
    [InlineData(400, """{"errors":["Error parsing query: unable to parse avg:: Rule 'scope_expr' didn't match"]}""", "400 (refused the query)", "Error parsing query")]
    public async Task RunQuery_ErrorAnswers_FailedWithDatadogsWords(int status, string body, string words, string datadogs)
    {
        _answer = (status, body);
        using var provider = Provider();
        var result = await provider.RunQueryAsync("avg::", CancellationToken.None);

        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains(words, result.Message, StringComparison.Ordinal);
        Assert.Contains(datadogs, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunQuery_BadKeys_FailedAndTheKeysAreNotInTheMessage()
    {
        using var provider = Provider(apiKey: "wrong-api-key", appKey: "wrong-app-key");
        var result = await provider.RunQueryAsync("avg:latency{*}", CancellationToken.None);

        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("403 (the credentials were refused)", result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-api-key", result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-app-key", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IsOnline_ValidateEndpointWithTheKeys()
    {
        using var good = Provider();
        Assert.True((await good.IsOnlineAsync(CancellationToken.None)).Succeeded);
        Assert.Equal("/api/v1/validate", Assert.Single(_requests).Path);

        using var bad = Provider(apiKey: "nope");
        var offline = await bad.IsOnlineAsync(CancellationToken.None);
        Assert.False(offline.Succeeded);
        Assert.Contains("403", offline.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_FailedNamingTheAddress()
    {
        var port = Aviary.TestKit.LocalTestBed.FreePort();
        var created = MetricProviders.Create(new MetricProviderContext(
            new MetricTemplateProvider { Type = "datadog", Address = $"http://127.0.0.1:{port}" },
            new Dictionary<string, string> { ["datadog_api_key"] = ApiKey, ["datadog_application_key"] = AppKey }, "1m", TimeProvider.System));
        using var provider = created.Value!;
        var result = await provider.RunQueryAsync("avg:latency{*}", CancellationToken.None);

        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains($"127.0.0.1:{port}", result.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be reached", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("datadog_api_key")]
    [InlineData("datadog_application_key")]
    public void Create_MissingKey_ErrorNamesIt(string missing)
    {
        var credentials = new Dictionary<string, string> { ["datadog_api_key"] = ApiKey, ["datadog_application_key"] = AppKey };
        credentials.Remove(missing);
        var created = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "datadog" }, credentials, "1m", TimeProvider.System));

        Assert.False(created.Succeeded);
        Assert.Equal($"datadog credentials do not contain {missing}", created.Error);
    }

    [Fact]
    public void Create_NoAddress_DatadogsDefault()
    {
        var created = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "datadog" },
            new Dictionary<string, string> { ["datadog_api_key"] = ApiKey, ["datadog_application_key"] = AppKey }, "1m", TimeProvider.System));
        Assert.True(created.Succeeded, created.Error);
        created.Value!.Dispose();
    }
}
