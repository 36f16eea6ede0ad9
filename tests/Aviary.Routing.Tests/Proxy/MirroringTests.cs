using System.Net;
using Aviary.Core.Abstractions;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>Traffic mirroring: the primary serves everything, the canary gets fire-and-forget copies.</summary>
public sealed class MirroringTests
{
    [Fact]
    public async Task Mirror_AllTraffic_CopiesToCanaryClientSeesPrimaryOnly()
    {
        await using var f = await ProxyFixture.StartAsync();
        f.Proxy.SetRoute(ProxyFixture.Service, new RouteConfig(new RouteWeights(100, 0, Mirrored: true), [], 0, null));

        for (var i = 0; i < 20; i++)
        {
            using var response = await f.Client.PostAsync($"/status/201?i={i}", new StringContent("payload-" + i));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            Assert.Equal("primary", Assert.Single(response.Headers.GetValues("X-Backend")));
        }
        await Eventually.True(() => f.Canary.Received.Count == 20);

        Assert.Equal(20, f.Primary.Requests);
        var copies = f.Canary.Received.OrderBy(r => r.Target.Length).ThenBy(r => r.Target, StringComparer.Ordinal).ToList();
        Assert.All(copies, c => Assert.Equal("POST", c.Method));
        Assert.Contains(copies, c => c.Target == "/status/201?i=13" && c.BodyLength == "payload-13".Length);
        await Eventually.True(() =>
            f.Proxy.GetTraffic(ProxyFixture.Service, BackendRole.Canary, TimeSpan.FromMinutes(1)).Total == 20);
        Assert.Equal(20, f.Proxy.GetTraffic(ProxyFixture.Service, BackendRole.Primary, TimeSpan.FromMinutes(1)).Total);
    }

    [Fact]
    public async Task Mirror_CanaryFails_ClientUnaffectedFailureCountedForCanary()
    {
        await using var f = await ProxyFixture.StartAsync();
        f.Proxy.SetRoute(ProxyFixture.Service, new RouteConfig(new RouteWeights(100, 0, Mirrored: true), [], 0, null));
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Canary, [new BackendEndpoint("dead", ForwardingTests.DeadAddress())]);

        for (var i = 0; i < 5; i++)
        {
            using var response = await f.Client.GetAsync("/");
            Assert.Equal("primary", await response.Content.ReadAsStringAsync());
        }

        await Eventually.True(() =>
            f.Proxy.GetTraffic(ProxyFixture.Service, BackendRole.Canary, TimeSpan.FromMinutes(1)).ServerErrors == 5);
        Assert.Equal(0, f.Proxy.GetTraffic(ProxyFixture.Service, BackendRole.Primary, TimeSpan.FromMinutes(1)).ServerErrors);
    }

    [Fact]
    public async Task Mirror_Weight_CopiesAboutThatShare()
    {
        await using var f = await ProxyFixture.StartAsync(seed: 11);
        f.Proxy.SetRoute(ProxyFixture.Service, new RouteConfig(new RouteWeights(100, 0, Mirrored: true), [], 25, null));

        Assert.Equal((400, 0), await f.CountAsync(400));
        // Copies are fire-and-forget: wait until the proxy has none in flight, then count.
        await Eventually.True(() => MirrorsInFlight(f) == 0);

        Assert.InRange(f.Canary.Requests, 70, 130);
    }

    [Fact]
    public async Task Mirror_BodyOverLimit_ServedButNotCopied()
    {
        await using var f = await ProxyFixture.StartAsync(new ProxyOptions { MirrorBodyLimit = 1000 });
        f.Proxy.SetRoute(ProxyFixture.Service, new RouteConfig(new RouteWeights(100, 0, Mirrored: true), [], 100, null));

        using var big = await f.Client.PostAsync("/upload", new ByteArrayContent(new byte[5000]));
        using var small = await f.Client.PostAsync("/upload", new ByteArrayContent(new byte[500]));
        await Eventually.True(() => f.Canary.Requests == 1);

        Assert.StartsWith("5000 ", await big.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(2, f.Primary.Requests);
        Assert.Equal(500, Assert.Single(f.Canary.Received).BodyLength);
    }

    private static double MirrorsInFlight(ProxyFixture f)
    {
        using var text = new StringWriter();
        f.Proxy.WriteMetrics(text);
        return PrometheusParser.Parse(text.ToString()).Sum("aviary_router_in_flight", ("backend", "canary"));
    }
}
