using System.Text.Json;
using Aviary.Core.Model;
using Aviary.Metrics.Providers;
using Aviary.Metrics.Tests.Agreement;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// <c>type: cloudwatch</c> against a local server that answers as CloudWatch's documented GetMetricData does over the JSON
/// protocol (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html; JSON 1.0 with
/// <c>X-Amz-Target: GraniteServiceVersion20100801.GetMetricData</c>) and checks each request's SigV4 signature the way
/// AWS does (recomputing it from the signed headers the request carries): a wrong secret gets 403
/// <c>SignatureDoesNotMatch</c>. The signer itself is checked against AWS's vectors in <see cref="SigV4Tests"/>.
/// </summary>
public sealed class CloudWatchProviderTests : IVendorApi
{
    private const string KeyId = "AKIDEXAMPLE";
    private const string Secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
    private readonly List<JsonElement> _bodies = [];
    private (int Status, string Body) _answer = (200,
        """{"MetricDataResults":[{"Id":"e1","Label":"errors","StatusCode":"Complete","Timestamps":[1796644740,1796644680],"Values":[0.7,0.2]}],"Messages":[]}""");
    private KestrelApp? _server;

    private const string Query = """
        [{"Id":"e1","Expression":"m1 / m2 * 100","Label":"error rate"},
         {"Id":"m1","MetricStat":{"Metric":{"Namespace":"MyKubernetesApp","MetricName":"ErrorCount","Dimensions":[{"Name":"AppName","Value":"podinfo"}]},"Period":60,"Stat":"Sum"},"ReturnData":false},
         {"Id":"m2","MetricStat":{"Metric":{"Namespace":"MyKubernetesApp","MetricName":"RequestCount","Dimensions":[{"Name":"AppName","Value":"podinfo"}]},"Period":60,"Stat":"Sum"},"ReturnData":false}]
        """;

