using System.Globalization;
using System.Text.RegularExpressions;
using Aviary.Core.Observability;
using Aviary.Routing;

namespace Aviary.TestKit;

/// <summary>Which requests a provider's built-in metric queries measure, given <c>{{ target }}</c>.</summary>
public enum TestMeshSeriesScope
{
    /// <summary>The workload named by <c>{{ target }}</c>: the canary's for the canary, the primary's for <c>&lt;target&gt;-primary</c>.</summary>
    Workload,

    /// <summary>The canary's requests only, whatever <c>{{ target }}</c> is (the query names the <c>-canary</c> backend).</summary>
    Canary,

    /// <summary>Every request of the canary route, both versions together (APISIX labels by route, not by backend).</summary>
    Route,
}

/// <summary>One version's requests as a series family writes them.</summary>
public sealed class TestMeshArmSample
{
    private readonly Func<IReadOnlyList<double>, int?, long[]> _buckets;
    private readonly Func<int?, double> _sumMs;

    internal TestMeshArmSample(BackendRole role, string workload, string backend, IReadOnlyDictionary<int, long> byStatus,
        Func<IReadOnlyList<double>, int?, long[]> buckets, Func<int?, double> sumMs)
    {
        Role = role;
        Workload = workload;
        Backend = backend;
        ByStatus = byStatus;
        _buckets = buckets;
        _sumMs = sumMs;
    }

    public BackendRole Role { get; }

    /// <summary>The workload (Deployment) that answered: <c>&lt;target&gt;</c> or <c>&lt;target&gt;-primary</c>.</summary>
    public string Workload { get; }

    /// <summary>The routing object's destination that served it (a Knative revision).</summary>
    public string Backend { get; }

    /// <summary>Responses by status code.</summary>
    public IReadOnlyDictionary<int, long> ByStatus { get; }

    /// <summary>Observations per bucket of <paramref name="boundsMs"/> (one more for +Inf), of one status or all.</summary>
    public long[] Buckets(IReadOnlyList<double> boundsMs, int? status = null) => _buckets(boundsMs, status);

    /// <summary>Sum of the latencies in milliseconds, of one status or all.</summary>
    public double SumMs(int? status = null) => _sumMs(status);

    /// <summary>"primary" or "canary".</summary>
    public string RoleName => Role == BackendRole.Primary ? "primary" : "canary";
}

/// <summary>
/// The metric families one mesh or ingress exports for the requests it served, with the names and labels the real
/// data plane gives them (and that Flagger's built-in queries select). <see cref="TestMeshMetrics"/> writes the
/// families of its <see cref="TestMeshMetricsOptions.Series"/>; <see cref="For"/> gives a provider's.
/// </summary>
/// <param name="Provider">The provider, e.g. <c>contour</c>.</param>
/// <param name="BucketsMs">The data plane's latency histogram bounds, in milliseconds.</param>
/// <param name="Scope">What the provider's built-in queries measure.</param>
/// <param name="Requests">A PromQL selector of a counter of every response in the families (to wait for enough of them).</param>
public sealed partial record TestMeshSeries(string Provider, IReadOnlyList<double> BucketsMs, TestMeshSeriesScope Scope, string Requests)
{
    /// <summary>Writes the families for the target's versions that answered.</summary>
    internal Action<PrometheusWriter, TestMeshTarget, IReadOnlyList<TestMeshArmSample>> Write { get; init; } = (_, _, _) => { };

    /// <summary>Linkerd proxy's latency buckets, in milliseconds.</summary>
    public static IReadOnlyList<double> LinkerdBuckets { get; } =
        [1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000];

    /// <summary>Envoy's default histogram buckets (Istio, Contour, Gloo, Kuma, OSM), in milliseconds.</summary>
    public static IReadOnlyList<double> EnvoyBuckets { get; } =
        [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

    /// <summary>The Prometheus client libraries' default buckets (0.005 s to 10 s: ingress-nginx, Skipper, podinfo), in milliseconds.</summary>
    public static IReadOnlyList<double> ClientDefaultBuckets { get; } = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

    /// <summary>Traefik's default buckets (0.1, 0.3, 1.2, 5 s), in milliseconds.</summary>
    public static IReadOnlyList<double> TraefikBuckets { get; } = [100, 300, 1200, 5000];

    /// <summary>APISIX's default latency buckets, in milliseconds.</summary>
    public static IReadOnlyList<double> ApisixBuckets { get; } = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000];

