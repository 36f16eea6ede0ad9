using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Routing;
using Aviary.Routing.Proxy;

namespace Aviary.TestKit;

/// <summary>
/// A test-side service mesh for tests of the Kubernetes runtime: it follows the routing object Aviary wrote for one
/// service (TrafficSplit, HTTPRoute, VirtualService, TraefikService, canary ApisixRoute, HTTPProxy, RouteTable, TrafficRoute, Knative Service or canary Ingress) in a real API server (<see cref="KubeApiServer"/>)
/// by reading it every <c>pollInterval</c> (and at once on <see cref="RefreshAsync"/>), and interprets it as that mesh
/// would (<see cref="TestMeshRouteReader"/>). Two data planes use the current <see cref="Routes"/>:
/// <list type="bullet">
/// <item><see cref="StartProxyAsync"/>: a real HTTP proxy on a loopback port in front of primary and canary backends
/// published through <see cref="Aviary.Routing.IBackendRegistry"/> (by weight, by match for A/B testing,
/// mirroring), as the router contract tests use it;</item>
/// <item><see cref="StartMetricsAsync"/>: no backends, but requests generated at a set rate, split by the current
/// weights, each version (primary, canary) answering with its own error rate and latency, served at <c>/metrics</c> in
/// Linkerd's (<c>response_total</c>, <c>response_latency_ms_bucket</c>) and Istio's (<c>istio_requests_total</c>,
/// <c>istio_request_duration_milliseconds_bucket</c>) formats, so that a real <see cref="PrometheusServer"/> scraping it
/// answers Flagger's built-in queries for <c>linkerd</c> and <c>istio</c> with the configured success rate (exactly,
/// failures are spread evenly by default) and latency (within the histogram bucket that holds it: pick a bucket's top,
/// e.g. 40 ms for Linkerd or 250 ms for Istio, and p99 is 99% of the way up that bucket).</item>
/// </list>
/// A read that fails keeps the last routing (as a data plane keeps its last configuration); a missing object routes
/// nothing. Dispose it to stop polling.
/// <para>An operator acceptance test (the operator writes the routing object; the test plays mesh and Prometheus):</para>
/// <code>
/// await using var mesh = TestMesh.Start(server, TestMeshTarget.ForProvider("linkerd", ns, "podinfo"));
/// await using var metrics = await mesh.StartMetricsAsync(new TestMeshMetricsOptions
/// {
///     RequestsPerSecond = 50,
///     Primary = new TestMeshArm(ErrorRate: 0, Latency: TestMeshLatency.Fixed(5)),
///     Canary = new TestMeshArm(ErrorRate: 0.2, Latency: TestMeshLatency.Fixed(40)),   // a bad release
/// });
/// await using var prometheus = await PrometheusServer.StartAsync([metrics.ScrapeTarget()], TimeSpan.FromSeconds(1));
/// // ... start the operator with prometheus.Url as its metrics server, apply the Canary, change the Deployment ...
/// await mesh.WaitForAsync(r => r.Weights.Canary >= 10);                  // the operator shifted traffic
/// metrics.SetArm(BackendRole.Canary, metrics.Arm(BackendRole.Canary) with { ErrorRate = 0 });  // fixed at runtime
/// </code>
/// For NGINX pass the main Ingress (<c>ForProvider("nginx", ns, "podinfo", ingress: "podinfo")</c>); for a Deployment
/// named differently from the service pass <c>workload:</c> (the metrics' <c>deployment</c>/<c>destination_workload</c>).
/// </summary>
public sealed class TestMesh : IAsyncDisposable
{
    private readonly KubeApiServer _server;
    private readonly SemaphoreSlim _reading = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _polling;
    private TestMeshRoutes _routes;
    private int _reads;

