using System.Net;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Routing.Tests.Proxy;

namespace Aviary.Routing.Tests.Contract;

/// <summary>
/// The behaviour every router must show, through <see cref="IRouter"/> and <see cref="IBackendRegistry"/> only, with real
/// HTTP traffic to real Kestrel instances that say who they are (<see cref="TestBackend"/>). One subclass per router
/// says how to set it up (<see cref="StartRouterAsync"/>); the tests here never depend on how.
/// </summary>
public abstract class RouterContract
{
    /// <summary>The <c>spec.provider</c> of the canaries this router serves.</summary>
    protected abstract string Provider { get; }

    /// <summary>What the router can do for the contract's canaries (its provider's capabilities by default).</summary>
    protected virtual RouterCapabilities Capabilities => RouterCapabilities.Of(Provider);

    /// <summary>Sets up the router for <paramref name="canary"/> (its service listens on <c>canary.ServicePort</c>);
    /// the contract reconciles it and publishes its instances.</summary>
    protected abstract Task<IRouterUnderTest> StartRouterAsync(CanaryPolicy canary);

    /// <summary>A router with one primary and one canary instance published and the canary reconciled.</summary>
    protected async Task<RoutedService> StartAsync()
    {
        var canary = ContractCanaries.Canary(Provider, ContractCanaries.FreePort());
        var router = await StartRouterAsync(canary);
        var primary = await TestBackend.StartAsync("primary");
        var canaryBackend = await TestBackend.StartAsync("canary");
        var service = new RoutedService(router, canary, primary, canaryBackend);
        try
        {
            router.Registry.SetEndpoints(canary.Id, BackendRole.Primary, [primary.Endpoint("primary-0")]);
            router.Registry.SetEndpoints(canary.Id, BackendRole.Canary, [canaryBackend.Endpoint("canary-0")]);
            var reconciled = await router.Router.ReconcileAsync(canary, CancellationToken.None);
            Assert.True(reconciled.Succeeded, reconciled.Error);
            await router.SettleAsync();
            return service;
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task Reconcile_NewService_AllTrafficToPrimary()
    {
        await using var s = await StartAsync();

        Assert.Equal(RouteWeights.AllPrimary, await s.GetRoutesAsync());
        Assert.Equal((50, 0), await s.CountAsync(50));
    }

    [Theory]
    [InlineData(100, 0)]
    [InlineData(0, 100)]
    [InlineData(90, 10)]
    [InlineData(50, 50)]
    [InlineData(10, 90)]
    [InlineData(99, 1)]
    public async Task SetRoutes_GetRoutes_RoundTrips(int primary, int canary)
    {
        await using var s = await StartAsync();

        await s.SetRoutesAsync(primary, canary);

        Assert.Equal(new RouteWeights(primary, canary), await s.GetRoutesAsync());
    }

    [Fact]
    public async Task SetRoutes_EveryStepWithSeveralInstances_RoundTripsExactly()
    {
        await using var s = await StartAsync();
        await using var primary2 = await TestBackend.StartAsync("primary");
        await using var primary3 = await TestBackend.StartAsync("primary");
        s.Registry.SetEndpoints(s.Id, BackendRole.Primary, [s.Primary.Endpoint("primary-0"), primary2.Endpoint("primary-2"), primary3.Endpoint("primary-3")]);
        await s.Router.SettleAsync();

        for (var canary = 0; canary <= 100; canary += 5)
        {
            await s.SetRoutesAsync(100 - canary, canary);
            Assert.Equal(new RouteWeights(100 - canary, canary), await s.GetRoutesAsync());
        }
    }

    [Theory]
    [InlineData(100, 0)]
    [InlineData(0, 100)]
    public async Task Split_AllOnOneSide_Exact(int primary, int canary)
    {
        await using var s = await StartAsync();
        await s.SetRoutesAsync(primary, canary);

        Assert.Equal(primary == 100 ? (200, 0) : (0, 200), await s.CountAsync(200));
    }

    [Theory]
    [InlineData(90, 10)]
    [InlineData(50, 50)]
    [InlineData(10, 90)]
    public async Task Split_2000Requests_WithinThreePointsOfWeight(int primary, int canary)
    {
        await using var s = await StartAsync();
        await s.SetRoutesAsync(primary, canary);

        var (p, c) = await s.CountAsync(2000);

        Assert.Equal(2000, p + c);
        Assert.InRange(100.0 * c / 2000, canary - 3, canary + 3);
        Assert.True(c == s.Canary.Requests, $"the client saw {c} canary answers, the canary counted {s.Canary.Requests}; it also got {s.Canary.Others()}");
    }

    [Fact]
    public async Task SetRoutes_ManyChangesUnderConcurrentLoad_NoRequestFails()
    {
        await using var s = await StartAsync();
        await using var load = s.StartLoad(clients: 8);

        for (var i = 0; i < 60; i++)
        {
            var canary = i * 7 % 101;
            await s.SetRoutesAsync(100 - canary, canary);
            // Let some requests through between changes, without relying on timing.
            await load.WaitForMoreAsync(5);
        }
        await s.SetRoutesAsync(0, 100);
        await load.WaitForMoreAsync(20);
        await load.StopAsync();

        Assert.Empty(load.Failures);
        Assert.True(load.Served >= 300, $"only {load.Served} requests served");
        Assert.True(s.Primary.Requests > 0 && s.Canary.Requests > 0);
    }

    [Fact]
    public async Task Endpoints_AddedRemovedAndDrainedUnderLoad_NoRequestFails()
    {
        await using var s = await StartAsync();
        await s.SetRoutesAsync(50, 50);
        await using var load = s.StartLoad(clients: 6);
        var current = new Dictionary<BackendRole, (string Id, TestBackend Backend)>
        {
            [BackendRole.Primary] = ("primary-0", s.Primary),
            [BackendRole.Canary] = ("canary-0", s.Canary),
        };
        List<TestBackend> started = [];
        try
        {
            for (var round = 1; round <= 3; round++)
            {
                foreach (var role in new[] { BackendRole.Primary, BackendRole.Canary })
                {
                    var name = role == BackendRole.Primary ? "primary" : "canary";
                    var (oldId, old) = current[role];
                    var fresh = await TestBackend.StartAsync(name);
                    started.Add(fresh);
                    var freshId = $"{name}-{round}";

                    // Surge: the new instance joins, takes traffic, then the old one leaves, drains and stops.
                    s.Registry.SetEndpoints(s.Id, role, [old.Endpoint(oldId), fresh.Endpoint(freshId)]);
                    await s.Router.SettleAsync();
                    await Eventually.True(() => fresh.Requests > 0);
                    s.Registry.SetEndpoints(s.Id, role, [fresh.Endpoint(freshId)]);
                    Assert.True(await s.Registry.DrainAsync(s.Id, oldId, TimeSpan.FromSeconds(30), CancellationToken.None));
                    if (started.Remove(old)) await old.DisposeAsync(); // the first instances are disposed with the service
                    current[role] = (freshId, fresh);
                    await load.WaitForMoreAsync(20);
                    Assert.Equal(new[] { fresh.Endpoint(freshId) }, s.Registry.GetEndpoints(s.Id, role));
                }
            }
            await load.StopAsync();

            Assert.Empty(load.Failures);
            Assert.Equal(new RouteWeights(50, 50), await s.GetRoutesAsync());
        }
        finally
        {
            foreach (var b in started) await b.DisposeAsync();
        }
    }

    [Fact]
    public async Task Drain_RemovedEndpointWithSlowRequest_WaitsUntilItFinishes()
    {
        await using var s = await StartAsync();
        await using var replacement = await TestBackend.StartAsync("primary");
        var slow = s.Client.GetAsync("/slow");
        await s.Primary.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));

        s.Registry.SetEndpoints(s.Id, BackendRole.Primary, [replacement.Endpoint("primary-1")]);
        var drained = s.Registry.DrainAsync(s.Id, "primary-0", TimeSpan.FromMinutes(1), CancellationToken.None);

        await s.Router.SettleAsync();
        Assert.Equal("primary", await s.Client.GetStringAsync("/"));
        Assert.Equal(1, replacement.Requests);
        Assert.False(drained.IsCompleted);
        s.Primary.Gate.SetResult();
        Assert.True(await drained);
        using var response = await slow;
        Assert.Equal("slow primary", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, s.Primary.Requests);
    }

