using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Operator;
using Aviary.Kubernetes.Routers;
using Aviary.Hooks.Secrets;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Metrics;
using Aviary.Metrics.Observers;
using Aviary.Metrics.Templates;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Aviary.Routing.Tests.Contract;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// The router contract (<see cref="RouterContract"/>) for a Kubernetes mesh router: the router writes its routing
/// object into the real API server, and a <see cref="TestMesh"/> follows that object and proxies real HTTP to the
/// contract's backends as the mesh would. Each test gets its own namespace with a real Canary object (so owner
/// references carry its uid); the contract's canaries (namespace <c>test</c>) are moved into it, and given what the
/// provider requires of a cluster (<c>ingressRef</c> and the main Ingress for NGINX, <c>gatewayRefs</c> for the
/// Gateway API). A write that succeeded is in the mesh's data plane before the call returns (the mesh re-reads the
/// object), as a data plane that applied its configuration. What the object model cannot express (SMI: A/B testing
/// and mirroring; NGINX: mirroring) is declared per provider in <see cref="Expected"/>, checked in
/// <see cref="Capabilities_AsDeclaredForTheProvider"/>, and the contract asserts a failed outcome for it.
/// </summary>
public abstract class KubeRouterContract(KubeApiServerFixture fixture) : RouterContract
{
    /// <summary>What the provider's object model supports: A/B matching, mirroring.</summary>
    protected abstract (bool Match, bool Mirror) Expected { get; }

    /// <summary>Aviary's <c>spec.service.routeKind</c> of the contract's canaries (Gateway API: HTTPRoute or GRPCRoute), or null.</summary>
    protected virtual string? RouteKind => null;

    protected override RouterCapabilities Capabilities => RouteKind is null ? base.Capabilities
        : RouterCapabilities.For(Place(ContractCanaries.Canary(Provider, 1), "test", ""), Provider);

    private KubeApiServer Server => fixture.Server;

