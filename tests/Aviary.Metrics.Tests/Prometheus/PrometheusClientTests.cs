using Aviary.Metrics.Prometheus;

namespace Aviary.Metrics.Tests.Prometheus;

/// <summary>The client against a stand-in server: what is sent (path, query, headers, credentials) and how failures read.</summary>
public sealed class PrometheusClientTests
{
    private static PrometheusClient Client(Uri url, PrometheusAuth? auth = null, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? headers = null) =>
        new(new PrometheusClientOptions
        {
            Address = url,
            Auth = auth,
            Timeout = timeout ?? TimeSpan.FromSeconds(5),
            Headers = headers ?? new Dictionary<string, IReadOnlyList<string>>(),
        }, TimeProvider.System);

    [Fact]
    public async Task QueryAsync_MultiLineQuery_SentTrimmedOnOneLineToApiV1Query()
    {
        await using var fake = await FakePrometheus.StartAsync();
        using var client = Client(fake.Url);
        var result = await client.QueryAsync("\n   sum(\n     rate(x{a=\"b c\"}[1m])\n   )  \n", CancellationToken.None);
        Assert.Equal(QueryResult.Of(1), result);
        var request = Assert.Single(fake.Requests);
        Assert.Equal("/api/v1/query", request.Path);
        Assert.Equal("sum( rate(x{a=\"b c\"}[1m]) )", request.Query);
        Assert.False(request.Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task QueryAsync_AddressWithPathPrefix_Kept()
    {
        await using var fake = await FakePrometheus.StartAsync();
        using var client = Client(new Uri(fake.Url, "/prometheus/"));
        await client.QueryAsync("up", CancellationToken.None);
        Assert.Equal("/prometheus/api/v1/query", Assert.Single(fake.Requests).Path);
    }

    [Fact]
    public async Task QueryAsync_BearerTokenFromFile_SentAndReReadEachQuery()
    {
        await using var fake = await FakePrometheus.StartAsync();
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "s3cret-token\n");
            using var client = Client(fake.Url, PrometheusAuth.Bearer(Credential.FromFile(file)));
            await client.QueryAsync("up", CancellationToken.None);
            await File.WriteAllTextAsync(file, "rotated");
            await client.QueryAsync("up", CancellationToken.None);
            Assert.Equal(["Bearer s3cret-token", "Bearer rotated"], fake.Requests.Select(r => r.Headers.Authorization.ToString()));
            Assert.DoesNotContain("s3cret", client.Options.Auth!.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task QueryAsync_BasicAuthFromEnvironment_Sent()
    {
        await using var fake = await FakePrometheus.StartAsync();
        var user = "AVIARY_TEST_PROM_USER_" + Guid.NewGuid().ToString("N");
        var password = "AVIARY_TEST_PROM_PASSWORD_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(user, "alice");
        Environment.SetEnvironmentVariable(password, "p@ss:word");
        try
        {
            using var client = Client(fake.Url, PrometheusAuth.Basic(Credential.FromEnvironment(user), Credential.FromEnvironment(password)));
            await client.QueryAsync("up", CancellationToken.None);
            var expected = "Basic " + Convert.ToBase64String("alice:p@ss:word"u8.ToArray());
            Assert.Equal(expected, Assert.Single(fake.Requests).Headers.Authorization.ToString());
        }
        finally
        {
            Environment.SetEnvironmentVariable(user, null);
            Environment.SetEnvironmentVariable(password, null);
        }
    }

    [Fact]
    public async Task QueryAsync_CredentialMissing_ErrorSaysWhereNotWhat()
    {
        await using var fake = await FakePrometheus.StartAsync();
        using var client = Client(fake.Url, PrometheusAuth.Bearer(Credential.FromFile("/nonexistent/aviary/token")));
        var result = await client.QueryAsync("up", CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("/nonexistent/aviary/token", result.Message);
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task QueryAsync_ExtraHeaders_Sent()
    {
        await using var fake = await FakePrometheus.StartAsync();
        using var client = Client(fake.Url, headers: new Dictionary<string, IReadOnlyList<string>>
        {
            ["X-Scope-OrgID"] = ["tenant-1"],
            ["X-Multi"] = ["a", "b"],
        });
        await client.QueryAsync("up", CancellationToken.None);
        var headers = Assert.Single(fake.Requests).Headers;
        Assert.Equal("tenant-1", headers["X-Scope-OrgID"].ToString());
        Assert.Equal(["a", "b"], headers["X-Multi"].SelectMany(v => v!.Split(", ")).ToArray());
    }

    [Fact]
    public async Task QueryAsync_ServerError_StatusAndMessage()
    {
        await using var fake = await FakePrometheus.StartAsync();
        fake.Answer = _ => (422, """{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}""");
        using var client = Client(fake.Url);
        var result = await client.QueryAsync("a / b", CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Equal("Prometheus answered 422 Unprocessable Entity: execution: many-to-many matching not allowed", result.Message);
    }

    [Fact]
    public async Task QueryAsync_SlowServer_TimesOutAsAnError()
    {
        await using var fake = await FakePrometheus.StartAsync();
        fake.Delay = TimeSpan.FromSeconds(30);
        using var client = Client(fake.Url, timeout: TimeSpan.FromMilliseconds(300));
        var result = await client.QueryAsync("up", CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Equal($"Prometheus at {fake.Url.ToString().TrimEnd('/')} did not answer within 300ms", result.Message);
    }

    [Fact]
    public async Task QueryAsync_CallerCancels_Throws()
    {
        await using var fake = await FakePrometheus.StartAsync();
        fake.Delay = TimeSpan.FromSeconds(30);
        using var client = Client(fake.Url);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200), TimeProvider.System);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await client.QueryAsync("up", cancel.Token));
    }

    [Fact]
    public async Task IsOnlineAsync_AnswerNotOne_Offline()
    {
        await using var fake = await FakePrometheus.StartAsync();
        fake.OnlineAnswer = (200, FakePrometheus.Vector("2"));
        using var client = Client(fake.Url);
        var online = await client.IsOnlineAsync(CancellationToken.None);
        Assert.False(online.Succeeded);
        Assert.Contains("answered 2 to vector(1), expected 1", online.Error);
        Assert.Equal("vector(1)", Assert.Single(fake.Requests).Query);
    }

    [Fact]
    public void Constructor_NotHttp_Throws() =>
        Assert.Throws<ArgumentException>(() => Client(new Uri("ftp://127.0.0.1/")));
}