    [Fact]
    public async Task Drain_UnknownEndpoint_TrueAtOnce()
    {
        await using var s = await StartAsync();

        Assert.True(await s.Registry.DrainAsync(s.Id, "never-seen", TimeSpan.Zero, CancellationToken.None));
        Assert.True(await s.Registry.DrainAsync("no-such.service", "x", TimeSpan.Zero, CancellationToken.None));
    }

    [Fact]
    public async Task Reconcile_Again_KeepsWeights()
    {
        await using var s = await StartAsync();
        await s.SetRoutesAsync(70, 30);

        var again = await s.Router.Router.ReconcileAsync(s.Policy, CancellationToken.None);

        Assert.True(again.Succeeded, again.Error);
        Assert.Equal(new RouteWeights(70, 30), await s.GetRoutesAsync());
    }

    [Fact]
    public async Task Finalize_RoutesEverythingToPrimary()
    {
        await using var s = await StartAsync();
        await s.SetRoutesAsync(0, 100);

        var finalized = await s.Router.Router.FinalizeAsync(s.Policy, CancellationToken.None);

        Assert.True(finalized.Succeeded, finalized.Error);
        Assert.Equal(RouteWeights.AllPrimary, await s.GetRoutesAsync());
        Assert.Equal((30, 0), await s.CountAsync(30));
    }

