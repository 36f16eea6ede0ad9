using System.Text.Json;
using Aviary.Core.Model;
using Aviary.Metrics.Providers;
using Aviary.Metrics.Tests.Agreement;
using Microsoft.AspNetCore.Http;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// <c>type: influxdb</c> (Flux) against a local server that answers as InfluxDB 2's documented query API does
/// (https://docs.influxdata.com/influxdb/v2/api/#operation/PostQuery, annotated CSV:
/// https://docs.influxdata.com/influxdb/v2/reference/syntax/annotated-csv/): <c>POST /api/v2/query?org=…</c> with
/// <c>Authorization: Token …</c> and a JSON body, 401 <c>{"code":"unauthorized","message":"unauthorized access"}</c>
/// for a bad token, 400 <c>{"code":"invalid","message":"…"}</c> for a bad query. Debian's InfluxDB is 1.6, which has no
/// Flux API, so this path cannot run against a real server here.
/// </summary>
public sealed class InfluxDbProviderTests : IVendorApi
{
    private const string Token = "influx-s3cret";

    private const string OneDouble = """
        #datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,double,string
        #group,false,false,true,true,false,true
        #default,_result,,,,,
        ,result,table,_start,_stop,_value,_field
        ,,0,2026-12-07T11:50:00Z,2026-12-07T12:00:00Z,99.25,success_rate
        ,,0,2026-12-07T11:50:00Z,2026-12-07T12:00:00Z,12,success_rate

        """;

    private readonly List<(string Org, string Accept, JsonElement Body)> _requests = [];
    private (int Status, string Body) _answer = (200, OneDouble);
    private KestrelApp? _server;