    [Fact]
    public async Task Capabilities_AsDeclaredForTheProvider()
    {
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig));
        var created = new KubeRouterFactory(client).Create(Provider);
        Assert.True(created.Succeeded, created.Error);

        var capabilities = Capabilities;
        Assert.Equal(Provider, created.Value!.Provider);
        Assert.Equal(Expected, (capabilities.Match, capabilities.Mirror));
    }

    /// <summary>
    /// Flagger's <c>request-success-rate</c> and <c>request-duration</c> queries of the provider (<see cref="ObserverQueries"/>),
    /// rendered for the canary as Aviary renders them, asked of a real Prometheus that scrapes the test mesh's requests
    /// in the families and labels of the provider's data plane (<see cref="TestMeshSeries"/>), split 50/50 by the
    /// router's object. The canary fails 25% with latency at one bucket's top, the primary 2% with a lower one; each query
    /// must answer what it selects: the canary's numbers (the primary's too, for queries of <c>{{ target }}</c>'s workload),
    /// or both versions together where the data plane labels by route only (APISIX). A provider without a data plane of
    /// its own (plain SMI) has no built-in queries, as the registry says.
    /// </summary>
    [Fact]
    public async Task BuiltinMetrics_FlaggerQueriesOnPrometheus_AnswerWhatTheMeshsSeriesSay()
    {
        var queries = ObserverQueries.For(Provider);
        var series = TestMeshSeries.For(Provider);
        if (series is null)
        {
            Assert.False(queries.Succeeded, $"{Provider} has built-in queries, and the test mesh has no series to read them from");
            return;
        }
        Assert.True(queries.Succeeded, queries.Error);

        var canary = ContractCanaries.Canary(Provider, ContractCanaries.FreePort());
        await using var routed = (MeshRouterUnderTest)await StartRouterAsync(canary);
        Assert.True((await routed.ReconcileAsync(canary, default)).Succeeded);
        var placed = routed.Place(canary);
        // Knative: the canary is a new revision (initialization made the first one the primary).
        if (Provider == "knative") await TestKnative.PublishRevisionAsync(Server, placed.Namespace, placed.TargetName, 2, ready: true);
        var set = await routed.SetRoutesAsync(canary, new RouteWeights(50, 50), default);
        Assert.True(set.Succeeded, set.Error);
        await routed.Mesh.WaitForAsync(r => r.Weights == new RouteWeights(50, 50));

        // Latencies at the top of a bucket of the data plane's histogram: the canary's the largest bound up to 300 ms,
        // the primary's the first from 10 ms.
        var bounds = series.BucketsMs;
        var canaryMs = bounds.Last(b => b <= 300);
        var primaryMs = bounds.First(b => b >= 10);
        double Below(double bound) => bounds.LastOrDefault(b => b < bound);
        await using var metrics = await routed.Mesh.StartMetricsAsync(new TestMeshMetricsOptions
        {
            RequestsPerSecond = 200,
            Series = [series],
            Primary = new TestMeshArm(ErrorRate: 0.02, Latency: TestMeshLatency.Fixed(primaryMs)),
            Canary = new TestMeshArm(ErrorRate: 0.25, Latency: TestMeshLatency.Fixed(canaryMs), ErrorStatus: 503),
        });
        await using var prometheus = await PrometheusServer.StartAsync([metrics.ScrapeTarget()], TimeSpan.FromSeconds(1));
        // Enough requests of both versions inside the query window for the answers to be exact to 0.2 points.
        await prometheus.WaitForValueAsync($"sum(increase({series.Requests}[1m]))", v => v >= 1200, TimeSpan.FromMinutes(2));

        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig));
        async Task<(double? Rate, double? Ms)> AskAsync(string target)
        {
            var answers = new List<double?>();
            foreach (var name in new[] { MetricCheck.RequestSuccessRate, MetricCheck.RequestDuration })
            {
                // The model as the resolver makes it (Knative's {{ route }} is the latest created revision, read from the cluster).
                var metric = new MetricCheck { Name = name, IntervalText = "1m", Interval = TimeSpan.FromMinutes(1), Min = null, Max = null };
                var model = await MetricTemplateModel.ForAsync(placed, metric, Provider, new KubeClusterObjects(client), null, default);
                Assert.True(model.Succeeded, model.Error);
                var rendered = queries.Value!.Render(name, model.Value! with { Target = target });
                Assert.True(rendered.Succeeded, rendered.Error);
                answers.Add(await prometheus.QueryValueAsync(rendered.Value!) * queries.Value.ScaleFor(name));
            }
            return (answers[0], answers[1]);
        }
        await AssertJudgeCountsAsync(placed, prometheus, metrics, primaryMs);
        var (rate, ms) = await AskAsync(placed.TargetName);
        var why = $"{series}: canary query answered {rate}% and {ms} ms; mesh {metrics.Counts(BackendRole.Canary).Total} canary, {metrics.Counts(BackendRole.Primary).Total} primary requests";
        Assert.Equal(0, metrics.Unrouted);
        if (series.Scope == TestMeshSeriesScope.Route)
        {
            // Both versions half each: 86.5% succeed; the 99th percentile lies in the canary's bucket, 98% of the way up.
            Assert.True(rate is > 86.2 and < 86.8, why);
            Assert.True(ms is { } m && m > Below(canaryMs) + 0.97 * (canaryMs - Below(canaryMs)) && m <= canaryMs * (1 + 1e-9), why);
            return;
        }
        AssertArm(rate, ms, 75, canaryMs, why);
        if (series.Scope == TestMeshSeriesScope.Workload)
        {
            var (primaryRate, primaryLatency) = await AskAsync(placed.TargetName + "-primary");
            AssertArm(primaryRate, primaryLatency, 98, primaryMs, $"{why}; the primary's: {primaryRate}% and {primaryLatency} ms");
        }

        // A quantile of a latency at a bucket's top is 99% of the way up the bucket; a mean is the latency itself.
        void AssertArm(double? successRate, double? latency, double expectedRate, double latencyMs, string message)
        {
            Assert.True(successRate is { } r && Math.Abs(r - expectedRate) < 0.2, message);
            Assert.True(latency is { } l && l > Below(latencyMs) + 0.98 * (latencyMs - Below(latencyMs)) && l <= latencyMs * (1 + 1e-9), message);
        }
    }

    /// <summary>
    /// The judge's per-arm counters (<see cref="ArmQueries"/>) read through the resolver from the same Prometheus: each
    /// version's requests, 5xx (25% and 2%) and slow ones (a threshold at the primary's latency: every canary request is
    /// slow, no primary request is). Providers whose series do not tell the versions apart are refused by name.
    /// </summary>
    private async Task AssertJudgeCountsAsync(CanaryPolicy placed, PrometheusServer prometheus, TestMeshMetrics metrics, double thresholdMs)
    {
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig));
        var options = new MetricResolverOptions { DefaultMetricsServer = prometheus.Url, Cluster = new KubeClusterObjects(client) };
        using var resolver = new MetricResolver(options, new FakeMetrics(),
            (_, _, _) => ValueTask.FromResult<MetricTemplate?>(null), new EnvironmentSecrets(null, _ => null), TimeProvider.System);
        var read = await resolver.ReadAsync(placed, thresholdMs, default);
        if (!ArmQueries.For(Provider).Succeeded)
        {
            Assert.False(read.Succeeded);
            Assert.StartsWith($"the judge cannot read per-arm counters of provider '{Provider}'", read.Error, StringComparison.Ordinal);
            return;
        }
        Assert.True(read.Succeeded, read.Error);
        var (primary, canary) = (read.Value!.Primary, read.Value.Canary);
        var why = $"judge counts: primary {primary}, canary {canary}; mesh {metrics.Counts(BackendRole.Primary).Total} primary, {metrics.Counts(BackendRole.Canary).Total} canary";
        // Each count is its own instant query, so a scrape may land between two of them (a second's requests, about
        // 100 of each version's 600 or more): the bounds allow that, and still tell one version from both together.
        Assert.True(primary.Requests >= 600 && canary.Requests >= 600, why);
        Assert.True(Math.Abs(canary.Errors / canary.Requests - 0.25) < 0.05, why);
        Assert.True(Math.Abs(primary.Errors / primary.Requests - 0.02) < 0.05, why);
        Assert.True(Math.Abs(canary.Slow - canary.Requests) <= 0.2 * canary.Requests, why);
        Assert.Equal(0, primary.Slow);
    }

    protected override async Task<IRouterUnderTest> StartRouterAsync(CanaryPolicy canary)
    {
        var ns = await Server.CreateNamespaceAsync("contract-" + Provider.Replace(':', '-').Replace('.', '-'));
        var uid = await RouterFixtures.ApplyAsync(Server, ns, Provider, canary);
        var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig));
        TestMesh? mesh = null;
        try
        {
            var created = new KubeRouterFactory(client).Create(Provider);
            Assert.True(created.Succeeded, created.Error);
            // The backends are registered under the contract's own canary id.
            var target = RouterFixtures.Target(Provider, Place(canary, ns, uid)) with { RegistryKey = canary.Id };
            if (RouteKind == "GRPCRoute") target = target with { Kind = TestMeshKind.GrpcRoute, ApiVersion = "gateway.networking.k8s.io/v1" };
            mesh = TestMesh.Start(Server, target);
            var proxy = await mesh.StartProxyAsync();
            return new MeshRouterUnderTest(created.Value!, mesh, proxy, client, c => Place(c, ns, uid));
        }
        catch
        {
            if (mesh is not null) await mesh.DisposeAsync();
            client.Dispose();
            throw;
        }
    }

    /// <summary>The contract's canary as it lives in the test's namespace and cluster.</summary>
    private CanaryPolicy Place(CanaryPolicy canary, string ns, string uid) => RouterFixtures.Place(canary, ns, uid, Provider, RouteKind);

    /// <summary>
    /// The Kubernetes router behind <see cref="IRouter"/> for the contract: every canary is placed in the test's
    /// namespace, and every write that succeeded is read by the mesh before returning.
    /// </summary>
    private sealed class MeshRouterUnderTest(IKubeRouter router, TestMesh mesh, TestMeshProxy proxy, KubeClient client,
        Func<CanaryPolicy, CanaryPolicy> place) : IRouterUnderTest, IRouter
    {
        public IRouter Router => this;

        public IBackendRegistry Registry => proxy;

        public TestMesh Mesh => mesh;

        /// <summary>The canary as it lives in the test's namespace.</summary>
        public CanaryPolicy Place(CanaryPolicy canary) => place(canary);

        public Uri Address => proxy.Address;

        public async Task SettleAsync() => await mesh.RefreshAsync();

        public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
            await ThenRefreshAsync(await router.ReconcileAsync(place(canary), cancellationToken));

        public ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
            router.GetRoutesAsync(place(canary), cancellationToken);

        public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken) =>
            await ThenRefreshAsync(await router.SetRoutesAsync(place(canary), weights, cancellationToken));

        public async ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
            await ThenRefreshAsync(await router.FinalizeAsync(place(canary), cancellationToken));

        private async Task<Outcome> ThenRefreshAsync(Outcome outcome)
        {
            if (outcome.Succeeded)
            {
                var routes = await mesh.RefreshAsync();
                Assert.True(routes.Exists, $"the mesh did not find the routing object after a successful write: {routes}; {mesh.LastError}");
            }
            return outcome;
        }

        public async ValueTask DisposeAsync()
        {
            await proxy.DisposeAsync();
            await mesh.DisposeAsync();
            client.Dispose();
        }
    }
}