    /// <summary>The name of the user's ApisixRoute rule the tests write (APISIX names a route <c>&lt;ns&gt;_&lt;ApisixRoute&gt;_&lt;rule&gt;</c>).</summary>
    public const string ApisixRule = "main";

    /// <summary>Linkerd's inbound proxy: <c>response_total</c> and <c>response_latency_ms</c> by namespace and deployment.</summary>
    public static TestMeshSeries Linkerd { get; } = new("linkerd", LinkerdBuckets, TestMeshSeriesScope.Workload, "response_total")
    {
        Write = (w, target, arms) =>
        {
            w.Family("response_total", "counter", "Total count of HTTP responses (test mesh, Linkerd's inbound proxy format).");
            foreach (var arm in arms)
                foreach (var (status, count) in arm.ByStatus)
                    w.Sample("response_total", count, ("direction", "inbound"), ("namespace", target.Namespace), ("deployment", arm.Workload),
                        ("classification", status >= 500 ? "failure" : "success"), ("status_code", Code(status)));
            w.Family("response_latency_ms", "histogram", "Elapsed times between a request's headers being received and its response stream completing (test mesh).");
            foreach (var arm in arms)
                w.Histogram("response_latency_ms", LinkerdBuckets, arm.Buckets(LinkerdBuckets), arm.SumMs(),
                    ("direction", "inbound"), ("namespace", target.Namespace), ("deployment", arm.Workload));
        },
    };

    /// <summary>Istio's destination reporter: <c>istio_requests_total</c> and <c>istio_request_duration_milliseconds</c> by workload.</summary>
    public static TestMeshSeries Istio { get; } = new("istio", EnvoyBuckets, TestMeshSeriesScope.Workload, "istio_requests_total")
    {
        Write = (w, target, arms) =>
        {
            w.Family("istio_requests_total", "counter", "Requests received (test mesh, Istio's destination reporter format).");
            foreach (var arm in arms)
                foreach (var (status, count) in arm.ByStatus)
                    w.Sample("istio_requests_total", count, ("reporter", "destination"), ("destination_workload_namespace", target.Namespace),
                        ("destination_workload", arm.Workload), ("destination_service_name", target.Service), ("response_code", Code(status)));
            w.Family("istio_request_duration_milliseconds", "histogram", "Request durations (test mesh, Istio's destination reporter format).");
            foreach (var arm in arms)
                w.Histogram("istio_request_duration_milliseconds", EnvoyBuckets, arm.Buckets(EnvoyBuckets), arm.SumMs(),
                    ("reporter", "destination"), ("destination_workload_namespace", target.Namespace), ("destination_workload", arm.Workload),
                    ("destination_service_name", target.Service));
        },
    };

    /// <summary>Open Service Mesh: <c>osm_request_total</c> and <c>osm_request_duration_ms</c> by destination Deployment.</summary>
    public static TestMeshSeries Osm { get; } = new("osm", EnvoyBuckets, TestMeshSeriesScope.Workload, "osm_request_total")
    {
        Write = (w, target, arms) =>
        {
            w.Family("osm_request_total", "counter", "Requests (test mesh, OSM's Envoy stats format).");
            foreach (var arm in arms)
                foreach (var (status, count) in arm.ByStatus)
                    w.Sample("osm_request_total", count, ("source_namespace", target.Namespace), ("source_kind", "Deployment"), ("source_name", "loadtester"),
                        ("destination_namespace", target.Namespace), ("destination_kind", "Deployment"), ("destination_name", arm.Workload),
                        ("response_code", Code(status)));
            w.Family("osm_request_duration_ms", "histogram", "Request durations (test mesh, OSM's Envoy stats format).");
            foreach (var arm in arms)
                w.Histogram("osm_request_duration_ms", EnvoyBuckets, arm.Buckets(EnvoyBuckets), arm.SumMs(),
                    ("destination_namespace", target.Namespace), ("destination_kind", "Deployment"), ("destination_name", arm.Workload));
        },
    };

