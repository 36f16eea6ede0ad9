using System.Globalization;
using Aviary.Core.Model;
using Aviary.Metrics.Providers;
using Aviary.Metrics.Tests.Agreement;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// <c>type: splunk</c> against a local server that answers as Splunk Observability Cloud's documented SignalFlow API does
/// over HTTP (https://dev.splunk.com/observability/reference/api/signalflow/latest: <c>POST /v2/signalflow/execute</c> with
/// the program as text, <c>start</c>/<c>stop</c>/<c>immediate</c>, <c>X-SF-Token</c>; the answer is server-sent events:
/// <c>control-message</c>, <c>metadata</c>, <c>data</c> <c>{"data":[{"tsId":…,"value":…}],"logicalTimestampMs":…}</c>, and
/// <c>error</c>) and the metric metadata API (<c>GET /v2/metric?limit=1</c>). The token never appears in an answer.
/// </summary>
public sealed class SplunkProviderTests : IVendorApi
{
    private const string Token = "sf-s3cret";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
    private readonly List<(IQueryCollection Query, string Program)> _executions = [];
    private string _events = Stream(Data("AAAAAKbT2ZU", "97.5", 1_796_644_740_000), Data("AAAAAKbT2ZU", "99.25", 1_796_644_800_000));
    private KestrelApp? _server;

    private static string Stream(params string[] data) =>
        "event: control-message\ndata: {\n" + "data:   \"event\" : \"STREAM_START\",\ndata:   \"timestampMs\" : 1796644800000\ndata: }\n\n"
        + "event: metadata\ndata: {\"tsId\":\"AAAAAKbT2ZU\",\"properties\":{\"sf_metric\":\"requests\"}}\n\n"
        + string.Concat(data)
        + "event: control-message\ndata: {\"event\":\"END_OF_CHANNEL\",\"timestampMs\":1796644800000}\n\n";

    private static string Data(string tsId, string value, long timestamp) =>
        $"event: data\ndata: {{\ndata:   \"data\" : [ {{ \"tsId\" : \"{tsId}\", \"value\" : {value} }} ],\ndata:   \"logicalTimestampMs\" : {timestamp.ToString(CultureInfo.InvariantCulture)}\ndata: }}\n\n";

