using System.Collections.Concurrent;
using Aviary.Hooks.LoadTester;

namespace Aviary.Hooks.Tests.LoadTester;

public sealed class LoadGeneratorTests
{
    private static LoadOptions Options(Uri url) => new() { Url = url };

    private static LoadOptions Hey(params string[] args)
    {
        Assert.True(HeyCommandLine.TryParse(args, out var options, out var error), error);
        return options;
    }

    [Theory]
    [InlineData(200, 50)]
    [InlineData(10, 3)]
    [InlineData(1, 1)]
    public async Task RunAsync_RequestCount_SendsExactlyThatMany(int n, int c)
    {
        await using var server = await TestServer.StartAsync();

        var report = await new LoadGenerator(Hey("-n", TestServer.Text(n), "-c", TestServer.Text(c), server.Url("/").ToString()))
            .RunAsync(CancellationToken.None);

        Assert.Equal(n, server.Hits);
        Assert.Equal(n, report.Requests);
        Assert.Equal(n, report.Responses);
        Assert.Equal(0, report.Errors);
        Assert.Equal(new Dictionary<int, long> { [200] = n }, report.StatusCodeDistribution);
        Assert.Empty(report.ErrorDistribution);
    }

    [Fact]
    public async Task RunAsync_Concurrency_ServerSeesAtMostThatMany()
    {
        await using var server = await TestServer.StartAsync();

        var report = await new LoadGenerator(Hey("-n", "100", "-c", "5", server.Url("/slow").ToString())).RunAsync(CancellationToken.None);

        Assert.Equal(100, report.Responses);
        Assert.InRange(server.MaxInFlight, 2, 5);
    }

    [Fact]
    public async Task RunAsync_RateLimitPerWorker_BoundsTheCount()
    {
        await using var server = await TestServer.StartAsync();
        const double q = 5, c = 2, seconds = 1;

        var report = await new LoadGenerator(Hey("-z", "1s", "-q", "5", "-c", "2", server.Url("/").ToString())).RunAsync(CancellationToken.None);

        // hey's ticker: a worker's first request waits one interval, so at most q·d per worker; c of slack.
        // No lower bound beyond "it ran": a loaded machine may be slow to answer the first requests.
        Assert.InRange(report.Requests, 1, (long)(q * c * seconds + c));
        Assert.Equal(report.Requests, server.Hits);
    }

    [Fact]
    public async Task RunAsync_Duration_StopsSendingThen()
    {
        await using var server = await TestServer.StartAsync();

        // Returning at all shows it stopped (a duration overrides -n); every request it sent is in the report.
        var report = await new LoadGenerator(Options(server.Url("/")) with { Duration = TimeSpan.FromMilliseconds(300), Concurrency = 4, Requests = 1 })
            .RunAsync(CancellationToken.None);

        Assert.True(report.Requests > 0);
        Assert.True(report.Total >= TimeSpan.FromMilliseconds(290));
        Assert.Equal(report.Requests, server.Hits);
    }