    /// <summary>Contour's Envoy: clusters named by the stat name <c>&lt;ns&gt;_&lt;service&gt;_&lt;port&gt;</c> of each backend Service.</summary>
    public static TestMeshSeries Contour { get; } = Envoy("contour", TestMeshSeriesScope.Canary,
        (target, arm) => [("envoy_cluster_name", $"{target.Namespace}_{target.Service}-{arm.RoleName}_{target.Port}")]);

    /// <summary>Gloo Edge's Envoy: clusters named <c>&lt;upstream&gt;_&lt;upstream namespace&gt;</c> of the Upstreams Flagger's router writes.</summary>
    public static TestMeshSeries Gloo { get; } = Envoy("gloo", TestMeshSeriesScope.Canary,
        (target, arm) => [("envoy_cluster_name", $"{target.Namespace}-{target.Service}-{arm.RoleName}upstream-{target.Port}_{target.Namespace}")]);

    /// <summary>Kuma's dataplanes: each version's inbound cluster, labelled with its own <c>kuma.io/service</c> tag (<c>service</c>).</summary>
    public static TestMeshSeries Kuma { get; } = Envoy("kuma", TestMeshSeriesScope.Canary,
        (target, arm) => [("envoy_cluster_name", $"localhost_{target.Port}"), ("service", $"{target.Service}-{arm.RoleName}_{target.Namespace}_svc_{target.Port}")]);

    /// <summary>Knative's Envoy (Kourier): a cluster per revision, named <c>&lt;ns&gt;/&lt;revision&gt;</c>.</summary>
    public static TestMeshSeries Knative { get; } = Envoy("knative", TestMeshSeriesScope.Canary,
        (target, arm) => [("envoy_cluster_name", $"{target.Namespace}/{arm.Backend}")]);

    /// <summary>ingress-nginx: requests of the main Ingress, the canary backend named in <c>canary</c> (empty for the primary).</summary>
    public static TestMeshSeries Nginx { get; } = new("nginx", ClientDefaultBuckets, TestMeshSeriesScope.Canary, "nginx_ingress_controller_requests")
    {
        Write = (w, target, arms) =>
        {
            (string, string)[] Labels(TestMeshArmSample arm) =>
            [
                ("namespace", target.Namespace), ("ingress", target.Ingress ?? target.Service), ("service", $"{target.Service}-{arm.RoleName}"),
                ("canary", arm.Role == BackendRole.Canary ? $"{target.Namespace}-{target.Service}-canary-{target.Port}" : ""),
            ];
            w.Family("nginx_ingress_controller_requests", "counter", "The total number of client requests (test mesh, ingress-nginx format).");
            foreach (var arm in arms)
                foreach (var (status, count) in arm.ByStatus)
                    w.Sample("nginx_ingress_controller_requests", count, [.. Labels(arm), ("method", "GET"), ("status", Code(status))]);
            w.Family("nginx_ingress_controller_response_duration_seconds", "histogram", "The time spent on receiving the response from the upstream server (test mesh).");
            foreach (var arm in arms)
                w.Histogram("nginx_ingress_controller_response_duration_seconds", Seconds(ClientDefaultBuckets), arm.Buckets(ClientDefaultBuckets), arm.SumMs() / 1000,
                    Labels(arm));
        },
    };