    private TestMesh(KubeApiServer server, TestMeshTarget target, TimeSpan pollInterval)
    {
        _server = server;
        Target = target;
        _routes = TestMeshRoutes.None(target.ToString(), "not read yet");
        _polling = Task.Run(() => PollAsync(pollInterval, _stop.Token));
    }

    /// <summary>Starts following <paramref name="target"/> on <paramref name="server"/> (reading as the admin).</summary>
    /// <param name="pollInterval">How often the object is read; default 200 ms.</param>
    public static TestMesh Start(KubeApiServer server, TestMeshTarget target, TimeSpan? pollInterval = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(target);
        return new TestMesh(server, target, pollInterval ?? TimeSpan.FromMilliseconds(200));
    }

    public TestMeshTarget Target { get; }

    /// <summary>The routing in effect (a snapshot).</summary>
    public TestMeshRoutes Routes => Volatile.Read(ref _routes);

    /// <summary>The last read's failure, or null.</summary>
    public string? LastError { get; private set; }

    /// <summary>How many times the object was read.</summary>
    public int Reads => Volatile.Read(ref _reads);

    /// <summary>Reads the object now and puts its routing in effect before returning it.</summary>
    public async Task<TestMeshRoutes> RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _reading.WaitAsync(cancellationToken);
        try
        {
            var routes = await ReadAsync(cancellationToken);
            Interlocked.Increment(ref _reads);
            if (routes is not null) Volatile.Write(ref _routes, routes);
            return Routes;
        }
        finally
        {
            _reading.Release();
        }
    }

    /// <summary>Reads the object until <paramref name="condition"/> holds (default timeout 30 s); fails with the last routing seen.</summary>
    public Task<TestMeshRoutes> WaitForAsync(Func<TestMeshRoutes, bool> condition, TimeSpan? timeout = null,
        [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(condition))] string what = "") =>
        Eventually.Until(() => RefreshAsync(), condition, timeout ?? TimeSpan.FromSeconds(30),
            routes => Task.FromResult($"{routes}; last error: {LastError}"), what: $"the test mesh's {Target} to satisfy {what}");

    /// <summary>Starts a proxy for the apex on 127.0.0.1:<paramref name="port"/> (0: a free port) routing by <see cref="Routes"/>.</summary>
    public Task<TestMeshProxy> StartProxyAsync(int port = 0) => TestMeshProxy.StartAsync(this, port);

    /// <summary>Starts generating request metrics by <see cref="Routes"/> and serving them at <c>/metrics</c>.</summary>
    public Task<TestMeshMetrics> StartMetricsAsync(TestMeshMetricsOptions? options = null) => TestMeshMetrics.StartAsync(this, options);

    private async Task<TestMeshRoutes?> ReadAsync(CancellationToken cancellationToken)
    {
        HttpStatusCode status;
        string body;
        try
        {
            // Knative's route reconciler: what spec.traffic asks becomes status.traffic before the data plane follows it.
            if (Target.Kind == TestMeshKind.KnativeService) await TestKnative.ApplyTrafficAsync(_server, Target.Namespace, Target.WorkloadName, cancellationToken);
            (status, body) = await _server.RequestAsync(HttpMethod.Get, Target.ObjectPath, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LastError = e.Message;
            return null;
        }
        if (status == HttpStatusCode.NotFound)
        {
            LastError = null;
            return Target.Kind is TestMeshKind.Ingress or TestMeshKind.SkipperIngress
                ? Target.Kind == TestMeshKind.Ingress ? TestMeshRouteReader.Ingress(null, Target) : TestMeshRouteReader.SkipperIngress(null, Target)
                : TestMeshRoutes.None(Target.ToString(), "not found");
        }
        if (status != HttpStatusCode.OK)
        {
            LastError = $"GET {Target.ObjectPath}: {(int)status} {body}";
            return null;
        }
        try
        {
            var value = JsonNode.Parse(body) as JsonObject ?? throw new JsonException("not an object");
            LastError = null;
            return Target.Kind switch
            {
                TestMeshKind.TrafficSplit => TestMeshRouteReader.TrafficSplit(value, Target),
                TestMeshKind.HttpRoute or TestMeshKind.GrpcRoute => TestMeshRouteReader.HttpRoute(value, Target),
                TestMeshKind.VirtualService => TestMeshRouteReader.VirtualService(value, Target),
                TestMeshKind.TraefikService => TestMeshRouteReader.TraefikService(value, Target),
                TestMeshKind.ApisixRoute => TestMeshRouteReader.ApisixRoute(value, Target),
                TestMeshKind.HttpProxy => TestMeshRouteReader.HttpProxy(value, Target),
                TestMeshKind.TrafficRoute => TestMeshRouteReader.TrafficRoute(value, Target),
                TestMeshKind.SkipperIngress => TestMeshRouteReader.SkipperIngress(value, Target),
                TestMeshKind.KnativeService => TestMeshRouteReader.KnativeService(value, Target),
                TestMeshKind.RouteTable => TestMeshRouteReader.RouteTable(value, Target, await UpstreamServicesAsync(value, cancellationToken)),
                _ => TestMeshRouteReader.Ingress(value, Target),
            };
        }
        catch (JsonException e)
        {
            LastError = $"GET {Target.ObjectPath}: {e.Message}";
            return null;
        }
    }

    /// <summary>The Service of each Upstream a Gloo RouteTable names (<c>spec.kube.serviceName</c>), as Gloo resolves them.</summary>
    private async Task<IReadOnlyDictionary<string, string>> UpstreamServicesAsync(JsonObject table, CancellationToken cancellationToken)
    {
        var services = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (ns, name) in TestMeshRouteReader.RouteTableUpstreams(table, Target.Namespace))
        {
            var (status, body) = await _server.RequestAsync(HttpMethod.Get, $"/apis/gloo.solo.io/v1/namespaces/{ns}/upstreams/{name}", cancellationToken: cancellationToken);
            if (status == HttpStatusCode.OK && JsonNode.Parse(body)?["spec"]?["kube"]?["serviceName"] is JsonValue service)
                services[name] = service.GetValue<string>();
        }
        return services;
    }

    private async Task PollAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            do
            {
                await RefreshAsync(cancellationToken);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
        catch (ObjectDisposedException)
        {
            // The API server went away with the test.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync();
        await _polling;
        _stop.Dispose();
        _reading.Dispose();
    }
}

