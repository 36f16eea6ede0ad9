using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Aviary.Core.Abstractions;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>What the proxy does to one request: bodies, headers, failures, retries and fallbacks.</summary>
public sealed class ForwardingTests
{
    private const int TwentyMegabytes = 20 * 1024 * 1024;

    [Fact]
    public async Task Forward_20MegabyteUpload_StreamsThroughIntact()
    {
        await using var f = await ProxyFixture.StartAsync();
        var body = new byte[TwentyMegabytes];
        new Random(1).NextBytes(body);

        // Chunked (no Content-Length) and sized uploads.
        using var chunked = new StreamContent(new NonSeekableStream(body));
        using var chunkedResponse = await f.Client.PostAsync("/upload", chunked);
        using var sized = await f.Client.PostAsync("/upload", new ByteArrayContent(body));

        var expected = $"{body.Length} {Convert.ToHexString(SHA256.HashData(body))}";
        Assert.Equal(expected, await chunkedResponse.Content.ReadAsStringAsync());
        Assert.Equal(expected, await sized.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_20MegabyteDownload_StreamsThroughIntact()
    {
        await using var f = await ProxyFixture.StartAsync();

        using var response = await f.Client.GetAsync($"/download?size={TwentyMegabytes}", HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long offset = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                if (buffer[i] != TestBackend.Pattern(offset + i)) Assert.Fail($"byte {offset + i} differs");
            }
            offset += read;
        }

        Assert.Equal(TwentyMegabytes, offset);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Forward_ChunkedResponse_FirstChunkReachesClientBeforeBackendFinishes()
    {
        await using var f = await ProxyFixture.StartAsync();

        using var response = await f.Client.GetAsync("/chunked", HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var first = await ReadAtLeastAsync(stream, "first;".Length);
        Assert.False(f.Primary.Gate.Task.IsCompleted);
        Assert.Equal("first;", first);

        f.Primary.Gate.SetResult();
        Assert.Equal("second", await new StreamReader(stream).ReadToEndAsync());
        Assert.True(response.Headers.TransferEncodingChunked);
    }

    [Fact]
    public async Task Forward_Headers_HopByHopRemovedForwardedAddedHostKept()
    {
        await using var f = await ProxyFixture.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/headers");
        request.Headers.Host = "podinfo.example:8080";
        request.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
        request.Headers.TryAddWithoutValidation("Proxy-Authorization", "Basic c2VjcmV0");
        request.Headers.TryAddWithoutValidation("TE", "trailers");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
        request.Headers.TryAddWithoutValidation("X-Custom", "kept");
        request.Headers.TryAddWithoutValidation("Cookie", "a=1; b=2");

        using var response = await f.Client.SendAsync(request);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(": ", 2)).ToDictionary(p => p[0], p => p[1], StringComparer.OrdinalIgnoreCase);

        Assert.Equal("podinfo.example:8080", lines["Host"]);
        Assert.Equal("203.0.113.9, 127.0.0.1", lines["X-Forwarded-For"]);
        Assert.Equal("http", lines["X-Forwarded-Proto"]);
        Assert.Equal("podinfo.example:8080", lines["X-Forwarded-Host"]);
        Assert.Equal("kept", lines["X-Custom"]);
        Assert.Equal("a=1; b=2", lines["Cookie"]);
        foreach (var hop in new[] { "Keep-Alive", "Proxy-Authorization", "TE", "Upgrade" })
            Assert.False(lines.ContainsKey(hop), hop);
        Assert.Equal("primary", Assert.Single(response.Headers.GetValues("X-Backend")));
    }

    [Fact]
    public async Task Forward_HeaderNamedInConnection_Removed()
    {
        await using var f = await ProxyFixture.StartAsync();

        // HttpClient drops unknown Connection options, so this request is written by hand. (Kestrel keeps only
        // "close" of "close, X-Private", so the option goes on a keep-alive request, followed by one that closes.)
        var response = await RawHttp.SendAsync(f.Address,
            "GET /headers HTTP/1.1\r\nHost: podinfo\r\nConnection: X-Private\r\nX-Private: per-hop\r\nX-Public: end-to-end\r\n\r\n"
            + "GET / HTTP/1.1\r\nHost: podinfo\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200", response, StringComparison.Ordinal);
        Assert.Contains("X-Public: end-to-end", response, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Private", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forward_ResponseStatusAndQuery_PassThrough()
    {
        await using var f = await ProxyFixture.StartAsync();

        using var notFound = await f.Client.GetAsync("/status/404");
        using var created = await f.Client.PostAsync("/status/201?x=1&y=%20z", new StringContent("body"));

        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Contains(f.Primary.Received, r => r.Method == "POST" && r.Target == "/status/201?x=1&y=%20z" && r.BodyLength == 4);
    }

    [Fact]
    public async Task Forward_BodylessResponses_HeadAnd204And304()
    {
        await using var f = await ProxyFixture.StartAsync();

        using var head = await f.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"));
        using var noContent = await f.Client.DeleteAsync("/status/204");
        using var notModified = await f.Client.GetAsync("/status/304");

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("primary".Length, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.NoContent, noContent.StatusCode);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal("primary", await f.Client.GetStringAsync("/")); // the connection is still good
    }

    [Fact]
    public async Task Forward_ClientAborts_UpstreamCallCancelled()
    {
        await using var f = await ProxyFixture.StartAsync();
        using var cancel = new CancellationTokenSource();

        var call = f.Client.GetAsync("/hang", cancel.Token);
        await Eventually.True(() => f.Primary.Requests == 1);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await f.Primary.Aborted.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Forward_DeadBackend_Answers502AndCountsServerError()
    {
        await using var f = await ProxyFixture.StartAsync();
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary, [new BackendEndpoint("dead", DeadAddress())]);

        using var response = await f.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var traffic = f.Proxy.GetTraffic(ProxyFixture.Service, BackendRole.Primary, TimeSpan.FromMinutes(1));
        Assert.Equal((1, 1), (traffic.Total, traffic.ServerErrors));
    }

    [Fact]
    public async Task Forward_RequestTimeout_Answers504()
    {
        await using var f = await ProxyFixture.StartAsync(new ProxyOptions { RequestTimeout = TimeSpan.FromMilliseconds(200) });

        using var response = await f.Client.GetAsync("/slow");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal(1, f.Proxy.GetTraffic(ProxyFixture.Service, BackendRole.Primary, TimeSpan.FromMinutes(1)).ServerErrors);
    }

    [Fact]
    public async Task Forward_ConnectionRefused_RetriedOnAnotherEndpoint()
    {
        await using var f = await ProxyFixture.StartAsync();
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary,
            [new BackendEndpoint("dead", DeadAddress()), f.Primary.Endpoint("alive")]);

        for (var i = 0; i < 40; i++)
        {
            using var response = await f.Client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("primary", await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(40, f.Primary.Requests);
    }

    [Fact]
    public async Task Forward_ConnectionRefused_EndpointPassedOverAfterwards()
    {
        var logs = new ListLoggerFactory();
        await using var f = await ProxyFixture.StartAsync(new ProxyOptions { UnreachableBackoff = TimeSpan.FromMinutes(5) }, logs: logs);
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary,
            [new BackendEndpoint("dead", DeadAddress()), f.Primary.Endpoint("alive")]);

        Assert.Equal((60, 0), await f.CountAsync(60));

        // The dead endpoint was tried once (a random draw picks it early) and then passed over.
        Assert.Equal(1, logs.Count("Retrying"));
        Assert.Equal(1, logs.Count("EndpointUnreachable"));
        Assert.All(logs.Entries.Where(e => e.Id.Name == "EndpointUnreachable"), e => Assert.Contains("endpoint dead", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Forward_ConnectionRefused_NoBackoff_RetriedEveryTime()
    {
        var logs = new ListLoggerFactory();
        await using var f = await ProxyFixture.StartAsync(new ProxyOptions { UnreachableBackoff = TimeSpan.Zero }, logs: logs);
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary,
            [new BackendEndpoint("dead", DeadAddress()), f.Primary.Endpoint("alive")]);

        Assert.Equal((60, 0), await f.CountAsync(60));

        Assert.True(logs.Count("Retrying") > 1, $"{logs.Count("Retrying")} retries");
        Assert.Equal(0, logs.Count("EndpointUnreachable"));
    }

    [Fact]
    public async Task Forward_UploadToDeadEndpoint_RetriedWithTheWholeBody()
    {
        await using var f = await ProxyFixture.StartAsync();
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary,
            [new BackendEndpoint("dead", DeadAddress()), f.Primary.Endpoint("alive")]);
        var body = Encoding.UTF8.GetBytes(new string('x', 100_000));

        for (var i = 0; i < 10; i++)
        {
            using var response = await f.Client.PostAsync("/upload", new StreamContent(new NonSeekableStream(body)));
            Assert.Equal($"{body.Length} {Convert.ToHexString(SHA256.HashData(body))}", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Forward_ChosenBackendEmpty_FallsBackToOther()
    {
        await using var f = await ProxyFixture.StartAsync();
        f.SetWeights(0, 100);
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Canary, []);

        Assert.Equal((20, 0), await f.CountAsync(20));

        f.SetWeights(100, 0);
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Canary, [f.Canary.Endpoint()]);
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary, []);
        Assert.Equal((0, 20), await f.CountAsync(20));
    }

    [Fact]
    public async Task Forward_NoEndpointAnywhere_Answers503()
    {
        await using var f = await ProxyFixture.StartAsync();
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary, []);
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Canary, []);

        using var response = await f.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(1, f.Proxy.GetTraffic(ProxyFixture.Service, BackendRole.Primary, TimeSpan.FromMinutes(1)).ServerErrors);
    }

    [Fact]
    public async Task Forward_LeastInFlight_AvoidsBusyEndpoint()
    {
        await using var f = await ProxyFixture.StartAsync();
        await using var idle = await TestBackend.StartAsync("primary");
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary, [f.Primary.Endpoint("busy")]);
        var slow = Enumerable.Range(0, 3).Select(_ => f.Client.GetAsync("/slow")).ToArray();
        await Eventually.True(() => f.Primary.Requests == 3);
        // The kept endpoint keeps its in-flight count across the change.
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary, [f.Primary.Endpoint("busy"), idle.Endpoint("idle")]);

        for (var i = 0; i < 30; i++) (await f.Client.GetAsync("/")).Dispose();

        // Two choices among two endpoints always compare both: every request goes to the one with nothing in flight.
        Assert.Equal((3, 30), (f.Primary.Requests, idle.Requests));
        f.Primary.Gate.SetResult();
        foreach (var response in await Task.WhenAll(slow)) Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Listen_PortTaken_FailsAsData()
    {
        await using var f = await ProxyFixture.StartAsync();
        await using var other = new ProxyServer(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, TimeProvider.System);

        var outcome = await other.ListenAsync(ProxyFixture.Binding with { Port = f.Address.Port }, CancellationToken.None);
        var again = await f.Proxy.ListenAsync(ProxyFixture.Binding, CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains(f.Address.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), outcome.Error, StringComparison.Ordinal);
        Assert.True(again.Succeeded); // idempotent
        Assert.Equal(f.Address, Assert.Single(f.Proxy.GetListenAddresses(ProxyFixture.Service)));
    }

    /// <summary>A loopback port nobody listens on: bound, then released.</summary>
    internal static Uri DeadAddress() => new($"http://127.0.0.1:{Aviary.TestKit.FreePorts.Next()}");

    private static async Task<string> ReadAtLeastAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        return Encoding.UTF8.GetString(buffer);
    }

    /// <summary>A read-only stream of unknown length, so HttpClient sends it chunked.</summary>
    private sealed class NonSeekableStream(byte[] data) : Stream
    {
        private int _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(count, Math.Min(data.Length - _position, 100_000));
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