    [Fact]
    public async Task Match_HeaderRouting_WhereSupported_ElseUnsupportedOutcome()
    {
        await using var s = await StartAsync();
        var ab = ContractCanaries.ABTesting(Provider, s.Policy.ServicePort!.Value);

        var result = await s.Router.Router.SetRoutesAsync(ab, new RouteWeights(0, 100), CancellationToken.None);

        if (Capabilities.Match)
        {
            Assert.True(result.Succeeded, result.Error);
            Assert.Equal("canary", await s.GetWithHeaderAsync("x-canary", "insider"));
            Assert.Equal("primary", await s.GetWithHeaderAsync("x-canary", "outsider"));
            Assert.Equal("primary", await s.Client.GetStringAsync("/"));
        }
        else
        {
            Assert.False(result.Succeeded);
            Assert.Contains("not supported", result.Error, StringComparison.Ordinal);
            Assert.Contains("match", result.Error, StringComparison.Ordinal);
            var reconciled = await s.Router.Router.ReconcileAsync(ab, CancellationToken.None);
            Assert.False(reconciled.Succeeded);
            Assert.Contains("not supported", reconciled.Error, StringComparison.Ordinal);
            // Nothing changed.
            Assert.Equal(RouteWeights.AllPrimary, await s.GetRoutesAsync());
            Assert.Equal("primary", await s.GetWithHeaderAsync("x-canary", "insider"));
        }
    }

