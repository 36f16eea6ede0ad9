using System.Globalization;
using Aviary.Core.Model;
using Aviary.Metrics.Providers;
using Aviary.Metrics.Tests.Agreement;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// <c>type: dynatrace</c> against a local server that answers as Dynatrace's documented metrics API v2 does
/// (https://docs.dynatrace.com/docs/dynatrace-api/environment-api/metric-v2/get-data-points): <c>GET /api/v2/metrics/query</c>
/// with <c>Authorization: Api-Token …</c>, <c>{"totalCount":…,"result":[{"metricId":…,"data":[{"timestamps":[…],"values":[…]}]}]}</c>,
/// and 401 <c>{"error":{"code":401,"message":"…"}}</c> for a bad token. Secrets never appear in an answer.
/// </summary>
public sealed class DynatraceProviderTests : IVendorApi
{
    private const string Token = "dt0c01.s3cret";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
    private readonly List<IQueryCollection> _queries = [];
    private (int Status, string Body) _answer = (200,
        """{"totalCount":1,"nextPageKey":null,"resolution":"Inf","result":[{"metricId":"builtin:service.errors.total.rate","data":[{"dimensions":[],"timestamps":[1796644800000],"values":[0.42]}]}]}""");
    private KestrelApp? _server;

    public async Task InitializeAsync() => _server = await KestrelApp.StartAsync(async context =>
    {
        context.Response.ContentType = "application/json";
        if (context.Request.Headers.Authorization != $"Api-Token {Token}")
        {
            context.Response.StatusCode = 401;
            await context.Response.WriteAsync("""{"error":{"code":401,"message":"Token Authentication failed"}}""");
            return;
        }
        switch (context.Request.Path.Value)
        {
            case "/api/v2/metrics":
                await context.Response.WriteAsync("""{"totalCount":1200,"nextPageKey":"x","metrics":[{"metricId":"builtin:apps.other.apdex.osAndGeo"}]}""");
                break;
            case "/api/v2/metrics/query":
                lock (_queries) _queries.Add(new QueryCollection(context.Request.Query.ToDictionary(kv => kv.Key, kv => kv.Value)));
                context.Response.StatusCode = _answer.Status;
                await context.Response.WriteAsync(_answer.Body);
                break;
            default:
                context.Response.StatusCode = 404;
                break;
        }
    });

    public string Type => "dynatrace";

    public TimeProvider Time => _time;

    public MetricTemplateProvider Redirect(MetricTemplateProvider corpus) => corpus with { Address = _server!.Url.ToString() };

    public IReadOnlyDictionary<string, string> Credentials { get; } = new Dictionary<string, string> { ["dynatrace_token"] = Token };

    Task IVendorApi.AnswerAsync(string target, double value)
    {
        _answer = (200,
        $$"""{"totalCount":1,"nextPageKey":null,"resolution":"Inf","result":[{"metricId":"m","data":[{"dimensions":[],"timestamps":[1796644800000],"values":[{{value.ToString(CultureInfo.InvariantCulture)}}]}]}]}""");
        return Task.CompletedTask;
    }

    public IReadOnlyList<string> Received
    {
        get
        {
            lock (_queries) return [.. _queries.Select(q => q["metricSelector"].ToString())];
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    private IMetricQueryProvider Provider(string token = Token)
    {
        var created = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "dynatrace", Address = _server!.Url.ToString() },
            new Dictionary<string, string> { ["dynatrace_token"] = token }, "1m", _time));
        Assert.True(created.Succeeded, created.Error);
        return created.Value!;
    }

    [Fact]
    public async Task RunQuery_FirstValueOfTheLastData_OverTenIntervals()
    {
        using var provider = Provider();
        Assert.Equal(QueryResult.Of(0.42), await provider.RunQueryAsync("builtin:service.errors.total.rate:avg", CancellationToken.None));

        var query = Assert.Single(_queries);
        Assert.Equal("builtin:service.errors.total.rate:avg", query["metricSelector"].ToString());
        Assert.Equal("Inf", query["resolution"].ToString());
        var to = _time.GetUtcNow().ToUnixTimeMilliseconds();
        Assert.Equal(to.ToString(CultureInfo.InvariantCulture), query["to"].ToString());
        Assert.Equal((to - 600_000).ToString(CultureInfo.InvariantCulture), query["from"].ToString());
    }

    [Theory]
    [InlineData("""{"totalCount":0,"result":[]}""")]
    [InlineData("""{"totalCount":1,"result":[{"metricId":"m","data":[]}]}""")]
    [InlineData("""{"totalCount":1,"result":[{"metricId":"m","data":[{"timestamps":[1],"values":[null]}]}]}""")]
    public async Task RunQuery_NoValue_NoData(string body)
    {
        _answer = (200, body);
        using var provider = Provider();
        Assert.Equal(QueryResultKind.NoData, (await provider.RunQueryAsync("m", CancellationToken.None)).Kind);
    }

    [Theory]
    [InlineData(400, """{"error":{"code":400,"message":"Constraints violated.","constraintViolations":[{"path":"metricSelector","message":"Metric selector is invalid"}]}}""", "400 (refused the query)", "Metric selector is invalid")]
    [InlineData(429, """{"error":{"code":429,"message":"Too Many Requests"}}""", "429 (rate limited)", "Too Many Requests")]
    [InlineData(500, """{"error":{"code":500,"message":"Internal Server Error"}}""", "500 (server error)", "Internal Server Error")]
    public async Task RunQuery_ErrorAnswers_FailedWithDynatracesWords(int status, string body, string words, string theirs)
    {
        _answer = (status, body);
        using var provider = Provider();
        var result = await provider.RunQueryAsync("m", CancellationToken.None);

        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains(words, result.Message, StringComparison.Ordinal);
        Assert.Contains(theirs, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadToken_FailedWithoutTheToken_AndOffline()
    {
        using var provider = Provider(token: "dt0c01.wrong");
        var result = await provider.RunQueryAsync("m", CancellationToken.None);
        Assert.Contains("401 (the credentials were refused)", result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("dt0c01.wrong", result.Message, StringComparison.Ordinal);
        Assert.False((await provider.IsOnlineAsync(CancellationToken.None)).Succeeded);

        using var good = Provider();
        Assert.True((await good.IsOnlineAsync(CancellationToken.None)).Succeeded);
    }

    [Fact]
    public void Create_NoAddressOrToken_ErrorsNameThem()
    {
        var noAddress = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "dynatrace" },
            new Dictionary<string, string> { ["dynatrace_token"] = Token }, "1m", _time));
        Assert.Equal("dynatrace address is empty: set spec.provider.address to the environment's URL", noAddress.Error);
        var noToken = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "dynatrace", Address = "https://abc.live.dynatrace.com" },
            new Dictionary<string, string>(), "1m", _time));
        Assert.Equal("dynatrace credentials do not contain dynatrace_token", noToken.Error);
    }
}