/// <summary>The routing object a <see cref="TestMesh"/> follows.</summary>
public enum TestMeshKind
{
    /// <summary>SMI <c>TrafficSplit</c> named after the apex service (Linkerd, OSM).</summary>
    TrafficSplit,

    /// <summary>Gateway API <c>HTTPRoute</c> named after the apex service.</summary>
    HttpRoute,

    /// <summary>Gateway API <c>GRPCRoute</c> (v1) named after the apex service (Aviary's <c>spec.service.routeKind</c>).</summary>
    GrpcRoute,

    /// <summary>Istio <c>VirtualService</c> named after the apex service.</summary>
    VirtualService,

    /// <summary>The NGINX ingress controller's <c>&lt;ingress&gt;-canary</c> Ingress.</summary>
    Ingress,

    /// <summary>Traefik's weighted <c>TraefikService</c> named after the apex service.</summary>
    TraefikService,

    /// <summary>APISIX's <c>&lt;route&gt;-&lt;service&gt;-canary</c> ApisixRoute (the copy of the user's route Aviary writes).</summary>
    ApisixRoute,

    /// <summary>Contour's <c>HTTPProxy</c> named after the apex service.</summary>
    HttpProxy,

    /// <summary>Gloo Edge's <c>RouteTable</c> named after the apex service (its destinations are Upstreams of the Services).</summary>
    RouteTable,

    /// <summary>Kuma's cluster-scoped <c>TrafficRoute</c> named after the apex service.</summary>
    TrafficRoute,

