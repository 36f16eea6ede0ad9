using System.Globalization;
using System.Text;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Hooks.Webhooks;

namespace Aviary.Hooks.Tests.Webhooks;

public sealed class HttpWebhookClientTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aviary-webhooks-").FullName;

    private static WebhookCheck Hook(Uri url, int retries = 0, TimeSpan? timeout = null, bool disableTls = false) => new()
    {
        Name = "load-test",
        Type = WebhookType.Rollout,
        Url = url,
        Timeout = timeout ?? TimeSpan.FromSeconds(10),
        Retries = retries,
        DisableTls = disableTls,
    };

    private static WebhookPayload Payload(Dictionary<string, string>? metadata = null) =>
        new("podinfo", "test", "Progressing", "a1b2c3", metadata ?? new Dictionary<string, string>());

    [Fact]
    public async Task CallAsync_EventHook_PostsFlaggersPayloadAsJson()
    {
        await using var receiver = await Receiver.StartAsync();
        using var client = new HttpWebhookClient(TimeProvider.System);
        var metadata = new Dictionary<string, string>
        {
            ["eventMessage"] = "New revision detected! Scaling up podinfo.test",
            ["eventType"] = "Normal",
            ["timestamp"] = "1700000000000",
        };

        var result = await client.CallAsync(Hook(receiver.Url("/hook")), Payload(metadata), CancellationToken.None);

        Assert.True(result.Succeeded, result.Error);
        var request = Assert.Single(receiver.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/hook", request.Path);
        Assert.StartsWith("application/json", request.Header("Content-Type"), StringComparison.Ordinal);
        Assert.Equal(
            """{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"a1b2c3","metadata":{"eventMessage":"New revision detected! Scaling up podinfo.test","eventType":"Normal","timestamp":"1700000000000"}}""",
            request.Text);
        Assert.Null(request.Header(WebhookSignature.SignatureHeader));
    }

    [Fact]
    public async Task CallAsync_NoMetadata_LeavesMetadataOut()
    {
        await using var receiver = await Receiver.StartAsync();
        using var client = new HttpWebhookClient(TimeProvider.System);

        await client.CallAsync(Hook(receiver.Url("/")), Payload(), CancellationToken.None);

        Assert.Equal("""{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"a1b2c3"}""", Assert.Single(receiver.Requests).Text);
    }

    [Theory]
    [InlineData(200)]
    [InlineData(201)]
    [InlineData(202)]
    [InlineData(204)]
    [InlineData(299)]
    public async Task CallAsync_Any2xx_Succeeds(int status)
    {
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = (_, _) => (status, "");
        using var client = new HttpWebhookClient(TimeProvider.System);

        var result = await client.CallAsync(Hook(receiver.Url("/")), Payload(), CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal(status, result.StatusCode);
    }

    [Fact]
    public async Task CallAsync_Refused_ErrorHasTheTruncatedBody()
    {
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = (_, _) => (403, "gate closed for podinfo.test " + new string('x', 5000));
        using var client = new HttpWebhookClient(TimeProvider.System);

        var result = await client.CallAsync(Hook(receiver.Url("/gate/check"), retries: 3), Payload(), CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Equal(403, result.StatusCode);
        Assert.StartsWith("status 403: gate closed for podinfo.test xxx", result.Error, StringComparison.Ordinal);
        Assert.InRange(result.Error!.Length, 50, 300);
        Assert.Single(receiver.Requests); // a 4xx other than 429 is not retried
    }

    [Fact]
    public async Task CallAsync_503ThenOk_RetriesUntilSuccess()
    {
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = (n, _) => n <= 2 ? (503, "busy") : (200, "ok");
        using var client = new HttpWebhookClient(TimeProvider.System);

        var result = await client.CallAsync(Hook(receiver.Url("/"), retries: 3), Payload(), CancellationToken.None);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(3, receiver.Requests.Count);
    }

    [Fact]
    public async Task CallAsync_AlwaysFailing_TriesOncePlusRetries()
    {
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = (_, _) => (500, "broken");
        using var client = new HttpWebhookClient(TimeProvider.System);

        var result = await client.CallAsync(Hook(receiver.Url("/"), retries: 2), Payload(), CancellationToken.None);

        Assert.Equal("status 500: broken", result.Error);
        Assert.Equal(3, receiver.Requests.Count);
    }

    [Fact]
    public void Backoff_Doubles_UpToTheCap()
    {
        Assert.Equal(
            [0, 250, 500, 1000, 2000, 4000, 8000, 8000],
            Enumerable.Range(0, 8).Select(a => (int)HttpWebhookClient.Retry.Delay(a).TotalMilliseconds));
    }

    [Fact]
    public async Task CallAsync_NoAnswerInTime_TimesOut()
    {
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = (_, _) => (null, "");
        using var client = new HttpWebhookClient(TimeProvider.System);

        var result = await client.CallAsync(Hook(receiver.Url("/"), timeout: TimeSpan.FromMilliseconds(200)), Payload(), CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Null(result.StatusCode);
        Assert.Equal("timed out after 200ms", result.Error);
    }

    [Fact]
    public async Task CallAsync_NobodyListens_IsUnreachable()
    {
        using var client = new HttpWebhookClient(TimeProvider.System);
        var url = new Uri($"http://127.0.0.1:{Receiver.ClosedPort()}/");

        var result = await client.CallAsync(Hook(url), Payload(), CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Null(result.StatusCode);
        Assert.False(string.IsNullOrEmpty(result.Error));
    }

    [Fact]
    public async Task CallAsync_SelfSignedHttps_FailsUnlessTlsChecksAreDisabled()
    {
        await using var receiver = await Receiver.StartAsync(https: true);
        using var client = new HttpWebhookClient(TimeProvider.System);
        Assert.Equal("https", receiver.Address.Scheme);

        var verified = await client.CallAsync(Hook(receiver.Url("/")), Payload(), CancellationToken.None);
        var unverified = await client.CallAsync(Hook(receiver.Url("/"), disableTls: true), Payload(), CancellationToken.None);

        Assert.False(verified.Succeeded);
        Assert.Null(verified.StatusCode);
        Assert.True(unverified.Succeeded, unverified.Error);
        Assert.Single(receiver.Requests);
    }

    [Fact]
    public async Task CallAsync_WithSigningSecretFile_SignsEveryAttempt()
    {
        var secretFile = Path.Combine(_dir, "secret");
        await File.WriteAllTextAsync(secretFile, "s3cret-value\n");
        var time = new FixedTime(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = (n, _) => n == 1 ? (502, "") : (200, "");
        using var client = new HttpWebhookClient(time, new WebhookSigning { SecretFile = secretFile });

        var result = await client.CallAsync(Hook(receiver.Url("/"), retries: 1), Payload(new() { ["cmd"] = "hey http://podinfo-canary.test:9898/" }), CancellationToken.None);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(2, receiver.Requests.Count);
        var secret = Encoding.UTF8.GetBytes("s3cret-value");
        foreach (var request in receiver.Requests)
        {
            var timestamp = request.Header(WebhookSignature.TimestampHeader);
            Assert.Equal(time.Now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), timestamp);
            var signature = request.Header(WebhookSignature.SignatureHeader);
            // The documented construction: hex HMAC-SHA256 of "timestamp.body".
            var expected = "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
                secret, Encoding.UTF8.GetBytes(timestamp + "." + request.Text)));
            Assert.Equal(expected, signature);
            Assert.True(WebhookSignature.Verify(secret, timestamp, signature, request.Body, time.Now));
            Assert.False(WebhookSignature.Verify("other"u8, timestamp, signature, request.Body, time.Now));
        }
    }

    [Fact]
    public async Task CallAsync_WithSigningVariable_Signs()
    {
        var variable = "AVIARY_TEST_WEBHOOK_SECRET_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "from-env");
        try
        {
            await using var receiver = await Receiver.StartAsync();
            using var client = new HttpWebhookClient(TimeProvider.System, new WebhookSigning { SecretEnvironmentVariable = variable });

            await client.CallAsync(Hook(receiver.Url("/")), Payload(), CancellationToken.None);

            var request = Assert.Single(receiver.Requests);
            Assert.True(WebhookSignature.Verify("from-env"u8, request.Header(WebhookSignature.TimestampHeader),
                request.Header(WebhookSignature.SignatureHeader), request.Body, TimeProvider.System.GetUtcNow()));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void Constructor_SigningSecretMissing_Throws()
    {
        var missing = Path.Combine(_dir, "missing");

        var e = Assert.Throws<InvalidOperationException>(() => new HttpWebhookClient(TimeProvider.System, new WebhookSigning { SecretFile = missing }));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => new HttpWebhookClient(TimeProvider.System, new WebhookSigning()));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