/// <summary>The contract for <c>linkerd</c> (SMI TrafficSplit v1alpha2): weights only.</summary>
[Collection(KubeCollection.Name)]
public sealed class LinkerdRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "linkerd";

    protected override (bool Match, bool Mirror) Expected => (false, false);
}

/// <summary>The contract for <c>smi:v1alpha1</c> (weights as quantity strings): weights only.</summary>
[Collection(KubeCollection.Name)]
public sealed class SmiV1Alpha1RouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "smi:v1alpha1";

    protected override (bool Match, bool Mirror) Expected => (false, false);
}

/// <summary>The contract for <c>istio</c> (VirtualService): weights, A/B matching, mirroring.</summary>
[Collection(KubeCollection.Name)]
public sealed class IstioRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "istio";

    protected override (bool Match, bool Mirror) Expected => (true, true);
}

/// <summary>The contract for <c>gatewayapi:v1beta1</c> (HTTPRoute): weights, A/B matching, mirroring.</summary>
[Collection(KubeCollection.Name)]
public sealed class GatewayApiV1Beta1RouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "gatewayapi:v1beta1";

    protected override (bool Match, bool Mirror) Expected => (true, true);
}

/// <summary>The contract for <c>gatewayapi:v1</c> (HTTPRoute): weights, A/B matching, mirroring.</summary>
[Collection(KubeCollection.Name)]
public sealed class GatewayApiV1RouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "gatewayapi:v1";

    protected override (bool Match, bool Mirror) Expected => (true, true);
}

