using System.Diagnostics;
using System.Net;
using Aviary.Core.Abstractions;
using Aviary.Routing.HAProxy;
using Aviary.Routing.Tests.Contract;
using Aviary.Routing.Tests.Proxy;

namespace Aviary.Routing.Tests.HAProxy;

/// <summary>Generate mode with a real HAProxy: slots, drains, supervision, reloads, the exporter, what is refused.</summary>
public sealed class GenerateModeTests
{
    [Fact]
    public async Task SetRoutes_ServerWeightsSplitPerRole()
    {
        await using var f = await HAProxyFixture.StartAsync();
        await using var primary2 = await TestBackend.StartAsync("primary");
        f.Router.SetEndpoints(HAProxyFixture.Service, BackendRole.Primary, [f.Primary.Endpoint("primary-0"), primary2.Endpoint("primary-1")]);

        await f.SetRoutesAsync(90, 10);

        var slots = await f.SlotsAsync();
        Assert.Equal((ServerStatus.Up, 9), (slots["primary1"].Status, slots["primary1"].UserWeight));
        Assert.Equal((ServerStatus.Up, 9), (slots["primary2"].Status, slots["primary2"].UserWeight));
        Assert.Equal((ServerStatus.Up, 2), (slots["canary1"].Status, slots["canary1"].UserWeight));
        Assert.All(slots.Values.Where(s => s.Name is not ("primary1" or "primary2" or "canary1")), s => Assert.Equal(ServerStatus.Maint, s.Status));
        Assert.Equal($"127.0.0.1:{primary2.Address.Port}", slots["primary2"].Address);
        // Round robin follows the weights: 9 + 9 to the primaries for 2 to the canary (give or take where a cycle starts).
        var counts = await f.CountAsync(200);
        Assert.InRange(counts["canary"], 18, 22);
        Assert.InRange(f.Primary.Requests, 88, 92);
        Assert.InRange(primary2.Requests, 88, 92);
    }

    [Fact]
    public async Task SetRoutes_ZeroWeight_RoleKeepsSlotsButNoTraffic()
    {
        await using var f = await HAProxyFixture.StartAsync();

        await f.SetRoutesAsync(0, 100);

        var slots = await f.SlotsAsync();
        Assert.Equal((ServerStatus.Up, 0), (slots["primary1"].Status, slots["primary1"].UserWeight));
        Assert.Equal(new Dictionary<string, int> { ["canary"] = 50 }, await f.CountAsync(50));
    }

    [Fact]
    public async Task SetEndpoints_RoleWithoutInstance_OtherRoleServesEverything()
    {
        await using var f = await HAProxyFixture.StartAsync();
        await f.SetRoutesAsync(0, 100);

        f.Router.SetEndpoints(HAProxyFixture.Service, BackendRole.Canary, []);
        await f.FlushAsync();

        Assert.Equal(new Dictionary<string, int> { ["primary"] = 30 }, await f.CountAsync(30));
        // The share of a role without servers cannot be read from HAProxy: the weights set are reported.
        Assert.Equal(new RouteWeights(0, 100), await f.GetRoutesAsync());
    }