    /// <summary>
    /// Skipper: per route, by status code. A Kubernetes route's id is <c>kube_&lt;ns&gt;__&lt;ingress&gt;__&lt;host&gt;__&lt;path&gt;__&lt;backend&gt;</c>
    /// with every non-word character written <c>_</c>; both versions are served by the <c>&lt;ingress&gt;-canary</c> copy.
    /// </summary>
    public static TestMeshSeries Skipper { get; } = new("skipper", ClientDefaultBuckets, TestMeshSeriesScope.Canary,
        "skipper_serve_route_duration_seconds_count")
    {
        Write = (w, target, arms) =>
        {
            string Route(TestMeshArmSample arm) =>
                $"kube_{Word(target.Namespace)}__{Word((target.Ingress ?? target.Service) + "-canary")}__{Word(target.Host)}__{Word("/")}__{Word($"{target.Service}-{arm.RoleName}")}";
            foreach (var family in new[] { "skipper_response_duration_seconds", "skipper_serve_route_duration_seconds" })
            {
                w.Family(family, "histogram", "Durations of responses by route (test mesh, Skipper's format).");
                foreach (var arm in arms)
                    foreach (var status in arm.ByStatus.Keys)
                        w.Histogram(family, Seconds(ClientDefaultBuckets), arm.Buckets(ClientDefaultBuckets, status), arm.SumMs(status) / 1000,
                            ("code", Code(status)), ("method", "GET"), ("route", Route(arm)));
            }
        },
    };

    /// <summary>Traefik: per Kubernetes service <c>&lt;ns&gt;-&lt;service&gt;-&lt;port&gt;@kubernetescrd</c>, by status code.</summary>
    public static TestMeshSeries Traefik { get; } = new("traefik", TraefikBuckets, TestMeshSeriesScope.Canary, "traefik_service_requests_total")
    {
        Write = (w, target, arms) =>
        {
            (string, string)[] Labels(TestMeshArmSample arm, int status) =>
                [("code", Code(status)), ("method", "GET"), ("protocol", "http"), ("service", $"{target.Namespace}-{target.Service}-{arm.RoleName}-{target.Port}@kubernetescrd")];
            w.Family("traefik_service_requests_total", "counter", "How many HTTP requests processed on a service (test mesh, Traefik's format).");
            foreach (var arm in arms)
                foreach (var (status, count) in arm.ByStatus)
                    w.Sample("traefik_service_requests_total", count, Labels(arm, status));
            w.Family("traefik_service_request_duration_seconds", "histogram", "How long it took to process the request on a service (test mesh).");
            foreach (var arm in arms)
                foreach (var status in arm.ByStatus.Keys)
                    w.Histogram("traefik_service_request_duration_seconds", Seconds(TraefikBuckets), arm.Buckets(TraefikBuckets, status), arm.SumMs(status) / 1000,
                        Labels(arm, status));
        },
    };

    /// <summary>
    /// APISIX: by route <c>&lt;ns&gt;_&lt;ApisixRoute&gt;_&lt;rule&gt;</c> and upstream node. Both versions are served by the canary
    /// ApisixRoute, so the route's series hold both; the node (pod address) tells them apart.
    /// </summary>
    public static TestMeshSeries Apisix { get; } = new("apisix", ApisixBuckets, TestMeshSeriesScope.Route, "apisix_http_status")
    {
        Write = (w, target, arms) =>
        {
            var route = $"{target.Namespace}_{target.Route ?? target.Service}-{target.Service}-canary_{ApisixRule}";
            string Node(TestMeshArmSample arm) => ApisixNode(arm.Role);
            w.Family("apisix_http_status", "counter", "HTTP status codes per service in APISIX (test mesh).");
            foreach (var arm in arms)
                foreach (var (status, count) in arm.ByStatus)
                    w.Sample("apisix_http_status", count, ("code", Code(status)), ("route", route), ("matched_uri", "/*"), ("matched_host", target.Host),
                        ("service", ""), ("consumer", ""), ("node", Node(arm)));
            w.Family("apisix_http_latency", "histogram", "HTTP request latency in milliseconds per service in APISIX (test mesh).");
            foreach (var type in new[] { "request", "upstream" })
                foreach (var arm in arms)
                    w.Histogram("apisix_http_latency", ApisixBuckets, arm.Buckets(ApisixBuckets), arm.SumMs(),
                        ("type", type), ("route", route), ("service", ""), ("consumer", ""), ("node", Node(arm)));
        },
    };