    [Fact]
    public async Task RunAsync_ServerErrors_CountedInStatusDistribution()
    {
        await using var server = await TestServer.StartAsync();

        var report = await new LoadGenerator(Hey("-n", "100", "-c", "4", server.Url("/every/4").ToString())).RunAsync(CancellationToken.None);

        Assert.Equal(new Dictionary<int, long> { [200] = 75, [500] = 25 }, report.StatusCodeDistribution);
        Assert.Equal(25, report.Failures);
        Assert.Equal(0, report.Errors);
        Assert.Contains("  [500]\t25 responses\n", report.ToHeySummary(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ClosedPort_ErrorsWithoutResponses()
    {
        var url = new Uri($"http://127.0.0.1:{TestServer.ClosedPort()}/");
        var results = new ConcurrentQueue<RequestResult>();

        var report = await new LoadGenerator(Hey("-n", "10", "-c", "2", url.ToString())).RunAsync(new SyncProgress(results.Enqueue), CancellationToken.None);

        Assert.Equal(10, report.Requests);
        Assert.Equal(0, report.Responses);
        Assert.Equal(10, report.Errors);
        Assert.Equal(10, report.Failures);
        Assert.Empty(report.StatusCodeDistribution);
        var (error, count) = Assert.Single(report.ErrorDistribution);
        Assert.Equal(10, count);
        Assert.StartsWith($"Get \"{url}\": ", error, StringComparison.Ordinal);
        Assert.Contains("refused", error, StringComparison.OrdinalIgnoreCase);
        Assert.All(results, r => Assert.Equal(RequestFailure.Connection, r.Failure));
        Assert.All(results, r => Assert.True(r.IsError && r.IsFailure && r.StatusCode == 0));
        var summary = report.ToHeySummary();
        Assert.Contains("Error distribution:\n  [10]\tGet \"", summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_SlowAnswer_TimesOut()
    {
        await using var server = await TestServer.StartAsync();
        var results = new ConcurrentQueue<RequestResult>();

        var report = await new LoadGenerator(Options(server.Url("/sleep/5000")) with { Requests = 2, Concurrency = 2, Timeout = TimeSpan.FromMilliseconds(200) })
            .RunAsync(new SyncProgress(results.Enqueue), CancellationToken.None);

        Assert.Equal(2, report.Errors);
        Assert.All(results, r => Assert.Equal(RequestFailure.Timeout, r.Failure));
        Assert.Contains("timed out", Assert.Single(report.ErrorDistribution).Key, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_Progress_HearsEveryRequest()
    {
        await using var server = await TestServer.StartAsync();
        var results = new ConcurrentQueue<RequestResult>();

        var report = await new LoadGenerator(Hey("-n", "40", "-c", "4", server.Url("/every/2").ToString()))
            .RunAsync(new SyncProgress(results.Enqueue), CancellationToken.None);

        Assert.Equal(40, results.Count);
        Assert.Equal(20, results.Count(r => r.IsFailure));
        Assert.All(results, r => Assert.True(r.Latency > TimeSpan.Zero && r.CompletedAt >= r.StartedAt && r.Offset >= TimeSpan.Zero));
        Assert.Equal(report.Requests, results.Count);
    }

    [Fact]
    public async Task RunAsync_Steady_RunsUntilCancelledAndReports()
    {
        await using var server = await TestServer.StartAsync();
        using var cts = new CancellationTokenSource();
        var count = 0;
        var progress = new SyncProgress(_ =>
        {
            if (Interlocked.Increment(ref count) == 50) cts.Cancel();
        });

        var run = new LoadGenerator(Options(server.Url("/")) with { Steady = true, Concurrency = 2, Duration = TimeSpan.FromMilliseconds(1) })
            .RunAsync(progress, cts.Token);
        var report = await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.InRange(report.Requests, 50, 52);
        Assert.Equal(report.Requests, Volatile.Read(ref count));
    }

    [Fact]
    public async Task RunAsync_CancelledWhileWaiting_AbandonsInFlight()
    {
        await using var server = await TestServer.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300), TimeProvider.System);

        var report = await new LoadGenerator(Options(server.Url("/sleep/10000")) with { Requests = 2, Concurrency = 2 })
            .RunAsync(cts.Token).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, report.Requests);
    }

    [Fact]
    public async Task RunAsync_HeyFlags_ShapeTheRequest()
    {
        await using var server = await TestServer.StartAsync();

        await new LoadGenerator(Hey(
            "-n", "1", "-c", "1", "-m", "post", "-H", "X-Test: one", "-H", "X-Other:  two", "-d", "hello",
            "-T", "application/json", "-A", "text/plain", "-a", "user:pass", "-host", "example.test",
            server.Url("/echo").ToString())).RunAsync(CancellationToken.None);

        var seen = Assert.Single(server.Seen);
        Assert.Equal("POST", seen.Method);
        Assert.Equal("hello", seen.Body);
        Assert.Equal("application/json", seen.Headers["Content-Type"]);
        Assert.Equal("text/plain", seen.Headers["Accept"]);
        Assert.Equal("Basic dXNlcjpwYXNz", seen.Headers["Authorization"]);
        Assert.Equal("one", seen.Headers["X-Test"]);
        Assert.Equal("two", seen.Headers["X-Other"]);
        Assert.Equal("hey/0.0.1", seen.Headers["User-Agent"]);
        Assert.Equal("example.test", seen.Headers["Host"]);
    }

    [Fact]
    public async Task RunAsync_Get_SendsNoBody()
    {
        await using var server = await TestServer.StartAsync();

        await new LoadGenerator(Hey("-n", "1", "-c", "1", server.Url("/echo").ToString())).RunAsync(CancellationToken.None);

        var seen = Assert.Single(server.Seen);
        Assert.Equal("GET", seen.Method);
        Assert.Equal("", seen.Body);
        Assert.False(seen.Headers.ContainsKey("Content-Length") && seen.Headers["Content-Length"] != "0");
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 5)]
    public async Task RunAsync_KeepAlive_ReusesConnectionUnlessDisabled(bool disable, int connections)
    {
        await using var server = await TestServer.StartAsync();
        var args = new List<string> { "-n", "5", "-c", "1" };
        if (disable) args.Add("-disable-keepalive");
        args.Add(server.Url("/echo").ToString());

        await new LoadGenerator(Hey([.. args])).RunAsync(CancellationToken.None);

        Assert.Equal(connections, server.Seen.Select(s => s.ConnectionId).Distinct().Count());
    }

    [Fact]
    public async Task RunAsync_Redirects_FollowedUnlessDisabled()
    {
        await using var server = await TestServer.StartAsync();
        var url = server.Url("/redirect").ToString();

        var followed = await new LoadGenerator(Hey("-n", "2", "-c", "1", url)).RunAsync(CancellationToken.None);
        var kept = await new LoadGenerator(Hey("-n", "2", "-c", "1", "-disable-redirects", url)).RunAsync(CancellationToken.None);

        Assert.Equal([200], followed.StatusCodeDistribution.Keys);
        Assert.Equal([302], kept.StatusCodeDistribution.Keys);
    }

    [Fact]
    public async Task RunAsync_Body_CountsBytesAndSummaryShowsData()
    {
        await using var server = await TestServer.StartAsync();

        var report = await new LoadGenerator(Hey("-n", "4", "-c", "2", server.Url("/big").ToString())).RunAsync(CancellationToken.None);

        Assert.Equal(40_000, report.TotalBytes);
        var summary = report.ToHeySummary();
        Assert.Contains("  Total data:\t40000 bytes\n", summary, StringComparison.Ordinal);
        Assert.Contains("  Size/request:\t10000 bytes\n", summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_FlaggerCommand_SummaryHasHeysSections()
    {
        await using var server = await TestServer.StartAsync();
        Assert.True(HeyCommandLine.TryParseCommand($"hey -z 1s -q 10 -c 2 {server.Url("/")}", out var options, out var error), error);

        var report = await new LoadGenerator(options).RunAsync(CancellationToken.None);
        using var writer = new StringWriter();
        report.WriteHeySummary(writer);
        var summary = writer.ToString();

        Assert.InRange(report.Requests, 1, 10 * 2 * 1 + 2);
        foreach (var section in new[]
        {
            "\nSummary:\n", "\n  Total:\t", " secs\n", "\n  Slowest:\t", "\n  Fastest:\t", "\n  Average:\t", "\n  Requests/sec:\t",
            "\nResponse time histogram:\n", "\nLatency distribution:\n", "\n  10% in ", "\n  50% in ", "\n  99% in ",
            "\nStatus code distribution:\n", $"\n  [200]\t{report.Requests} responses\n",
        })
            Assert.Contains(section, summary, StringComparison.Ordinal);
        Assert.DoesNotContain("Error distribution", summary, StringComparison.Ordinal);
        Assert.Equal(11, report.Histogram.Count);
        Assert.Equal(report.Responses, report.Histogram.Sum(b => b.Count));
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsWithEveryProblem()
    {
        var options = new LoadOptions { Url = new Uri("ftp://x/"), Concurrency = 0, Requests = 0, RateLimit = -1, Method = "BAD METHOD" };

        var e = Assert.Throws<ArgumentException>(() => new LoadGenerator(options));

        Assert.Contains("http or https", e.Message, StringComparison.Ordinal);
        Assert.Contains("concurrency", e.Message, StringComparison.Ordinal);
        Assert.Contains("requests", e.Message, StringComparison.Ordinal);
        Assert.Contains("rate limit", e.Message, StringComparison.Ordinal);
        Assert.Contains("method", e.Message, StringComparison.Ordinal);
    }

    /// <summary>An <see cref="IProgress{T}"/> that reports on the calling worker (<see cref="Progress{T}"/> would post).</summary>
    private sealed class SyncProgress(Action<RequestResult> report) : IProgress<RequestResult>
    {
        public void Report(RequestResult value) => report(value);
    }
}