    public async Task InitializeAsync() => _server = await KestrelApp.StartAsync(async context =>
    {
        context.Response.ContentType = "application/x-amz-json-1.0";
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        if (context.Request.Headers["X-Amz-Target"] != "GraniteServiceVersion20100801.GetMetricData")
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync("""{"__type":"com.amazon.coral.service#UnknownOperationException"}""");
            return;
        }
        if (!SignatureMatches(context.Request, buffer.ToArray()))
        {
            context.Response.StatusCode = 403;
            await context.Response.WriteAsync("""{"__type":"com.amazon.coral.service#SignatureDoesNotMatch","message":"The request signature we calculated does not match the signature you provided."}""");
            return;
        }
        var body = JsonSerializer.Deserialize<JsonElement>(buffer.ToArray());
        lock (_bodies) _bodies.Add(body);
        if (body.GetProperty("MetricDataQueries").GetArrayLength() == 0)
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync("""{"__type":"com.amazonaws.cloudwatch#InvalidParameterValueException","message":"The parameter MetricDataQueries must not be empty."}""");
            return;
        }
        context.Response.StatusCode = _answer.Status;
        await context.Response.WriteAsync(_answer.Body);
    });

    /// <summary>What AWS checks: the signature recomputed from the request as received, with this server's copy of the secret.</summary>
    private static bool SignatureMatches(HttpRequest request, byte[] payload)
    {
        // The credential scope names the region the request was signed for: us-east-1 in these tests, the template's in the corpus's.
        var authorization = request.Headers.Authorization.ToString();
        var scope = System.Text.RegularExpressions.Regex.Match(authorization, "^AWS4-HMAC-SHA256 Credential=" + KeyId + "/20261207/(?<region>[a-z0-9-]+)/monitoring/aws4_request, ");
        if (!scope.Success) return false;
        var region = scope.Groups["region"].Value;
        var parts = authorization["AWS4-HMAC-SHA256 ".Length..].Split(", ").Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var headers = parts["SignedHeaders"].Split(';').Select(name => new KeyValuePair<string, string>(name, request.Headers[name].ToString())).ToList();
        var (_, signature) = SigV4.Signature(request.Method, request.Path.Value ?? "/", request.QueryString.Value?.TrimStart('?') ?? "", headers,
            SigV4.Hex(System.Security.Cryptography.SHA256.HashData(payload)), region, "monitoring", Secret, request.Headers["x-amz-date"].ToString());
        return signature == parts["Signature"];
    }

    public string Type => "cloudwatch";

    public TimeProvider Time => _time;

    /// <summary>The corpus template's region is kept: the server checks the signature for whichever region it was made.</summary>
    public MetricTemplateProvider Redirect(MetricTemplateProvider corpus) => corpus with { Address = _server!.Url.ToString() };

    public IReadOnlyDictionary<string, string> Credentials { get; } =
        new Dictionary<string, string> { ["aws_access_key_id"] = KeyId, ["aws_secret_access_key"] = Secret };

    Task IVendorApi.AnswerAsync(string target, double value)
    {
        _answer = (200,
        $$"""{"MetricDataResults":[{"Id":"e1","Label":"v","StatusCode":"Complete","Timestamps":[1796644740],"Values":[{{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}}]}],"Messages":[]}""");
        return Task.CompletedTask;
    }

    public IReadOnlyList<string> Received
    {
        get
        {
            lock (_bodies) return [.. _bodies.Select(b => b.GetProperty("MetricDataQueries").GetRawText())];
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    private IMetricQueryProvider Provider(string secret = Secret, Func<string, string?>? environment = null, Dictionary<string, string>? credentials = null)
    {
        var created = CloudWatchProvider.Create(new MetricProviderContext(
            new MetricTemplateProvider { Type = "cloudwatch", Region = "us-east-1", Address = _server!.Url.ToString() },
            credentials ?? new Dictionary<string, string> { ["aws_access_key_id"] = KeyId, ["aws_secret_access_key"] = secret }, "1m", _time),
            environment ?? (_ => null));
        Assert.True(created.Succeeded, created.Error);
        return created.Value!;
    }

    [Fact]
    public async Task RunQuery_FirstValueOfTheFirstResult_SignedRequestOverTenIntervals()
    {
        using var provider = Provider();
        Assert.Equal(QueryResult.Of(0.7), await provider.RunQueryAsync(Query, CancellationToken.None));

        var body = Assert.Single(_bodies);
        Assert.Equal(3, body.GetProperty("MetricDataQueries").GetArrayLength());
        Assert.Equal("m1 / m2 * 100", body.GetProperty("MetricDataQueries")[0].GetProperty("Expression").GetString());
        var end = _time.GetUtcNow().ToUnixTimeSeconds();
        Assert.Equal(end, body.GetProperty("EndTime").GetInt64());
        Assert.Equal(end - 600, body.GetProperty("StartTime").GetInt64());
        Assert.Equal(20, body.GetProperty("MaxDatapoints").GetInt32());
    }

    [Fact]
    public async Task Credentials_FromTheEnvironmentWhenTheSecretHasNone()
    {
        var environment = new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = KeyId, ["AWS_SECRET_ACCESS_KEY"] = Secret };
        using var provider = Provider(environment: environment.GetValueOrDefault, credentials: []);
        Assert.Equal(QueryResult.Of(0.7), await provider.RunQueryAsync(Query, CancellationToken.None));
    }

    [Theory]
    [InlineData("""{"MetricDataResults":[]}""")]
    [InlineData("""{"MetricDataResults":[{"Id":"e1","StatusCode":"Complete","Timestamps":[],"Values":[]}]}""")]
    public async Task RunQuery_NoValue_NoData(string body)
    {
        _answer = (200, body);
        using var provider = Provider();
        Assert.Equal(QueryResultKind.NoData, (await provider.RunQueryAsync(Query, CancellationToken.None)).Kind);
    }

    [Fact]
    public async Task RunQuery_WrongSecret_403WithAwsWords_AndNoSecretInTheMessage()
    {
        using var provider = Provider(secret: "not-the-secret");
        var result = await provider.RunQueryAsync(Query, CancellationToken.None);

        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("403 (the credentials were refused): SignatureDoesNotMatch", result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret", result.Message, StringComparison.Ordinal);
        Assert.False((await provider.IsOnlineAsync(CancellationToken.None)).Succeeded);
    }

    [Theory]
    [InlineData(400, """{"__type":"com.amazonaws.cloudwatch#InvalidParameterValueException","message":"The value m1 / for parameter Expression is not valid."}""", "400 (refused the query): InvalidParameterValueException: The value m1 /")]
    [InlineData(429, """{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}""", "429 (rate limited): ThrottlingException: Rate exceeded")]
    [InlineData(500, """{"__type":"com.amazonaws.cloudwatch#InternalServiceFault","message":"Internal error"}""", "500 (server error): InternalServiceFault: Internal error")]
    public async Task RunQuery_ErrorAnswers_FailedWithAwsWords(int status, string body, string words)
    {
        _answer = (status, body);
        using var provider = Provider();
        var result = await provider.RunQueryAsync(Query, CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains(words, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunQuery_NotAJsonArray_Failed()
    {
        using var provider = Provider();
        var result = await provider.RunQueryAsync("SELECT AVG(CPUUtilization) FROM SCHEMA(\"AWS/EC2\")", CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("not a JSON array of MetricDataQuery objects", result.Message, StringComparison.Ordinal);
        Assert.Empty(_bodies);
    }

    [Fact]
    public async Task IsOnline_EmptyQueryAnswered400_Online()
    {
        using var provider = Provider();
        Assert.True((await provider.IsOnlineAsync(CancellationToken.None)).Succeeded);
    }

    [Fact]
    public void Create_NoRegionOrNoCredentials_ClearErrors()
    {
        var noRegion = CloudWatchProvider.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "cloudwatch" },
            new Dictionary<string, string>(), "1m", _time), _ => null);
        Assert.Equal("cloudwatch: region not specified (spec.provider.region)", noRegion.Error);
        var none = CloudWatchProvider.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "cloudwatch", Region = "eu-west-1" },
            new Dictionary<string, string>(), "1m", _time), _ => null);
        Assert.StartsWith("cloudwatch: no AWS credentials", none.Error, StringComparison.Ordinal);
    }
}
