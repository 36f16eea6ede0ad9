using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Routers;
using Aviary.Kubernetes.Tests.Harness;
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

    protected override async Task<IRouterUnderTest> StartRouterAsync(CanaryPolicy canary)
    {
        var ns = await Server.CreateNamespaceAsync("contract-" + Provider.Replace(':', '-').Replace('.', '-'));
        // NGINX and Skipper copy the main Ingress of the apex service.
        var isNginx = Provider is "nginx" or "skipper";
        if (isNginx)
        {
            await Server.ApplyAsync($"""
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata:
                  name: {canary.ServiceName}
                  namespace: {ns}
                  annotations:
                    kubernetes.io/ingress.class: nginx
                spec:
                  rules:
                  - host: app.example.com
                    http:
                      paths:
                      - path: /
                        pathType: Prefix
                        backend:
                          service:
                            name: {canary.ServiceName}
                            port:
                              number: {canary.ServicePort}
                """);
        }
        var isApisix = Provider == "apisix";
        if (isApisix)
        {
            // The user's route to the apex service; the router copies it as <route>-canary.
            await Server.ApplyAsync($"""
                apiVersion: apisix.apache.org/v2
                kind: ApisixRoute
                metadata:
                  name: {canary.ServiceName}
                  namespace: {ns}
                spec:
                  http:
                  - name: main
                    match:
                      hosts: [app.example.com]
                      paths: ["/*"]
                    backends:
                    - serviceName: {canary.ServiceName}
                      servicePort: {canary.ServicePort}
                """);
        }
        if (Provider == "knative")
        {
            // The routing object is the target Knative Service, with a revision Knative created.
            await TestKnative.CreateServiceAsync(Server, ns, canary.TargetName);
        }
        if (Provider == "kuma")
        {
            // TrafficRoutes are cluster-scoped and named after the apex: the previous test's is still there.
            await Server.KubectlAsync("delete", "trafficroutes.kuma.io", canary.ServiceName, "--ignore-not-found");
        }
        if (Provider == "gloo")
        {
            // Gloo's Upstreams are made from the -primary and -canary Services (the operator reconciles them first).
            foreach (var role in new[] { "primary", "canary" })
            {
                await Server.ApplyAsync($"""
                    apiVersion: v1
                    kind: Service
                    metadata:
                      name: {canary.ServiceName}-{role}
                      namespace: {ns}
                    spec:
                      selector:
                        app: {canary.TargetName}-{role}
                      ports:
                      - port: {canary.ServicePort}
                    """);
            }
        }
        await Server.ApplyAsync($"""
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata:
              name: {canary.Name}
              namespace: {ns}
            spec:
              provider: {Provider}
              targetRef:
                apiVersion: apps/v1
                kind: Deployment
                name: {canary.TargetName}
              service:
                port: {canary.ServicePort}
              analysis:
                interval: 1m
                threshold: 5
                stepWeight: 10
                maxWeight: 50
            """);
        var uid = (await Server.KubectlAsync("get", "canary", canary.Name, "-n", ns, "-o", "jsonpath={.metadata.uid}")).Trim();
        Assert.False(string.IsNullOrEmpty(uid));

        var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig));
        TestMesh? mesh = null;
        try
        {
            var created = new KubeRouterFactory(client).Create(Provider);
            Assert.True(created.Succeeded, created.Error);
            var target = TestMeshTarget.ForProvider(Provider, ns, canary.ServiceName, ingress: isNginx ? canary.ServiceName : null,
                route: isApisix ? canary.ServiceName : null, workload: Provider == "knative" ? canary.TargetName : null) with
            {
                RegistryKey = canary.Id,
            };
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
    private CanaryPolicy Place(CanaryPolicy canary, string ns, string uid)
    {
        var spec = canary.Manifest.Spec;
        if (Provider is "nginx" or "skipper")
            spec = spec with { IngressRef = new IngressReference { ApiVersion = "networking.k8s.io/v1", Kind = "Ingress", Name = canary.ServiceName } };
        if (Provider == "apisix")
            spec = spec with { RouteRef = new RouteReference { ApiVersion = "apisix.apache.org/v2", Kind = "ApisixRoute", Name = canary.ServiceName } };
        if (Provider.StartsWith("gatewayapi", StringComparison.Ordinal))
        {
            spec = spec with
            {
                Service = (spec.Service ?? new CanaryService()) with { GatewayRefs = [new ParentReference { Name = "public", Namespace = "edge" }], RouteKind = RouteKind },
            };
        }
        return canary with
        {
            Namespace = ns,
            Manifest = canary.Manifest with { Metadata = canary.Manifest.Metadata with { Namespace = ns, Uid = uid }, Spec = spec },
        };
    }

    /// <summary>
    /// The Kubernetes router behind <see cref="IRouter"/> for the contract: every canary is placed in the test's
    /// namespace, and every write that succeeded is read by the mesh before returning.
    /// </summary>
    private sealed class MeshRouterUnderTest(IKubeRouter router, TestMesh mesh, TestMeshProxy proxy, KubeClient client,
        Func<CanaryPolicy, CanaryPolicy> place) : IRouterUnderTest, IRouter
    {
        public IRouter Router => this;

        public IBackendRegistry Registry => proxy;

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
