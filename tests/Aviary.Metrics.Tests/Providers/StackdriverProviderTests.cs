using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Model;
using Aviary.Metrics.Providers;
using Aviary.Metrics.Tests.Agreement;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// <c>type: stackdriver</c> against a local server that answers as Google's documented APIs do: the OAuth 2.0 token
/// endpoint of a service account key (RFC 7523 JWT bearer grant, https://developers.google.com/identity/protocols/oauth2/service-account:
/// it verifies the RS256 signature with the key's public half and the claims iss, scope, aud, iat, exp) and Cloud
/// Monitoring's <c>projects.timeSeries.query</c> (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/query:
/// <c>{"timeSeriesData":[{"pointData":[{"values":[{"doubleValue":…}]}]}]}</c>, Google's JSON errors). Neither the private
/// key nor the access token ever appears in an answer.
/// </summary>
public sealed class StackdriverProviderTests : IVendorApi
{
    private const string AccessToken = "ya29.s3cret-token";

    private readonly RSA _rsa = RSA.Create(2048);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
    private readonly List<JsonObject> _claims = [];
    private readonly List<string> _queries = [];
    private (int Status, string Body) _answer = (200, """{"timeSeriesDescriptor":{},"timeSeriesData":[{"labelValues":[],"pointData":[{"values":[{"doubleValue":99.5}],"timeInterval":{}}]}]}""");
    private (int Status, string Body)? _tokenAnswer;
    private KestrelApp? _server;

    public async Task InitializeAsync() => _server = await KestrelApp.StartAsync(async context =>
    {
        context.Response.ContentType = "application/json";
        if (context.Request.Path == "/token")
        {
            var form = await context.Request.ReadFormAsync();
            if (_tokenAnswer is { } forced)
            {
                context.Response.StatusCode = forced.Status;
                await context.Response.WriteAsync(forced.Body);
                return;
            }
            if (form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer" || Verify(form["assertion"].ToString()) is not { } claims)
            {
                context.Response.StatusCode = 400;
                await context.Response.WriteAsync("""{"error":"invalid_grant","error_description":"Invalid JWT Signature."}""");
                return;
            }
            lock (_claims) _claims.Add(claims);
            await context.Response.WriteAsync($$"""{"access_token":"{{AccessToken}}","expires_in":3599,"token_type":"Bearer"}""");
            return;
        }
        if (context.Request.Path != "/v3/projects/shop-prod/timeSeries:query")
        {
            context.Response.StatusCode = 404;
            return;
        }
        if (context.Request.Headers.Authorization != "Bearer " + AccessToken)
        {
            context.Response.StatusCode = 401;
            await context.Response.WriteAsync("""{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}""");
            return;
        }
        using var reader = new StreamReader(context.Request.Body);
        var query = JsonNode.Parse(await reader.ReadToEndAsync())!["query"]!.GetValue<string>();
        lock (_queries) _queries.Add(query);
        if (query.Length == 0)
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync("""{"error":{"code":400,"message":"Query is empty.","status":"INVALID_ARGUMENT"}}""");
            return;
        }
        context.Response.StatusCode = _answer.Status;
        await context.Response.WriteAsync(_answer.Body);
    });

    public string Type => "stackdriver";

    public TimeProvider Time => _time;

    public MetricTemplateProvider Redirect(MetricTemplateProvider corpus) => corpus with { Address = _server!.Url.ToString() };

    public IReadOnlyDictionary<string, string> Credentials => new Dictionary<string, string> { ["project"] = "shop-prod", ["serviceAccountKey"] = KeyJson() };

    Task IVendorApi.AnswerAsync(string target, double value)
    {
        _answer = (200,
        $$$"""{"timeSeriesDescriptor":{},"timeSeriesData":[{"labelValues":[],"pointData":[{"values":[{"doubleValue":{{{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}}],"timeInterval":{}}]}]}""");
        return Task.CompletedTask;
    }