    /// <summary>Skipper's <c>&lt;ingress&gt;-canary</c> Ingress (weights in <c>zalando.org/backend-weights</c>).</summary>
    SkipperIngress,

    /// <summary>The target Knative Service itself (its <c>status.traffic</c>, as Knative applied it).</summary>
    KnativeService,
}

/// <summary>
/// Which service a <see cref="TestMesh"/> routes and through which object: the apex service <see cref="Service"/> in
/// <see cref="Namespace"/>, whose backends are <c>&lt;service&gt;-primary</c> and <c>&lt;service&gt;-canary</c>.
/// </summary>
public sealed record TestMeshTarget
{
    public required string Namespace { get; init; }

    /// <summary>The apex service (the routing object's name, except for NGINX).</summary>
    public required string Service { get; init; }

    public required TestMeshKind Kind { get; init; }

    /// <summary>The object's API version; default split.smi-spec.io/v1alpha2, gateway.networking.k8s.io/v1beta1, networking.istio.io/v1beta1, networking.k8s.io/v1.</summary>
    public string? ApiVersion { get; init; }

    /// <summary>NGINX: the main Ingress (<c>spec.ingressRef.name</c>); the mesh reads <c>&lt;ingress&gt;-canary</c>.</summary>
    public string? Ingress { get; init; }

    public string IngressAnnotationsPrefix { get; init; } = "nginx.ingress.kubernetes.io";

    /// <summary>APISIX: the user's ApisixRoute (<c>spec.routeRef.name</c>); the mesh reads <c>&lt;route&gt;-&lt;service&gt;-canary</c>.</summary>
    public string? Route { get; init; }

    /// <summary>The canary's workload (the Deployment, Flagger's <c>{{ target }}</c>) in the metrics; default <see cref="Service"/>. The primary's is <c>&lt;workload&gt;-primary</c>.</summary>
    public string? Workload { get; init; }

    /// <summary>The apex service's port (the data planes name clusters by it); default 9898.</summary>
    public int Port { get; init; } = 9898;

    /// <summary>The host the user's route or Ingress serves (in the route names of Skipper and APISIX); default app.example.com.</summary>
    public string Host { get; init; } = "app.example.com";

    public string PrimaryService => Service + "-primary";

    public string CanaryService => Service + "-canary";

    public string WorkloadName => Workload ?? Service;

    /// <summary>The key of the backends in <see cref="TestMeshProxy"/>'s registry; default <c>service.namespace</c>.</summary>
    public string? RegistryKey { get; init; }

    public string EffectiveRegistryKey => RegistryKey ?? $"{Service}.{Namespace}";

    /// <summary>The role of a backend service: primary, canary, or null for any other service.</summary>
    public BackendRole? RoleOf(string? service) =>
        service == PrimaryService ? BackendRole.Primary : service == CanaryService ? BackendRole.Canary : null;