    [Fact]
    public async Task Drain_SlowRequest_SlotDrainsThenGoesToMaintenance()
    {
        await using var f = await HAProxyFixture.StartAsync();
        var slow = f.Client.GetAsync("/slow");
        await f.Primary.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));

        f.Router.SetEndpoints(HAProxyFixture.Service, BackendRole.Primary, []);
        var drained = f.Router.DrainAsync(HAProxyFixture.Service, "primary-0", TimeSpan.FromMinutes(1), CancellationToken.None);
        await f.FlushAsync();

        var slot = (await f.SlotsAsync())["primary1"];
        Assert.Equal((ServerStatus.Drain, 1L), (slot.Status, slot.CurrentSessions));
        Assert.False(drained.IsCompleted);
        // New requests go to the canary meanwhile.
        Assert.Equal("canary", await f.Client.GetStringAsync("/"));
        f.Primary.Gate.SetResult();
        Assert.True(await drained);
        using var response = await slow;
        Assert.Equal("slow primary", await response.Content.ReadAsStringAsync());
        Assert.Equal(ServerStatus.Maint, (await f.SlotsAsync())["primary1"].Status);
    }

    [Fact]
    public async Task Drain_RequestOutlastsTimeout_FalseAndSlotStaysDraining()
    {
        await using var f = await HAProxyFixture.StartAsync();
        var slow = f.Client.GetAsync("/slow");
        await f.Primary.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        f.Router.SetEndpoints(HAProxyFixture.Service, BackendRole.Primary, []);

        Assert.False(await f.Router.DrainAsync(HAProxyFixture.Service, "primary-0", TimeSpan.FromMilliseconds(300), CancellationToken.None));

        Assert.Equal(ServerStatus.Drain, (await f.SlotsAsync())["primary1"].Status);
        f.Primary.Gate.SetResult();
        (await slow).Dispose();
        Assert.True(await f.Router.DrainAsync(HAProxyFixture.Service, "primary-0", TimeSpan.FromMinutes(1), CancellationToken.None));
    }

    [Fact]
    public async Task SetEndpoints_FreedSlotReused_NewInstanceGetsTheTraffic()
    {
        await using var f = await HAProxyFixture.StartAsync();
        await using var b = await TestBackend.StartAsync("primary-b");
        await using var c = await TestBackend.StartAsync("primary-c");
        Assert.Equal(new Dictionary<string, int> { ["primary"] = 10 }, await f.CountAsync(10));

        // a (primary1) leaves for b (primary2) and is drained; c then takes the freed primary1 while a still runs.
        f.Router.SetEndpoints(HAProxyFixture.Service, BackendRole.Primary, [b.Endpoint("b")]);
        Assert.True(await f.Router.DrainAsync(HAProxyFixture.Service, "primary-0", TimeSpan.FromSeconds(30), CancellationToken.None));
        f.Router.SetEndpoints(HAProxyFixture.Service, BackendRole.Primary, [b.Endpoint("b"), c.Endpoint("c")]);
        await f.FlushAsync();

        var slots = await f.SlotsAsync();
        Assert.Equal($"127.0.0.1:{c.Address.Port}", slots["primary1"].Address);
        Assert.Equal($"127.0.0.1:{b.Address.Port}", slots["primary2"].Address);
        var counts = await f.CountAsync(40);
        Assert.Equal(new Dictionary<string, int> { ["primary-b"] = 20, ["primary-c"] = 20 }, counts);
        Assert.Equal(10, f.Primary.Requests);
    }

    [Fact]
    public async Task SetEndpoints_MoreThanSlots_ExtraGetsNoTrafficAndIsLogged()
    {
        var logs = new ListLoggerFactory();
        await using var f = await HAProxyFixture.StartAsync(o => o with { SlotsPerRole = 2 }, logs);
        await using var b = await TestBackend.StartAsync("b");
        await using var c = await TestBackend.StartAsync("c");

        f.Router.SetEndpoints(HAProxyFixture.Service, BackendRole.Primary, [f.Primary.Endpoint("primary-0"), b.Endpoint("b"), c.Endpoint("c")]);
        await f.FlushAsync();

        var counts = await f.CountAsync(20);
        Assert.Equal(new Dictionary<string, int> { ["primary"] = 10, ["b"] = 10 }, counts);
        Assert.True(logs.Count("NoFreeSlot") > 0);
        Assert.Equal(["primary1", "primary2", "canary1", "canary2"], (await f.SlotsAsync()).Keys);
    }

    [Fact]
    public async Task Supervisor_HAProxyDies_StartedAgainWithRoutesAndEndpoints()
    {
        await using var f = await HAProxyFixture.StartAsync(o => o with { RestartDelay = TimeSpan.FromMilliseconds(100) });
        await f.SetRoutesAsync(70, 30);
        var master = f.Router.ProcessId!.Value;
        var worker = (await f.Router.RuntimeApi.GetPidAsync(CancellationToken.None)).Value;

        using (var process = Process.GetProcessById(worker)) process.Kill(); // the master exits with its worker

        await Eventually.True(() => f.Router.Restarts == 1 && f.Router.ProcessId is { } pid && pid != master);
        await f.FlushAsync();
        Assert.Equal(new RouteWeights(70, 30), await f.GetRoutesAsync());
        var slots = await f.SlotsAsync();
        Assert.Equal(ServerStatus.Up, slots["primary1"].Status);
        Assert.Equal(ServerStatus.Up, slots["canary1"].Status);
        var counts = await f.CountAsync(100);
        Assert.Equal(100, counts["primary"] + counts["canary"]);
        Assert.InRange(counts["canary"], 28, 32);
    }

    [Fact]
    public async Task Supervisor_MasterKilled_StartedAgain()
    {
        await using var f = await HAProxyFixture.StartAsync(o => o with { RestartDelay = TimeSpan.FromMilliseconds(100) });
        var master = f.Router.ProcessId!.Value;

        using (var process = Process.GetProcessById(master)) process.Kill();

        await Eventually.True(() => f.Router.Restarts == 1 && f.Router.ProcessId is not null);
        // The worker of the killed master may take a moment to leave the port; the new process answers then.
        await Eventually.True(async () => (await f.Router.FlushAsync(HAProxyFixture.Service, CancellationToken.None)).Succeeded);
        Assert.Equal(new Dictionary<string, int> { ["primary"] = 10 }, await f.CountAsync(10));
    }

    [Fact]
    public async Task Dispose_StopsHAProxy()
    {
        var f = await HAProxyFixture.StartAsync();
        var master = f.Router.ProcessId!.Value;
        var socket = f.Router.SocketPath;

        await f.DisposeAsync();

        // (Not checked through the port: once freed, another test may bind it.)
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(master));
        Assert.False(File.Exists(socket));
        Assert.Null(f.Router.ProcessId);
    }

    [Fact]
    public async Task Reconcile_SecondService_ReloadKeepsTheFirstOnesRouting()
    {
        await using var f = await HAProxyFixture.StartAsync();
        await f.SetRoutesAsync(60, 40);
        var worker = (await f.Router.RuntimeApi.GetPidAsync(CancellationToken.None)).Value;
        var other = ContractCanaries.Canary("haproxy", ContractCanaries.FreePort()) with { Name = "other" };
        await using var otherBackend = await TestBackend.StartAsync("other");
        f.Router.SetEndpoints(other.Id, BackendRole.Primary, [otherBackend.Endpoint("other-0")]);

        var reconciled = await f.Router.ReconcileAsync(other, CancellationToken.None);

        Assert.True(reconciled.Succeeded, reconciled.Error);
        Assert.NotEqual(worker, (await f.Router.RuntimeApi.GetPidAsync(CancellationToken.None)).Value);
        Assert.Contains("backend other.test", await File.ReadAllTextAsync(f.Router.ConfigPath!), StringComparison.Ordinal);
        Assert.Equal(new RouteWeights(60, 40), await f.GetRoutesAsync());
        var counts = await f.CountAsync(50);
        Assert.Equal(50, counts["primary"] + counts["canary"]);
        Assert.InRange(counts["canary"], 18, 22);
        using var otherClient = ProxyFixture.NewClient(new Uri($"http://127.0.0.1:{other.ServicePort}"));
        Assert.Equal("other", await otherClient.GetStringAsync("/"));
    }

    [Fact]
    public async Task Reconcile_ReloadsBackToBack_EachFindsTheMasterListening()
    {
        // After a reload the master re-executes itself and its CLI refuses connections for a moment, while the workers
        // already answer: a reload counts as done only once the master lists the new worker, so the next one reaches it.
        await using var f = await HAProxyFixture.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            var next = ContractCanaries.Canary("haproxy", ContractCanaries.FreePort()) with { Name = $"next{i}" };
            var reconciled = await f.Router.ReconcileAsync(next, CancellationToken.None);
            Assert.True(reconciled.Succeeded, reconciled.Error);
        }
        Assert.Equal(new Dictionary<string, int> { ["primary"] = 10 }, await f.CountAsync(10));
    }

    [Fact]
    public async Task Reconcile_PortTaken_FailsWithHAProxysReasonAndOthersKeepWorking()
    {
        await using var f = await HAProxyFixture.StartAsync();
        using var squatter = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var taken = ContractCanaries.Canary("haproxy", ((IPEndPoint)squatter.LocalEndpoint).Port) with { Name = "taken" };

        var reconciled = await f.Router.ReconcileAsync(taken, CancellationToken.None);

        Assert.False(reconciled.Succeeded);
        Assert.Contains("taken.test", reconciled.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("backend taken.test", await File.ReadAllTextAsync(f.Router.ConfigPath!), StringComparison.Ordinal);
        Assert.Equal(new Dictionary<string, int> { ["primary"] = 10 }, await f.CountAsync(10));
        squatter.Stop();
        Assert.True((await f.Router.ReconcileAsync(taken, CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task Reconcile_Unsupported_FailsSayingWhat()
    {
        await using var f = await HAProxyFixture.StartAsync();
        var affinity = f.Policy with { SessionAffinity = new Core.Model.SessionAffinity { CookieName = "flagger-cookie" } };
        var noPort = f.Policy with { ServicePort = null, Name = "noport" };

        var withAffinity = await f.Router.ReconcileAsync(affinity, CancellationToken.None);
        var withoutPort = await f.Router.ReconcileAsync(noPort, CancellationToken.None);
        var notReconciled = await f.Router.GetRoutesAsync(noPort, CancellationToken.None);

        Assert.Contains("session affinity", withAffinity.Error, StringComparison.Ordinal);
        Assert.Contains("not supported by the haproxy router", withAffinity.Error, StringComparison.Ordinal);
        Assert.Contains("spec.service.port is required", withoutPort.Error, StringComparison.Ordinal);
        Assert.Contains("not routed by HAProxy yet", notReconciled.Error, StringComparison.Ordinal);
        Assert.Equal(new RouterCapabilities(Weights: true, Match: false, Mirror: false, SessionAffinity: false), RouterCapabilities.Of(Providers.HAProxy));
    }

    [Fact]
    public async Task SetRoutes_InvalidWeights_Fail()
    {
        await using var f = await HAProxyFixture.StartAsync();

        var result = await f.Router.SetRoutesAsync(f.Policy, new RouteWeights(80, 30), CancellationToken.None);

        Assert.Contains("do not add up to 100", result.Error, StringComparison.Ordinal);
        Assert.Equal(RouteWeights.AllPrimary, await f.GetRoutesAsync());
    }

    [Fact]
    public async Task SetEndpoints_Invalid_Throws()
    {
        await using var f = await HAProxyFixture.StartAsync();

        var e = Assert.Throws<ArgumentException>(() => f.Router.SetEndpoints(HAProxyFixture.Service, BackendRole.Primary,
            [new("a", new Uri("http://127.0.0.1:1")), new("a", new Uri("http://127.0.0.1:2")), new("b", new Uri("http://example.com:80"))]));

        Assert.Contains("repeated", e.Message, StringComparison.Ordinal);
        Assert.Contains("IP address", e.Message, StringComparison.Ordinal);
        Assert.Equal([f.Primary.Endpoint("primary-0")], f.Router.GetEndpoints(HAProxyFixture.Service, BackendRole.Primary));
    }
}