    public IReadOnlyList<string> Received
    {
        get
        {
            lock (_queries) return [.. _queries];
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        _rsa.Dispose();
    }

    /// <summary>The claims of a JWT signed by the service account's key for the monitoring scope and this token endpoint, or null.</summary>
    private JsonObject? Verify(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3) return null;
        var header = JsonNode.Parse(Decode(parts[0]))!;
        if (header["alg"]?.GetValue<string>() != "RS256" || header["kid"]?.GetValue<string>() != "key-1") return null;
        if (!_rsa.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Decode(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)) return null;
        var claims = JsonNode.Parse(Decode(parts[1]))!.AsObject();
        var iat = claims["iat"]!.GetValue<long>();
        return claims["iss"]?.GetValue<string>() == "aviary@shop-prod.iam.gserviceaccount.com"
            && claims["scope"]?.GetValue<string>() == "https://www.googleapis.com/auth/monitoring.read"
            && claims["aud"]?.GetValue<string>() == _server!.Url + "token"
            && iat == _time.GetUtcNow().ToUnixTimeSeconds()
            && claims["exp"]!.GetValue<long>() == iat + 3600
            ? claims : null;
    }

    private static byte[] Decode(string part)
    {
        var base64 = part.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '='));
    }

    private string KeyJson(string? projectId = "shop-prod") => new JsonObject
    {
        ["type"] = "service_account",
        ["project_id"] = projectId,
        ["private_key_id"] = "key-1",
        ["private_key"] = _rsa.ExportPkcs8PrivateKeyPem(),
        ["client_email"] = "aviary@shop-prod.iam.gserviceaccount.com",
        ["token_uri"] = _server!.Url + "token",
    }.ToJsonString();

    private MetricProviderContext Context(Dictionary<string, string>? credentials = null, bool secret = true) =>
        new(new MetricTemplateProvider
        {
            Type = "stackdriver",
            Address = _server!.Url.ToString(),
            SecretRef = secret ? new SecretReference { Name = "gcp" } : null,
        }, credentials ?? new Dictionary<string, string> { ["project"] = "shop-prod", ["serviceAccountKey"] = KeyJson() }, "1m", _time);

    private IMetricQueryProvider Provider(Dictionary<string, string>? credentials = null)
    {
        var created = MetricProviders.Create(Context(credentials));
        Assert.True(created.Succeeded, created.Error);
        return created.Value!;
    }

    private const string Mql = "fetch k8s_container | metric 'istio.io/service/server/request_count' | within 1m";

    [Fact]
    public async Task RunQuery_SignedJwtForAToken_ThenTheFirstValueOfTheFirstPoint_TokenReusedUntilItExpires()
    {
        using var provider = Provider();
        Assert.Equal(QueryResult.Of(99.5), await provider.RunQueryAsync(Mql, CancellationToken.None));
        Assert.Equal(QueryResult.Of(99.5), await provider.RunQueryAsync(Mql, CancellationToken.None));
        Assert.Equal([Mql, Mql], _queries);
        Assert.Single(_claims);

        // The token lives 3599 s; Aviary asks for a new one a minute before.
        _time.Advance(TimeSpan.FromSeconds(3599 - 60));
        Assert.Equal(QueryResult.Of(99.5), await provider.RunQueryAsync(Mql, CancellationToken.None));
        Assert.Equal(2, _claims.Count);
    }

    [Fact]
    public async Task RunQuery_Int64Value_IsANumber()
    {
        _answer = (200, """{"timeSeriesData":[{"pointData":[{"values":[{"int64Value":"42"}]}]}]}""");
        using var provider = Provider();
        Assert.Equal(QueryResult.Of(42), await provider.RunQueryAsync(Mql, CancellationToken.None));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"timeSeriesData":[]}""")]
    [InlineData("""{"timeSeriesData":[{"pointData":[]}]}""")]
    [InlineData("""{"timeSeriesData":[{"pointData":[{"values":[]}]}]}""")]
    public async Task RunQuery_NoSeriesOrPoint_NoData(string body)
    {
        _answer = (200, body);
        using var provider = Provider();
        Assert.Equal(QueryResultKind.NoData, (await provider.RunQueryAsync(Mql, CancellationToken.None)).Kind);
    }

    [Theory]
    [InlineData(400, """{"error":{"code":400,"message":"Line 1: Table operation 'fetch' expects a monitored resource.","status":"INVALID_ARGUMENT"}}""", "400 (refused the query)", "INVALID_ARGUMENT: Line 1")]
    [InlineData(403, """{"error":{"code":403,"message":"Permission monitoring.timeSeries.list denied.","status":"PERMISSION_DENIED"}}""", "403 (the credentials were refused)", "PERMISSION_DENIED")]
    [InlineData(429, """{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED"}}""", "429 (rate limited)", "RESOURCE_EXHAUSTED")]
    [InlineData(503, """{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}""", "503 (server error)", "UNAVAILABLE")]
    public async Task RunQuery_ErrorAnswers_FailedWithGooglesWords_NeverTheSecrets(int status, string body, string words, string theirs)
    {
        _answer = (status, body);
        using var provider = Provider();
        var result = await provider.RunQueryAsync(Mql, CancellationToken.None);

        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains(words, result.Message, StringComparison.Ordinal);
        Assert.Contains(theirs, result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(AccessToken, result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenRefused_FailedWithTheEndpointsWords_AndOffline()
    {
        _tokenAnswer = (400, """{"error":"invalid_grant","error_description":"Invalid JWT Signature."}""");
        using var provider = Provider();
        var result = await provider.RunQueryAsync(Mql, CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("stackdriver token endpoint", result.Message, StringComparison.Ordinal);
        Assert.Contains("invalid_grant: Invalid JWT Signature.", result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", result.Message, StringComparison.Ordinal);
        Assert.False((await provider.IsOnlineAsync(CancellationToken.None)).Succeeded);
        Assert.Empty(_queries);
    }

    [Fact]
    public async Task IsOnline_AnEmptyQueryAnsweredInvalidArgument_IsOnline()
    {
        using var provider = Provider();
        Assert.True((await provider.IsOnlineAsync(CancellationToken.None)).Succeeded);
        Assert.Equal([""], _queries);
    }

    [Fact]
    public void Create_MissingProjectOrBadKey_ErrorsNameThem_NeverTheKey()
    {
        var noProject = MetricProviders.Create(Context(new Dictionary<string, string> { ["serviceAccountKey"] = KeyJson() }));
        Assert.Equal("stackdriver credentials do not contain a project id", noProject.Error);

        var notJson = MetricProviders.Create(Context(new Dictionary<string, string> { ["project"] = "shop-prod", ["serviceAccountKey"] = "-----BEGIN PRIVATE KEY----- xyz" }));
        Assert.StartsWith("stackdriver: the service account key is not JSON", notJson.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("xyz", notJson.Error, StringComparison.Ordinal);

        var noEmail = MetricProviders.Create(Context(new Dictionary<string, string> { ["project"] = "shop-prod", ["serviceAccountKey"] = """{"private_key":"k"}""" }));
        Assert.Equal("stackdriver: the service account key needs client_email, private_key and a valid token_uri", noEmail.Error);
    }

    [Fact]
    public async Task Create_NoSecret_KeyFileFromGoogleApplicationCredentials_ProjectFromTheKey()
    {
        var file = Path.Combine(Path.GetTempPath(), $"aviary-sa-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, KeyJson());
        try
        {
            var created = StackdriverProvider.Create(Context(new Dictionary<string, string>(), secret: false),
                name => name == "GOOGLE_APPLICATION_CREDENTIALS" ? file : null);
            Assert.True(created.Succeeded, created.Error);
            using var provider = created.Value!;
            Assert.Equal(QueryResult.Of(99.5), await provider.RunQueryAsync(Mql, CancellationToken.None));

            var none = StackdriverProvider.Create(Context(new Dictionary<string, string>(), secret: false), _ => null);
            Assert.StartsWith("stackdriver: no credentials", none.Error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