    public async Task InitializeAsync() => _server = await KestrelApp.StartAsync(async context =>
    {
        if (context.Request.Headers["X-SF-Token"] != Token)
        {
            context.Response.StatusCode = 401;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"code":401,"message":"Unauthorized"}""");
            return;
        }
        switch (context.Request.Path.Value)
        {
            case "/v2/signalflow/execute":
                using (var reader = new StreamReader(context.Request.Body))
                {
                    var program = await reader.ReadToEndAsync();
                    lock (_executions) _executions.Add((new QueryCollection(context.Request.Query.ToDictionary(kv => kv.Key, kv => kv.Value)), program));
                }
                context.Response.ContentType = "text/event-stream";
                await context.Response.WriteAsync(_events);
                break;
            case "/v2/metric":
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("""{"count":1,"results":[{"name":"requests","type":"COUNTER"}]}""");
                break;
            default:
                context.Response.StatusCode = 404;
                break;
        }
    });

    public string Type => "splunk";

    public TimeProvider Time => _time;

    public MetricTemplateProvider Redirect(MetricTemplateProvider corpus) => corpus with { Address = _server!.Url.ToString() };

    public IReadOnlyDictionary<string, string> Credentials { get; } = new Dictionary<string, string> { ["sf_token_key"] = Token };

    Task IVendorApi.AnswerAsync(string target, double value)
    {
        _events = Stream(Data("AAAAAKbT2ZU", value.ToString(CultureInfo.InvariantCulture), 1_796_644_800_000));
        return Task.CompletedTask;
    }

    public IReadOnlyList<string> Received
    {
        get
        {
            lock (_executions) return [.. _executions.Select(e => e.Program)];
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    private IMetricQueryProvider Provider(string token = Token)
    {
        var created = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "splunk", Address = _server!.Url.ToString() },
            new Dictionary<string, string> { ["sf_token_key"] = token }, "1m", _time));
        Assert.True(created.Succeeded, created.Error);
        return created.Value!;
    }

    private const string Program = "data('requests', filter=filter('k8s.namespace.name', 'test')).sum().publish()";

    [Fact]
    public async Task RunQuery_LastValueOfTheSeries_OverTenIntervalsImmediately()
    {
        using var provider = Provider();
        Assert.Equal(QueryResult.Of(99.25), await provider.RunQueryAsync(Program, CancellationToken.None));

        var (query, program) = Assert.Single(_executions);
        Assert.Equal(Program, program);
        var stop = _time.GetUtcNow().ToUnixTimeMilliseconds();
        Assert.Equal(stop.ToString(CultureInfo.InvariantCulture), query["stop"].ToString());
        Assert.Equal((stop - 600_000).ToString(CultureInfo.InvariantCulture), query["start"].ToString());
        Assert.Equal("true", query["immediate"].ToString());
    }

    [Fact]
    public async Task RunQuery_NullValuesDropped_NoneLeftIsNoData()
    {
        _events = Stream(Data("AAAAAKbT2ZU", "42", 1), Data("AAAAAKbT2ZU", "null", 2));
        using (var provider = Provider()) Assert.Equal(QueryResult.Of(42), await provider.RunQueryAsync(Program, CancellationToken.None));

        _events = Stream(Data("AAAAAKbT2ZU", "null", 1));
        using (var provider = Provider()) Assert.Equal(QueryResultKind.NoData, (await provider.RunQueryAsync(Program, CancellationToken.None)).Kind);

        _events = Stream();
        using (var provider = Provider()) Assert.Equal(QueryResultKind.NoData, (await provider.RunQueryAsync(Program, CancellationToken.None)).Kind);
    }

    [Fact]
    public async Task RunQuery_SeveralTimeSeries_AnError()
    {
        _events = Stream(Data("AAAAAKbT2ZU", "1", 1), Data("AAAAAHx1Vno", "2", 1));
        using var provider = Provider();
        var result = await provider.RunQueryAsync(Program, CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("returned 2 time series", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunQuery_ErrorEvent_FailedWithSplunksWords()
    {
        _events = "event: error\ndata: {\"error\":400,\"errorType\":\"ANALYTICS_PROGRAM_NAME_ERROR\",\"message\":\"Unknown function 'dta'\"}\n\n";
        using var provider = Provider();
        var result = await provider.RunQueryAsync("dta('requests').publish()", CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("Unknown function 'dta'", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadToken_FailedWithoutTheToken_AndOffline()
    {
        using var provider = Provider(token: "sf-wrong");
        var result = await provider.RunQueryAsync(Program, CancellationToken.None);
        Assert.Contains("401 (the credentials were refused)", result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sf-wrong", result.Message, StringComparison.Ordinal);
        Assert.False((await provider.IsOnlineAsync(CancellationToken.None)).Succeeded);

        using var good = Provider();
        Assert.True((await good.IsOnlineAsync(CancellationToken.None)).Succeeded);
    }

    [Fact]
    public void Create_NoAddressTokenOrInterval_ErrorsNameThem()
    {
        var noAddress = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "splunk" },
            new Dictionary<string, string> { ["sf_token_key"] = Token }, "1m", _time));
        Assert.StartsWith("splunk endpoint is not set", noAddress.Error, StringComparison.Ordinal);
        var noToken = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "splunk", Address = "https://api.us1.signalfx.com" },
            new Dictionary<string, string>(), "1m", _time));
        Assert.Equal("splunk credentials do not contain sf_token_key", noToken.Error);
    }

    [Fact]
    public void Events_ServerSentEventStream_NamesAndJoinedData()
    {
        var events = SplunkProvider.Events(": comment\nevent: data\ndata: {\ndata: \"a\": 1\ndata: }\n\ndata: plain\n\n").ToList();
        Assert.Equal([("data", "{\n\"a\": 1\n}"), ("message", "plain")], events);
    }
}