    /// <summary>The target for a canary's <c>spec.provider</c>, as Aviary's routers write it.</summary>
    public static TestMeshTarget ForProvider(string provider, string @namespace, string service, string? ingress = null, string? workload = null,
        string? route = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(provider);
        var (kind, version) = provider switch
        {
            "linkerd" or "osm" or "smi:v1alpha2" => (TestMeshKind.TrafficSplit, "split.smi-spec.io/v1alpha2"),
            "smi:v1alpha1" => (TestMeshKind.TrafficSplit, "split.smi-spec.io/v1alpha1"),
            "smi:v1alpha3" => (TestMeshKind.TrafficSplit, "split.smi-spec.io/v1alpha3"),
            "gatewayapi:v1beta1" => (TestMeshKind.HttpRoute, "gateway.networking.k8s.io/v1beta1"),
            "gatewayapi:v1" => (TestMeshKind.HttpRoute, "gateway.networking.k8s.io/v1"),
            "istio" => (TestMeshKind.VirtualService, "networking.istio.io/v1beta1"),
            "nginx" => (TestMeshKind.Ingress, "networking.k8s.io/v1"),
            "skipper" => (TestMeshKind.SkipperIngress, "networking.k8s.io/v1"),
            "knative" => (TestMeshKind.KnativeService, "serving.knative.dev/v1"),
            "traefik" => (TestMeshKind.TraefikService, "traefik.io/v1alpha1"),
            "apisix" => (TestMeshKind.ApisixRoute, "apisix.apache.org/v2"),
            "contour" => (TestMeshKind.HttpProxy, "projectcontour.io/v1"),
            "gloo" => (TestMeshKind.RouteTable, "gateway.solo.io/v1"),
            "kuma" => (TestMeshKind.TrafficRoute, "kuma.io/v1alpha1"),
            _ => throw new ArgumentException($"the test mesh has no routing object for provider '{provider}'", nameof(provider)),
        };
        if (kind is TestMeshKind.Ingress or TestMeshKind.SkipperIngress && string.IsNullOrEmpty(ingress))
            throw new ArgumentException("provider nginx needs the main ingress' name", nameof(ingress));
        if (kind == TestMeshKind.ApisixRoute && string.IsNullOrEmpty(route))
            throw new ArgumentException("provider apisix needs the user's ApisixRoute's name", nameof(route));
        return new TestMeshTarget { Namespace = @namespace, Service = service, Kind = kind, ApiVersion = version, Ingress = ingress, Workload = workload, Route = route };
    }

    /// <summary>The API path of the object the mesh reads.</summary>
    public string ObjectPath
    {
        get
        {
            var version = ApiVersion ?? Kind switch
            {
                TestMeshKind.TrafficSplit => "split.smi-spec.io/v1alpha2",
                TestMeshKind.HttpRoute => "gateway.networking.k8s.io/v1beta1",
                TestMeshKind.GrpcRoute => "gateway.networking.k8s.io/v1",
                TestMeshKind.VirtualService => "networking.istio.io/v1beta1",
                TestMeshKind.TraefikService => "traefik.io/v1alpha1",
                TestMeshKind.ApisixRoute => "apisix.apache.org/v2",
                TestMeshKind.HttpProxy => "projectcontour.io/v1",
                TestMeshKind.RouteTable => "gateway.solo.io/v1",
                TestMeshKind.TrafficRoute => "kuma.io/v1alpha1",
                TestMeshKind.KnativeService => "serving.knative.dev/v1",
                _ => "networking.k8s.io/v1",
            };
            var (plural, name) = Kind switch
            {
                TestMeshKind.TrafficSplit => ("trafficsplits", Service),
                TestMeshKind.HttpRoute => ("httproutes", Service),
                TestMeshKind.GrpcRoute => ("grpcroutes", Service),
                TestMeshKind.VirtualService => ("virtualservices", Service),
                TestMeshKind.TraefikService => ("traefikservices", Service),
                TestMeshKind.HttpProxy => ("httpproxies", Service),
                TestMeshKind.RouteTable => ("routetables", Service),
                TestMeshKind.TrafficRoute => ("trafficroutes", Service),
                TestMeshKind.KnativeService => ("services", WorkloadName),
                TestMeshKind.ApisixRoute => ("apisixroutes", $"{Route ?? throw new InvalidOperationException("an ApisixRoute target needs Route")}-{Service}-canary"),
                _ => ("ingresses", (Ingress ?? throw new InvalidOperationException("an Ingress target needs Ingress")) + "-canary"),
            };
            // Kuma's TrafficRoutes are cluster-scoped.
            return Kind == TestMeshKind.TrafficRoute ? $"/apis/{version}/{plural}/{name}" : $"/apis/{version}/namespaces/{Namespace}/{plural}/{name}";
        }
    }

    public override string ToString() => $"{Kind} of {Service}.{Namespace}";
}