    [Fact]
    public async Task SessionAffinity_EachUserStaysOnTheArmItLandedOn_WhereSupported_ElseUnsupportedOutcome()
    {
        await using var s = await StartAsync();
        var sticky = ContractCanaries.SessionAffinity(Provider, s.Policy.ServicePort!.Value);

        var result = await s.Router.Router.SetRoutesAsync(sticky, new RouteWeights(50, 50), CancellationToken.None);

        if (!Capabilities.SessionAffinity)
        {
            Assert.False(result.Succeeded);
            Assert.Contains("session affinity is not supported", result.Error, StringComparison.Ordinal);
            Assert.Equal(RouteWeights.AllPrimary, await s.GetRoutesAsync());
            return;
        }
        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(new RouteWeights(50, 50), (await s.Router.Router.GetRoutesAsync(sticky, CancellationToken.None)).Value);

        // Twenty users, each with its own cookie jar: the first answer hands out its arm's cookie, and every later
        // request with that cookie lands on the same arm.
        var landed = new List<(string Arm, string Cookie)>();
        for (var user = 0; user < 20; user++)
        {
            var first = await s.GetWithCookieAsync(null);
            var cookie = first.SetCookies.Select(c => c.Split(';')[0])
                .SingleOrDefault(c => c.StartsWith(first.Body == "canary" ? "canary-session=" : "primary-session=", StringComparison.Ordinal));
            Assert.True(cookie is not null, $"user {user} on the {first.Body} got no cookie for it: [{string.Join(" | ", first.SetCookies)}]");
            for (var again = 0; again < 3; again++) Assert.Equal(first.Body, (await s.GetWithCookieAsync(cookie)).Body);
            landed.Add((first.Body, cookie));
        }
        Assert.Contains(landed, l => l.Arm == "canary");
        Assert.Contains(landed, l => l.Arm == "primary");
        var canaryCookie = landed.First(l => l.Arm == "canary").Cookie;
        Assert.True(landed.Where(l => l.Arm == "canary").All(l => l.Cookie == canaryCookie), "one canary cookie per rollout");

        // A later step keeps the cookies users hold.
        Assert.True((await s.Router.Router.SetRoutesAsync(sticky, new RouteWeights(60, 40), CancellationToken.None)).Succeeded);
        Assert.Equal("canary", (await s.GetWithCookieAsync(canaryCookie)).Body);

        // The rollout ends (everything on the primary): a holder of the canary cookie is on the primary and the
        // cookie is expired.
        Assert.True((await s.Router.Router.SetRoutesAsync(sticky, RouteWeights.AllPrimary, CancellationToken.None)).Succeeded);
        Assert.Equal(RouteWeights.AllPrimary, (await s.Router.Router.GetRoutesAsync(sticky, CancellationToken.None)).Value);
        var ended = await s.GetWithCookieAsync(canaryCookie);
        Assert.Equal("primary", ended.Body);
        Assert.Contains(canaryCookie + "; Max-Age=-1", ended.SetCookies);

        // The next rollout hands out a new canary cookie; the old one no longer pins anyone.
        Assert.True((await s.Router.Router.SetRoutesAsync(sticky, new RouteWeights(0, 100), CancellationToken.None)).Succeeded);
        var next = await s.GetWithCookieAsync(null);
        Assert.Equal("canary", next.Body);
        var nextCookie = next.SetCookies.Select(c => c.Split(';')[0]).Single(c => c.StartsWith("canary-session=", StringComparison.Ordinal));
        Assert.NotEqual(canaryCookie, nextCookie);
    }

    [Fact]
    public async Task Mirror_CopiesToCanary_WhereSupported_ElseUnsupportedOutcome()
    {
        await using var s = await StartAsync();
        var mirroring = ContractCanaries.Mirroring(Provider, s.Policy.ServicePort!.Value);

        var result = await s.Router.Router.SetRoutesAsync(mirroring, new RouteWeights(100, 0, Mirrored: true), CancellationToken.None);

        if (Capabilities.Mirror)
        {
            Assert.True(result.Succeeded, result.Error);
            Assert.Equal((20, 0), await s.CountAsync(20));
            await Eventually.True(() => s.Canary.Requests == 20);
        }
        else
        {
            Assert.False(result.Succeeded);
            Assert.Contains("mirroring is not supported", result.Error, StringComparison.Ordinal);
            Assert.Equal(RouteWeights.AllPrimary, await s.GetRoutesAsync());
            Assert.Equal((20, 0), await s.CountAsync(20));
            Assert.Equal(0, s.Canary.Requests);
        }
    }
}