    /// <summary>
    /// The application's own <c>http_request_duration_seconds</c> (podinfo's), scraped per pod with the
    /// <c>kubernetes_namespace</c> and <c>kubernetes_pod_name</c> labels of Prometheus' Kubernetes discovery; pods of a
    /// Deployment are named <c>&lt;deployment&gt;-&lt;replicaset hash&gt;-&lt;pod hash&gt;</c>. Flagger's queries for
    /// <c>kubernetes</c> and the Gateway API.
    /// </summary>
    public static TestMeshSeries Http { get; } = new("kubernetes", ClientDefaultBuckets, TestMeshSeriesScope.Workload, "http_request_duration_seconds_count")
    {
        Write = (w, target, arms) =>
        {
            string Pod(TestMeshArmSample arm) => arm.Workload + (arm.Role == BackendRole.Primary ? "-6c9d8e7f5b-q4w8z" : "-5d8f7b9c4d-x7k2p");
            w.Family("http_request_duration_seconds", "histogram", "Seconds spent serving HTTP requests (test mesh, podinfo's format).");
            foreach (var arm in arms)
                foreach (var status in arm.ByStatus.Keys)
                    w.Histogram("http_request_duration_seconds", Seconds(ClientDefaultBuckets), arm.Buckets(ClientDefaultBuckets, status), arm.SumMs(status) / 1000,
                        ("kubernetes_namespace", target.Namespace), ("kubernetes_pod_name", Pod(arm)), ("method", "GET"), ("path", "/"), ("status", Code(status)));
        },
    };

    /// <summary>The address of the pod of each version in APISIX's <c>node</c> label (tests publish it in the version's Endpoints).</summary>
    public static string ApisixNode(BackendRole role) => role == BackendRole.Primary ? "10.244.0.11" : "10.244.0.12";

    /// <summary>The families of <paramref name="provider"/>'s data plane, or null when the test mesh has none (plain SMI).</summary>
    public static TestMeshSeries? For(string provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        return provider switch
        {
            "linkerd" => Linkerd,
            "istio" => Istio,
            "osm" => Osm,
            "contour" => Contour,
            "gloo" => Gloo,
            "kuma" => Kuma,
            "knative" => Knative,
            "nginx" => Nginx,
            "skipper" => Skipper,
            "traefik" => Traefik,
            "apisix" => Apisix,
            "kubernetes" => Http,
            _ when provider.StartsWith("gatewayapi", StringComparison.Ordinal) => Http with { Provider = provider },
            _ => null,
        };
    }

    private static TestMeshSeries Envoy(string provider, TestMeshSeriesScope scope, Func<TestMeshTarget, TestMeshArmSample, (string, string)[]> cluster) =>
        new(provider, EnvoyBuckets, scope, "envoy_cluster_upstream_rq")
        {
            Write = (w, target, arms) =>
            {
                w.Family("envoy_cluster_upstream_rq", "counter", $"Upstream requests by response code (test mesh, {provider}'s Envoy).");
                foreach (var arm in arms)
                    foreach (var (status, count) in arm.ByStatus)
                        w.Sample("envoy_cluster_upstream_rq", count, [.. cluster(target, arm), ("envoy_response_code", Code(status))]);
                w.Family("envoy_cluster_upstream_rq_time", "histogram", $"Upstream request time in milliseconds (test mesh, {provider}'s Envoy).");
                foreach (var arm in arms)
                    w.Histogram("envoy_cluster_upstream_rq_time", EnvoyBuckets, arm.Buckets(EnvoyBuckets), arm.SumMs(), cluster(target, arm));
            },
        };

    private static string Code(int status) => status.ToString(CultureInfo.InvariantCulture);

    private static double[] Seconds(IReadOnlyList<double> boundsMs) => [.. boundsMs.Select(b => b / 1000)];

    private static string Word(string value) => NonWord().Replace(value, "_");

    [GeneratedRegex("[^a-zA-Z0-9_]")]
    private static partial Regex NonWord();

    public override string ToString() => $"{Provider}'s series";
}
