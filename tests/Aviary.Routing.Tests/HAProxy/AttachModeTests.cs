using System.Net;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Routing.HAProxy;
using Aviary.Routing.Tests.Contract;
using Aviary.Routing.Tests.Proxy;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Routing.Tests.HAProxy;

/// <summary>Attach mode: an HAProxy started by the test with a hand-written configuration, driven only through its runtime API.</summary>
public sealed class AttachModeTests : IAsyncLifetime
{
    private readonly int _port = ContractCanaries.FreePort();
    private TestBackend _blue1 = null!, _blue2 = null!, _green = null!;

    public async Task InitializeAsync()
    {
        _blue1 = await TestBackend.StartAsync("blue1");
        _blue2 = await TestBackend.StartAsync("blue2");
        _green = await TestBackend.StartAsync("green");
    }

    public async Task DisposeAsync()
    {
        await _blue1.DisposeAsync();
        await _blue2.DisposeAsync();
        await _green.DisposeAsync();
    }

    private CanaryPolicy Policy => ContractCanaries.Canary("haproxy", _port);

    /// <summary>A backend with fixed servers: two blue (the primary) and one green (the canary, weight 0).</summary>
    private string StaticConfig(int blueWeight = 100, int greenWeight = 0) => $"""
        global
          stats socket {"{socket}"} mode 600 level admin
        defaults
          mode http
          timeout connect 5s
          timeout client 30s
          timeout server 30s
        frontend web
          bind 127.0.0.1:{_port}
          default_backend web_app
        backend web_app
          balance roundrobin
          server blue1 127.0.0.1:{_blue1.Address.Port} weight {blueWeight}
          server blue2 127.0.0.1:{_blue2.Address.Port} weight {blueWeight}
          server green1 127.0.0.1:{_green.Address.Port} weight {greenWeight}
        """;

    /// <summary>A backend of free slots, p1..p3 and c1..c3, for instances published by Aviary.</summary>
    private string SlotConfig => $"""
        global
          stats socket {"{socket}"} mode 600 level admin
        defaults
          mode http
          timeout connect 5s
          timeout client 30s
          timeout server 30s
        frontend web
          bind 127.0.0.1:{_port}
          default_backend web_app
        backend web_app
          balance roundrobin
          server-template p 1-3 127.0.0.1:1 disabled
          server-template c 1-3 127.0.0.1:1 disabled
        """;

    private static HAProxyRouter Attach(ManualHAProxy haproxy, string primary = "blue*", string canary = "green1") => new(new HAProxyOptions
    {
        Attach = new HAProxyAttachOptions(haproxy.Socket, [new HAProxyAttachment(ContractCanaries.Service, "web_app", [primary], [canary])]),
    }, TimeProvider.System, NullLoggerFactory.Instance);

