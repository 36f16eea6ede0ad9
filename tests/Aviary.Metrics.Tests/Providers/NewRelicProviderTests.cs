using Aviary.Core.Model;
using Aviary.Metrics.Providers;
using Aviary.Metrics.Tests.Agreement;
using Microsoft.AspNetCore.Http;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// <c>type: newrelic</c> against a local server that answers as New Relic's documented Insights query API does
/// (https://docs.newrelic.com/docs/apis/insights-apis/query-insights-event-data-api/): <c>GET /v1/accounts/{id}/query?nrql=…</c>
/// with the <c>X-Query-Key</c> header, an expression's value in <c>results[0].result</c>, and 401
/// <c>{"error":"…"}</c> for a bad key. Secrets never appear in an answer.
/// </summary>
public sealed class NewRelicProviderTests : IVendorApi
{
    private const string QueryKey = "nrqk-s3cret";
    private const string Account = "1234567";

    private readonly List<string> _nrql = [];
    private (int Status, string Body) _answer = (200, """{"results":[{"result":1.25}],"metadata":{"eventTypes":["Metric"]}}""");
    private KestrelApp? _server;

    public async Task InitializeAsync() => _server = await KestrelApp.StartAsync(async context =>
    {
        context.Response.ContentType = "application/json";
        if (context.Request.Path.Value != $"/v1/accounts/{Account}/query")
        {
            context.Response.StatusCode = 404;
            return;
        }
        if (context.Request.Headers["X-Query-Key"] != QueryKey)
        {
            context.Response.StatusCode = 401;
            await context.Response.WriteAsync("""{"error":"Invalid query key."}""");
            return;
        }
        lock (_nrql) _nrql.Add(context.Request.Query["nrql"].ToString());
        context.Response.StatusCode = _answer.Status;
        await context.Response.WriteAsync(_answer.Body);
    });

    public string Type => "newrelic";

    public TimeProvider Time => TimeProvider.System;

    public MetricTemplateProvider Redirect(MetricTemplateProvider corpus) => corpus with { Address = _server!.Url.ToString() };

    public IReadOnlyDictionary<string, string> Credentials { get; } =
        new Dictionary<string, string> { ["newrelic_account_id"] = Account, ["newrelic_query_key"] = QueryKey };

    Task IVendorApi.AnswerAsync(string target, double value)
    {
        _answer = (200,
        $$$"""{"results":[{"result":{{{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}}],"metadata":{"eventTypes":["Metric"]}}""");
        return Task.CompletedTask;
    }

    public IReadOnlyList<string> Received
    {
        get
        {
            lock (_nrql) return [.. _nrql];
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    private IMetricQueryProvider Provider(string key = QueryKey)
    {
        var created = MetricProviders.Create(new MetricProviderContext(
            new MetricTemplateProvider { Type = "newrelic", Address = _server!.Url.ToString() },
            new Dictionary<string, string> { ["newrelic_account_id"] = Account, ["newrelic_query_key"] = key }, "2m", TimeProvider.System));
        Assert.True(created.Succeeded, created.Error);
        return created.Value!;
    }

    [Fact]
    public async Task RunQuery_TheResult_SinceTheMetricInterval()
    {
        using var provider = Provider();
        var result = await provider.RunQueryAsync("SELECT percentage(count(*), WHERE error IS true) FROM Transaction", CancellationToken.None);

        Assert.Equal(QueryResult.Of(1.25), result);
        Assert.Equal(["SELECT percentage(count(*), WHERE error IS true) FROM Transaction SINCE 120 seconds ago"], _nrql);
    }

    [Theory]
    [InlineData("""{"results":[]}""")]
    [InlineData("""{"results":[{"result":null}]}""")]
    [InlineData("""{"results":[{"result":1},{"result":2}]}""")]
    public async Task RunQuery_NoSingleValue_NoData(string body)
    {
        _answer = (200, body);
        using var provider = Provider();
        Assert.Equal(QueryResultKind.NoData, (await provider.RunQueryAsync("SELECT 1 FROM Metric", CancellationToken.None)).Kind);
    }

    [Theory]
    [InlineData(400, """{"error":"NRQL Syntax Error: Error at line 1 position 8"}""", "400 (refused the query)", "NRQL Syntax Error")]
    [InlineData(429, """{"error":"Too many requests"}""", "429 (rate limited)", "Too many requests")]
    [InlineData(503, """{"error":"Service Unavailable"}""", "503 (server error)", "Service Unavailable")]
    public async Task RunQuery_ErrorAnswers_FailedWithNewRelicsWords(int status, string body, string words, string theirs)
    {
        _answer = (status, body);
        using var provider = Provider();
        var result = await provider.RunQueryAsync("SELECT", CancellationToken.None);

        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains(words, result.Message, StringComparison.Ordinal);
        Assert.Contains(theirs, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadKey_FailedWithoutTheKey_AndOffline()
    {
        using var provider = Provider(key: "wrong-query-key");
        var result = await provider.RunQueryAsync("SELECT 1 FROM Metric", CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("401 (the credentials were refused)", result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-query-key", result.Message, StringComparison.Ordinal);
        Assert.False((await provider.IsOnlineAsync(CancellationToken.None)).Succeeded);

        using var good = Provider();
        Assert.True((await good.IsOnlineAsync(CancellationToken.None)).Succeeded);
        Assert.Equal("SELECT * FROM Metric SINCE 120 seconds ago", _nrql.Last());
    }

    [Theory]
    [InlineData("newrelic_account_id")]
    [InlineData("newrelic_query_key")]
    public void Create_MissingKey_ErrorNamesIt(string missing)
    {
        var credentials = new Dictionary<string, string> { ["newrelic_account_id"] = Account, ["newrelic_query_key"] = QueryKey };
        credentials.Remove(missing);
        var created = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "newrelic" }, credentials, "1m", TimeProvider.System));
        Assert.Equal($"newrelic credentials do not contain {missing}", created.Error);
    }
}