/// <summary>A router under test with its canary, its two first instances and a client of its apex.</summary>
public sealed class RoutedService(IRouterUnderTest router, CanaryPolicy policy, TestBackend primary, TestBackend canary) : IAsyncDisposable
{
    public IRouterUnderTest Router { get; } = router;
    public IBackendRegistry Registry => Router.Registry;
    public CanaryPolicy Policy { get; } = policy;
    public string Id => Policy.Id;
    public TestBackend Primary { get; } = primary;
    public TestBackend Canary { get; } = canary;
    public HttpClient Client { get; } = ProxyFixture.NewClient(router.Address);

    public async Task SetRoutesAsync(int primary, int canary)
    {
        var result = await Router.Router.SetRoutesAsync(Policy, new RouteWeights(primary, canary), CancellationToken.None);
        Assert.True(result.Succeeded, result.Error);
    }

    public async Task<RouteWeights> GetRoutesAsync()
    {
        var routes = await Router.Router.GetRoutesAsync(Policy, CancellationToken.None);
        Assert.True(routes.Succeeded, routes.Error);
        return routes.Value;
    }

    /// <summary>Sends GET requests one after another and counts which role answered.</summary>
    public async Task<(int Primary, int Canary)> CountAsync(int requests)
    {
        int p = 0, c = 0;
        for (var i = 0; i < requests; i++)
        {
            using var response = await Client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (await response.Content.ReadAsStringAsync() == "canary") c++; else p++;
        }
        return (p, c);
    }

    public async Task<string> GetWithHeaderAsync(string name, string value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.TryAddWithoutValidation(name, value);
        using var response = await Client.SendAsync(request);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>A GET with <paramref name="cookie"/> (<c>name=value</c>) if given: who answered, and the Set-Cookie values.</summary>
    public async Task<(string Body, IReadOnlyList<string> SetCookies)> GetWithCookieAsync(string? cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        if (cookie is not null) request.Headers.TryAddWithoutValidation("Cookie", cookie);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var setCookies = response.Headers.TryGetValues("Set-Cookie", out var values) ? values.ToList() : [];
        return (await response.Content.ReadAsStringAsync(), setCookies);
    }

    /// <summary>Concurrent clients sending GET requests in a loop until stopped, recording every failure.</summary>
    public Load StartLoad(int clients) => new(Client, clients);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Router.DisposeAsync();
        await Primary.DisposeAsync();
        await Canary.DisposeAsync();
    }

    public sealed class Load : IAsyncDisposable
    {
        private readonly CancellationTokenSource _done = new();
        private readonly Task[] _clients;
        private int _served;

        public Load(HttpClient client, int clients)
        {
            _clients = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
            {
                while (!_done.IsCancellationRequested)
                {
                    try
                    {
                        using var response = await client.GetAsync("/", CancellationToken.None);
                        var body = await response.Content.ReadAsStringAsync(CancellationToken.None);
                        if (response.StatusCode != HttpStatusCode.OK || body is not ("primary" or "canary"))
                            Failures.Enqueue($"{(int)response.StatusCode} {body}");
                    }
                    catch (HttpRequestException e)
                    {
                        Failures.Enqueue(e.Message);
                    }
                    Interlocked.Increment(ref _served);
                }
            })).ToArray();
        }

        public System.Collections.Concurrent.ConcurrentQueue<string> Failures { get; } = new();

        public int Served => Volatile.Read(ref _served);

        /// <summary>Waits until <paramref name="requests"/> more requests were answered.</summary>
        public Task WaitForMoreAsync(int requests)
        {
            var target = Served + requests;
            return Eventually.True(() => Served >= target);
        }

        public async Task StopAsync()
        {
            await _done.CancelAsync();
            await Task.WhenAll(_clients);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_done.IsCancellationRequested) await StopAsync();
            _done.Dispose();
        }
    }
}