/// <summary>
/// The contract for <c>gatewayapi:v1</c> writing a GRPCRoute (Aviary's <c>spec.service.routeKind</c>): weights, A/B
/// matching by header, mirroring; no session affinity. The test mesh follows the GRPCRoute.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class GrpcRouteRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "gatewayapi:v1";

    protected override string? RouteKind => "GRPCRoute";

    protected override (bool Match, bool Mirror) Expected => (true, true);
}

/// <summary>The contract for <c>nginx</c> (canary Ingress): weights and A/B matching by header or cookie; no mirroring.</summary>
[Collection(KubeCollection.Name)]
public sealed class NginxRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "nginx";

    protected override (bool Match, bool Mirror) Expected => (true, false);
}

/// <summary>The contract for provider <c>traefik</c> (a weighted TraefikService).</summary>
[Collection(KubeCollection.Name)]
public sealed class TraefikRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "traefik";

    protected override (bool Match, bool Mirror) Expected => (false, false);
}

/// <summary>The contract for provider <c>apisix</c> (a weighted copy of the user's ApisixRoute).</summary>
[Collection(KubeCollection.Name)]
public sealed class ApisixRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "apisix";

    protected override (bool Match, bool Mirror) Expected => (false, false);
}

/// <summary>The contract for provider <c>contour</c> (an HTTPProxy): weights and A/B matching; no mirroring.</summary>
[Collection(KubeCollection.Name)]
public sealed class ContourRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "contour";

    protected override (bool Match, bool Mirror) Expected => (true, false);
}

/// <summary>The contract for provider <c>gloo</c> (a RouteTable over two Upstreams): weights and A/B matching; no mirroring.</summary>
[Collection(KubeCollection.Name)]
public sealed class GlooRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "gloo";

    protected override (bool Match, bool Mirror) Expected => (true, false);
}

/// <summary>The contract for provider <c>kuma</c> (a cluster-scoped TrafficRoute): weights only.</summary>
[Collection(KubeCollection.Name)]
public sealed class KumaRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "kuma";

    protected override (bool Match, bool Mirror) Expected => (false, false);
}

/// <summary>The contract for provider <c>skipper</c> (a weighted copy of the main Ingress): weights only.</summary>
[Collection(KubeCollection.Name)]
public sealed class SkipperRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "skipper";

    protected override (bool Match, bool Mirror) Expected => (false, false);
}

/// <summary>The contract for provider <c>knative</c> (the traffic of the target Knative Service): weights only.</summary>
[Collection(KubeCollection.Name)]
public sealed class KnativeRouterContractTests(KubeApiServerFixture fixture) : KubeRouterContract(fixture)
{
    protected override string Provider => "knative";

    protected override (bool Match, bool Mirror) Expected => (false, false);
}