    public async Task InitializeAsync() => _server = await KestrelApp.StartAsync(async context =>
    {
        if (context.Request.Method != "POST" || context.Request.Path.Value != "/api/v2/query")
        {
            context.Response.StatusCode = 404;
            return;
        }
        if (context.Request.Headers.Authorization != $"Token {Token}")
        {
            context.Response.StatusCode = 401;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"code":"unauthorized","message":"unauthorized access"}""");
            return;
        }
        var body = await JsonSerializer.DeserializeAsync<JsonElement>(context.Request.Body);
        lock (_requests) _requests.Add((context.Request.Query["org"].ToString(), context.Request.Headers.Accept.ToString(), body));
        context.Response.StatusCode = _answer.Status;
        context.Response.ContentType = _answer.Status == 200 ? "text/csv; charset=utf-8" : "application/json";
        await context.Response.WriteAsync(_answer.Body.ReplaceLineEndings("\r\n"));
    });

    public string Type => "influxdb";

    public TimeProvider Time => TimeProvider.System;

    public MetricTemplateProvider Redirect(MetricTemplateProvider corpus) => corpus with { Address = _server!.Url.ToString() };

    public IReadOnlyDictionary<string, string> Credentials { get; } = new Dictionary<string, string> { ["token"] = Token, ["org"] = "platform" };

    Task IVendorApi.AnswerAsync(string target, double value)
    {
        _answer = (200, OneDouble.Replace("99.25", value.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace(",,0,2026-12-07T11:50:00Z,2026-12-07T12:00:00Z,12,success_rate\n", "", StringComparison.Ordinal));
        return Task.CompletedTask;
    }

    public IReadOnlyList<string> Received
    {
        get
        {
            lock (_requests) return [.. _requests.Select(r => r.Body.GetProperty("query").GetString() ?? "")];
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    private IMetricQueryProvider Provider(string token = Token)
    {
        var created = MetricProviders.Create(new MetricProviderContext(
            new MetricTemplateProvider { Type = "influxdb", Address = _server!.Url.ToString(), SecretRef = new SecretReference { Name = "influx" } },
            new Dictionary<string, string> { ["token"] = token, ["org"] = "platform" }, "1m", TimeProvider.System));
        Assert.True(created.Succeeded, created.Error);
        return created.Value!;
    }

    private const string Flux = """from(bucket: "k8s") |> range(start: -1m) |> filter(fn: (r) => r._measurement == "requests") |> mean()""";

    [Fact]
    public async Task RunQuery_ValueOfTheFirstRecord_FluxPostedWithOrgAndToken()
    {
        using var provider = Provider();
        Assert.Equal(QueryResult.Of(99.25), await provider.RunQueryAsync(Flux, CancellationToken.None));

        var (org, accept, body) = Assert.Single(_requests);
        Assert.Equal("platform", org);
        Assert.Equal("application/csv", accept);
        Assert.Equal(Flux, body.GetProperty("query").GetString());
        Assert.Equal("flux", body.GetProperty("type").GetString());
        Assert.Equal(["datatype", "group", "default"], body.GetProperty("dialect").GetProperty("annotations").EnumerateArray().Select(a => a.GetString()));
    }

    [Fact]
    public async Task RunQuery_IntegerValueAndQuotedFields_Read()
    {
        _answer = (200, """
            #datatype,string,long,string,long
            #group,false,false,true,false
            #default,_result,,,
            ,result,table,host,_value
            ,,0,"web, eu-1",42

            """);
        using var provider = Provider();
        Assert.Equal(QueryResult.Of(42), await provider.RunQueryAsync(Flux, CancellationToken.None));
    }

    [Theory]
    [InlineData("")]
    [InlineData("#datatype,string,long,double\n#group,false,false,false\n#default,_result,,\n,result,table,_value\n,,0,\n")]
    public async Task RunQuery_NoRecordOrNullValue_NoDataNotZero(string body)
    {
        _answer = (200, body);
        using var provider = Provider();
        Assert.Equal(QueryResultKind.NoData, (await provider.RunQueryAsync(Flux, CancellationToken.None)).Kind);
    }

    [Theory]
    [InlineData(400, """{"code":"invalid","message":"compilation failed: error @1:1-1:4: undefined identifier fro"}""", "400 (refused the query)", "undefined identifier fro")]
    [InlineData(429, """{"code":"too many requests","message":"org platform has exceeded limited_query plan limit"}""", "429 (rate limited)", "exceeded limited_query")]
    [InlineData(503, """{"code":"unavailable","message":"service unavailable"}""", "503 (server error)", "service unavailable")]
    public async Task RunQuery_ErrorAnswers_FailedWithInfluxDbsMessage(int status, string body, string words, string theirs)
    {
        _answer = (status, body);
        using var provider = Provider();
        var result = await provider.RunQueryAsync("fro(", CancellationToken.None);

        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains(words, result.Message, StringComparison.Ordinal);
        Assert.Contains(theirs, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunQuery_ErrorInTheCsv_Failed()
    {
        _answer = (200, "#datatype,string,string\n#group,true,true\n#default,,\n,error,reference\n,\"failed to execute query: bucket \"\"k8s\"\" not found\",897\n");
        using var provider = Provider();
        var result = await provider.RunQueryAsync(Flux, CancellationToken.None);

        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("bucket \"k8s\" not found", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadToken_FailedWithoutTheToken_AndOffline()
    {
        using var provider = Provider(token: "wrong-token");
        var result = await provider.RunQueryAsync(Flux, CancellationToken.None);
        Assert.Contains("401 (the credentials were refused): unauthorized access", result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-token", result.Message, StringComparison.Ordinal);
        Assert.False((await provider.IsOnlineAsync(CancellationToken.None)).Succeeded);

        using var good = Provider();
        Assert.True((await good.IsOnlineAsync(CancellationToken.None)).Succeeded);
        Assert.Equal(InfluxDbProvider.OnlineQuery, _requests.Last().Body.GetProperty("query").GetString());
    }

    [Theory]
    [InlineData("token", "influxdb credentials do not contain an authentication token (key token)")]
    [InlineData("org", "influxdb credentials do not contain an organisation (key org)")]
    public void Create_SecretWithoutTokenOrOrg_ErrorNamesTheKey(string missing, string error)
    {
        var credentials = new Dictionary<string, string> { ["token"] = Token, ["org"] = "platform" };
        credentials.Remove(missing);
        var created = MetricProviders.Create(new MetricProviderContext(
            new MetricTemplateProvider { Type = "influxdb", Address = "http://influx:8086", SecretRef = new SecretReference { Name = "influx" } }, credentials, "1m", TimeProvider.System));
        Assert.Equal(error, created.Error);
    }
}