    private async Task<Dictionary<string, int>> CountAsync(int requests)
    {
        using var client = ProxyFixture.NewClient(new Uri($"http://127.0.0.1:{_port}"));
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < requests; i++)
        {
            using var response = await client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.Content.ReadAsStringAsync();
            counts[body] = counts.GetValueOrDefault(body) + 1;
        }
        return counts;
    }

    private static async Task<Dictionary<string, StatRow>> ServersAsync(ManualHAProxy haproxy) =>
        (await haproxy.Api.ShowServerStatsAsync("web_app", CancellationToken.None)).Value!.ToDictionary(r => r.Name);

    [Fact]
    public async Task SetRoutes_FixedServers_OnlyWeightsChange()
    {
        await using var haproxy = await ManualHAProxy.StartAsync(StaticConfig());
        await using var router = Attach(haproxy);
        Assert.True((await router.ReconcileAsync(Policy, CancellationToken.None)).Succeeded);
        Assert.Equal(RouteWeights.AllPrimary, (await router.GetRoutesAsync(Policy, CancellationToken.None)).Value);

        Assert.True((await router.SetRoutesAsync(Policy, new RouteWeights(80, 20), CancellationToken.None)).Succeeded);

        Assert.Equal(new RouteWeights(80, 20), (await router.GetRoutesAsync(Policy, CancellationToken.None)).Value);
        var servers = await ServersAsync(haproxy);
        Assert.All(servers.Values, s => Assert.Equal(ServerStatus.Up, s.Status));
        Assert.Equal($"127.0.0.1:{_green.Address.Port}", servers["green1"].Address);
        Assert.Equal(servers["blue1"].UserWeight, servers["blue2"].UserWeight);
        var counts = await CountAsync(1000);
        Assert.InRange(counts["green"], 170, 230);
        Assert.Equal(1000, counts["blue1"] + counts["blue2"] + counts["green"]);
    }

    [Fact]
    public async Task Reconcile_ExistingWeights_Kept()
    {
        await using var haproxy = await ManualHAProxy.StartAsync(StaticConfig(blueWeight: 30, greenWeight: 20));
        await using var router = Attach(haproxy);

        Assert.True((await router.ReconcileAsync(Policy, CancellationToken.None)).Succeeded);

        Assert.Equal(new RouteWeights(75, 25), (await router.GetRoutesAsync(Policy, CancellationToken.None)).Value);
    }

    [Fact]
    public async Task SetEndpoints_Slots_FilledDrainedAndFreed()
    {
        await using var haproxy = await ManualHAProxy.StartAsync(SlotConfig);
        await using var router = Attach(haproxy, "p*", "c*");
        router.SetEndpoints(ContractCanaries.Service, BackendRole.Primary, [_blue1.Endpoint(), _blue2.Endpoint()]);
        router.SetEndpoints(ContractCanaries.Service, BackendRole.Canary, [_green.Endpoint()]);
        Assert.True((await router.ReconcileAsync(Policy, CancellationToken.None)).Succeeded);

        Assert.True((await router.SetRoutesAsync(Policy, new RouteWeights(50, 50), CancellationToken.None)).Succeeded);

        var servers = await ServersAsync(haproxy);
        Assert.Equal([ServerStatus.Up, ServerStatus.Up, ServerStatus.Maint, ServerStatus.Up, ServerStatus.Maint, ServerStatus.Maint],
            new[] { "p1", "p2", "p3", "c1", "c2", "c3" }.Select(n => servers[n].Status));
        Assert.Equal(2 * servers["p1"].UserWeight, servers["c1"].UserWeight);
        var counts = await CountAsync(100);
        Assert.InRange(counts["green"], 48, 52);

        router.SetEndpoints(ContractCanaries.Service, BackendRole.Primary, [_blue2.Endpoint()]);
        Assert.True(await router.DrainAsync(ContractCanaries.Service, "blue1", TimeSpan.FromSeconds(30), CancellationToken.None));

        Assert.Equal(ServerStatus.Maint, (await ServersAsync(haproxy))["p1"].Status);
        Assert.Equal(new Dictionary<string, int> { ["blue2"] = 10, ["green"] = 10 }, await CountAsync(20));
    }

    [Fact]
    public async Task NewRouter_SameHAProxy_AdoptsWeightsAndSlots()
    {
        await using var haproxy = await ManualHAProxy.StartAsync(SlotConfig);
        await using (var first = Attach(haproxy, "p*", "c*"))
        {
            first.SetEndpoints(ContractCanaries.Service, BackendRole.Primary, [_blue1.Endpoint()]);
            first.SetEndpoints(ContractCanaries.Service, BackendRole.Canary, [_green.Endpoint()]);
            Assert.True((await first.ReconcileAsync(Policy, CancellationToken.None)).Succeeded);
            Assert.True((await first.SetRoutesAsync(Policy, new RouteWeights(70, 30), CancellationToken.None)).Succeeded);
        }
        var before = await ServersAsync(haproxy);

        // A restarted controller: HAProxy kept the routing, the new router finds it there.
        await using var second = Attach(haproxy, "p*", "c*");
        second.SetEndpoints(ContractCanaries.Service, BackendRole.Canary, [_green.Endpoint()]);
        second.SetEndpoints(ContractCanaries.Service, BackendRole.Primary, [_blue1.Endpoint()]);
        Assert.True((await second.ReconcileAsync(Policy, CancellationToken.None)).Succeeded);

        Assert.Equal(new RouteWeights(70, 30), (await second.GetRoutesAsync(Policy, CancellationToken.None)).Value);
        var after = await ServersAsync(haproxy);
        Assert.Equal(before["p1"].Address, after["p1"].Address);
        Assert.Equal(before["c1"].Address, after["c1"].Address);
        Assert.Equal(before["c1"].StatusText, after["c1"].StatusText);
    }

    [Fact]
    public async Task Reconcile_Misconfigured_FailsSayingWhy()
    {
        await using var haproxy = await ManualHAProxy.StartAsync(StaticConfig());
        await using var noMatch = Attach(haproxy, "blue*", "yellow*");
        await using var noBackend = new HAProxyRouter(new HAProxyOptions
        {
            Attach = new HAProxyAttachOptions(haproxy.Socket, [new HAProxyAttachment(ContractCanaries.Service, "nope", ["a"], ["b"])]),
        }, TimeProvider.System, NullLoggerFactory.Instance);
        await using var noSocket = new HAProxyRouter(new HAProxyOptions
        {
            Attach = new HAProxyAttachOptions(haproxy.Socket + ".missing", [new HAProxyAttachment(ContractCanaries.Service, "web_app", ["blue1"], ["green1"])]),
        }, TimeProvider.System, NullLoggerFactory.Instance);
        var other = Policy with { Name = "other" };

        Assert.Contains("no server of backend web_app matches the canary's (yellow*)", (await noMatch.ReconcileAsync(Policy, CancellationToken.None)).Error, StringComparison.Ordinal);
        Assert.Contains("No such proxy.", (await noBackend.ReconcileAsync(Policy, CancellationToken.None)).Error, StringComparison.Ordinal);
        Assert.Contains(".missing", (await noSocket.ReconcileAsync(Policy, CancellationToken.None)).Error, StringComparison.Ordinal);
        Assert.Contains("no backend configured for other.test", (await noMatch.ReconcileAsync(other, CancellationToken.None)).Error, StringComparison.Ordinal);
        Assert.Contains("no backend configured for other.test", (await noMatch.SetRoutesAsync(other, RouteWeights.AllPrimary, CancellationToken.None)).Error, StringComparison.Ordinal);
    }
}
