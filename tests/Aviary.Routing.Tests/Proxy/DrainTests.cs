using System.Net;
using Aviary.Core.Abstractions;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>Removing instances without cutting requests: endpoint draining and listener shutdown.</summary>
public sealed class DrainTests
{
    [Fact]
    public async Task Drain_RemovedEndpointWithSlowRequest_WaitsUntilItFinishes()
    {
        await using var f = await ProxyFixture.StartAsync();
        await using var replacement = await TestBackend.StartAsync("primary-2");
        var slow = f.Client.GetAsync("/slow");
        await f.Primary.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));

        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary, [replacement.Endpoint()]);
        var drained = f.Proxy.DrainAsync(ProxyFixture.Service, "primary", TimeSpan.FromMinutes(1), CancellationToken.None);

        // New requests go to the replacement while the old endpoint still serves its request.
        Assert.Equal("primary-2", await f.Client.GetStringAsync("/"));
        Assert.False(drained.IsCompleted);
        f.Primary.Gate.SetResult();
        Assert.True(await drained);
        using var response = await slow;
        Assert.Equal("slow primary", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, f.Primary.Requests);
    }

    [Fact]
    public async Task Drain_RequestOutlastsTimeout_ReturnsFalse()
    {
        await using var f = await ProxyFixture.StartAsync();
        var slow = f.Client.GetAsync("/slow");
        await f.Primary.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Primary, []);

        Assert.False(await f.Proxy.DrainAsync(ProxyFixture.Service, "primary", TimeSpan.FromMilliseconds(50), CancellationToken.None));

        f.Primary.Gate.SetResult();
        (await slow).Dispose();
        Assert.True(await f.Proxy.DrainAsync(ProxyFixture.Service, "primary", TimeSpan.FromMinutes(1), CancellationToken.None));
    }

    [Fact]
    public async Task Drain_IdleOrUnknownEndpoint_TrueAtOnce()
    {
        await using var f = await ProxyFixture.StartAsync();
        f.Proxy.SetEndpoints(ProxyFixture.Service, BackendRole.Canary, []);

        Assert.True(await f.Proxy.DrainAsync(ProxyFixture.Service, "canary", TimeSpan.Zero, CancellationToken.None));
        Assert.True(await f.Proxy.DrainAsync(ProxyFixture.Service, "never-seen", TimeSpan.Zero, CancellationToken.None));
        Assert.True(await f.Proxy.DrainAsync("no-such-service", "x", TimeSpan.Zero, CancellationToken.None));
    }

    [Fact]
    public async Task StopListening_InFlightRequestFinishes_ThenListenerGone()
    {
        await using var f = await ProxyFixture.StartAsync();
        var slow = f.Client.GetAsync("/slow");
        await f.Primary.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var stopped = f.Proxy.StopListeningAsync(ProxyFixture.Service, CancellationToken.None);
        Assert.False(stopped.IsCompleted);
        f.Primary.Gate.SetResult();

        using var response = await slow;
        await stopped;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("slow primary", await response.Content.ReadAsStringAsync());
        Assert.Empty(f.Proxy.GetListenAddresses(ProxyFixture.Service));
        using var fresh = ProxyFixture.NewClient(f.Address);
        await Assert.ThrowsAsync<HttpRequestException>(() => fresh.GetAsync("/"));

        // Listening again works, on a new port.
        Assert.True((await f.Proxy.ListenAsync(ProxyFixture.Binding, CancellationToken.None)).Succeeded);
        using var again = ProxyFixture.NewClient(Assert.Single(f.Proxy.GetListenAddresses(ProxyFixture.Service)));
        Assert.Equal("primary", await again.GetStringAsync("/"));
    }
}
