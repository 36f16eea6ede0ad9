using System.Net;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>Weighted splitting through real Kestrel servers, route and endpoint round trips, atomic weight changes.</summary>
public sealed class WeightedRoutingTests
{
    [Theory]
    [InlineData(90, 10)]
    [InlineData(50, 50)]
    public async Task Split_2000Requests_WithinThreePointsOfWeight(int primary, int canary)
    {
        await using var f = await ProxyFixture.StartAsync(seed: 7);
        f.SetWeights(primary, canary);

        var (p, c) = await f.CountAsync(2000);

        Assert.Equal(2000, p + c);
        Assert.InRange(100.0 * c / 2000, canary - 3, canary + 3);
        Assert.True(p == f.Primary.Requests, $"the client saw {p} primary answers, the primary counted {f.Primary.Requests}; it also got {f.Primary.Others()}");
        Assert.True(c == f.Canary.Requests, $"the client saw {c} canary answers, the canary counted {f.Canary.Requests}; it also got {f.Canary.Others()}");
    }

    [Theory]
    [InlineData(100, 0)]
    [InlineData(0, 100)]
    public async Task Split_AllOnOneSide_Exact(int primary, int canary)
    {
        await using var f = await ProxyFixture.StartAsync();
        f.SetWeights(primary, canary);

        var (p, c) = await f.CountAsync(300);

        Assert.Equal(primary == 100 ? (300, 0) : (0, 300), (p, c));
    }

    [Fact]
    public async Task Split_NoRouteSet_AllPrimary()
    {
        await using var f = await ProxyFixture.StartAsync();
        Assert.Equal((50, 0), await f.CountAsync(50));
        Assert.Equal(RouteConfig.AllPrimary, f.Proxy.GetRoute(ProxyFixture.Service));
    }

    [Fact]
    public async Task SetRoute_GetRoute_RoundTrips()
    {
        await using var proxy = new ProxyServer(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, TimeProvider.System);
        var config = new RouteConfig(new RouteWeights(70, 30), [new AnalysisMatch { Headers = new Dictionary<string, HeaderMatch> { ["x-canary"] = new() { Exact = "insider" } } }],
            0, new SessionAffinity { CookieName = "flagger-cookie", MaxAge = 60 }) { PrimaryCookieMaxAge = TimeSpan.FromSeconds(30) };

        proxy.SetRoute("svc", config);

        Assert.Same(config, proxy.GetRoute("svc"));
        Assert.Equal(RouteConfig.AllPrimary, proxy.GetRoute("other"));
    }

    [Fact]
    public async Task SetEndpoints_GetEndpoints_RoundTrips()
    {
        await using var proxy = new ProxyServer(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, TimeProvider.System);
        BackendEndpoint[] primary = [new("p-1", new Uri("http://127.0.0.1:1001")), new("p-2", new Uri("http://127.0.0.1:1002"))];
        BackendEndpoint[] canary = [new("c-1", new Uri("http://127.0.0.1:2001"))];

        proxy.SetEndpoints("svc", BackendRole.Primary, primary);
        proxy.SetEndpoints("svc", BackendRole.Canary, canary);

        Assert.Equal(primary, proxy.GetEndpoints("svc", BackendRole.Primary));
        Assert.Equal(canary, proxy.GetEndpoints("svc", BackendRole.Canary));
        proxy.SetEndpoints("svc", BackendRole.Primary, []);
        Assert.Empty(proxy.GetEndpoints("svc", BackendRole.Primary));
        Assert.Empty(proxy.GetEndpoints("unknown", BackendRole.Canary));
    }

    [Fact]
    public async Task SetRoute_InvalidConfig_ThrowsNamingEveryProblem()
    {
        await using var proxy = new ProxyServer(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, TimeProvider.System);
        var config = new RouteConfig(new RouteWeights(80, 30), [new AnalysisMatch
        {
            Headers = new Dictionary<string, HeaderMatch> { ["x"] = new() { Regex = "(unclosed" }, ["y"] = new() { Exact = "a", Prefix = "b" } },
        }], 120, new SessionAffinity { CookieName = "bad name", SameSite = "Sometimes" });

        var e = Assert.Throws<ArgumentException>(() => proxy.SetRoute("svc", config));

        foreach (var part in new[] { "do not add up to 100", "mirrorWeight 120", "match[0].headers[x].regex", "match[0].headers[y]", "cookieName", "sameSite" })
            Assert.Contains(part, e.Message, StringComparison.Ordinal);
        Assert.Equal(RouteConfig.AllPrimary, proxy.GetRoute("svc"));
    }

    [Fact]
    public async Task SetEndpoints_Invalid_Throws()
    {
        await using var proxy = new ProxyServer(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, TimeProvider.System);
        var e = Assert.Throws<ArgumentException>(() => proxy.SetEndpoints("svc", BackendRole.Primary,
            [new("a", new Uri("http://127.0.0.1:1")), new("a", new Uri("http://127.0.0.1:2")), new("b", new Uri("/relative", UriKind.Relative))]));
        Assert.Contains("repeated", e.Message, StringComparison.Ordinal);
        Assert.Contains("absolute http", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SetRoute_ManyChangesUnderConcurrentLoad_NoRequestFails()
    {
        await using var f = await ProxyFixture.StartAsync();
        using var done = new CancellationTokenSource();
        var failures = 0;
        var served = 0;
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                using var response = await f.Client.GetAsync("/");
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK || body is not ("primary" or "canary")) Interlocked.Increment(ref failures);
                Interlocked.Increment(ref served);
            }
        })).ToArray();

        var changes = 0;
        for (var i = 0; i < 150; i++)
        {
            var canary = i * 7 % 101;
            f.SetWeights(100 - canary, canary);
            changes++;
            // Let some requests through between changes, without relying on timing.
            var target = Volatile.Read(ref served) + 5;
            while (Volatile.Read(ref served) < target) await Task.Yield();
        }
        await done.CancelAsync();
        await Task.WhenAll(clients);

        Assert.True(changes >= 100);
        Assert.Equal(0, failures);
        Assert.True(served >= 750, $"only {served} requests served");
        Assert.True(f.Primary.Requests > 0 && f.Canary.Requests > 0);
    }
}
