using System.Globalization;
using System.Text.RegularExpressions;
using Aviary.Core.Abstractions;
using TrafficProviders = Aviary.Core.Abstractions.Providers;

namespace Aviary.Metrics.Observers;

/// <summary>
/// Where a provider's Prometheus metrics keep the cumulative counters of one workload, for the sequential judge
/// (<c>analysis.judge</c>): requests, 5xx responses and the latency histogram, read for the canary (<c>{{ target }}</c>)
/// and the primary (<c>{{ target }}-primary</c>) alike. Counters are read as they are — never a quantile — and the
/// judge takes differences between reads.
/// </summary>
/// <remarks>
/// "Slow" is "above a histogram bucket": the largest bucket bound at or below the judge's latency threshold (the
/// smallest bound when the threshold is below all of them). Both arms are counted against the same bound, so the
/// comparison stays fair when the threshold falls between two buckets; <see cref="SlowBound"/> tells which bound.
/// </remarks>
/// <param name="Provider">The provider, e.g. <c>linkerd</c>.</param>
/// <param name="Requests">
/// Selector of the workload's responses (unclosed: matchers are appended), with <c>{0}</c> for the namespace, <c>{1}</c>
/// for the workload (<c>&lt;target&gt;</c> or <c>&lt;target&gt;-primary</c>), <c>{2}</c> for the version's backend
/// Service (<c>&lt;service&gt;-canary</c> or <c>&lt;service&gt;-primary</c>, for data planes that label by backend), and
/// <c>{3}</c> and <c>{4}</c> for the namespace and backend with every non-word character written <c>_</c> (Skipper's route
/// ids), and <c>{5}</c> for a regex of the backend's endpoint addresses (<paramref name="ByEndpoints"/>).
/// </param>
/// <param name="ErrorMatcher">The label matcher added to <paramref name="Requests"/> for 5xx responses.</param>
/// <param name="Histogram">Selector of the workload's latency histogram buckets, same placeholders.</param>
/// <param name="Bounds">The histogram's bucket bounds in milliseconds, ascending.</param>
/// <param name="MillisecondsPerUnit">The histogram's unit: 1 for milliseconds, 1000 for seconds.</param>
/// <param name="ByEndpoints">
/// Whether the series tell the versions apart by the address of the pod that answered (APISIX's <c>node</c>): the
/// addresses are read from the backend Service's Endpoints, and a version without any counts 0.
/// </param>
public sealed partial record ArmQueries(string Provider, string Requests, string ErrorMatcher, string Histogram, double[] Bounds, double MillisecondsPerUnit = 1,
    bool ByEndpoints = false)
{
    /// <summary>Providers whose counters the judge can read from Prometheus.</summary>
    public static IReadOnlyList<string> Counted => [.. TrafficProviders.All.Where(p => Find(p) is not null)];

    private static readonly double[] LinkerdBounds =
        [1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000];

    // Envoy's default histogram buckets (Istio, OSM, Contour, Gloo, Kuma).
    private static readonly double[] EnvoyBounds =
        [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

    // The Prometheus client libraries' default buckets, 0.005 s to 10 s (ingress-nginx, Skipper, podinfo).
    private static readonly double[] ClientDefaultBounds = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

    private static readonly double[] TraefikBounds = [100, 300, 1200, 5000];

    private const double Seconds = 1000;

    private static readonly ArmQueries Linkerd = new(TrafficProviders.Linkerd,
        "response_total{{namespace=\"{0}\", deployment=\"{1}\", direction=\"inbound\"",
        "classification=\"failure\"",
        "response_latency_ms_bucket{{namespace=\"{0}\", deployment=\"{1}\", direction=\"inbound\"",
        LinkerdBounds);

    private static readonly ArmQueries Istio = new(TrafficProviders.Istio,
        "istio_requests_total{{reporter=\"destination\", destination_workload_namespace=\"{0}\", destination_workload=\"{1}\"",
        "response_code=~\"5.*\"",
        "istio_request_duration_milliseconds_bucket{{reporter=\"destination\", destination_workload_namespace=\"{0}\", destination_workload=\"{1}\"",
        EnvoyBounds);

    private static readonly ArmQueries Osm = new(TrafficProviders.Osm,
        "osm_request_total{{destination_namespace=\"{0}\", destination_kind=\"Deployment\", destination_name=\"{1}\"",
        "response_code=~\"5.*\"",
        "osm_request_duration_ms_bucket{{destination_namespace=\"{0}\", destination_kind=\"Deployment\", destination_name=\"{1}\"",
        EnvoyBounds);

    // The application's own metrics (Flagger's "http" observer): pods <workload>-<replicaset hash>-<pod hash>.
    private static readonly ArmQueries Http = new(TrafficProviders.Kubernetes,
        "http_request_duration_seconds_count{{kubernetes_namespace=\"{0}\", kubernetes_pod_name=~\"{1}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\"",
        "status=~\"5.*\"",
        "http_request_duration_seconds_bucket{{kubernetes_namespace=\"{0}\", kubernetes_pod_name=~\"{1}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\"",
        ClientDefaultBounds, Seconds);

    // Envoy's upstream clusters of the backend Services, named as each control plane names them.
    private static ArmQueries Envoy(string provider, string cluster) => new(provider,
        $"envoy_cluster_upstream_rq{{{{{cluster}", "envoy_response_code=~\"5.*\"", $"envoy_cluster_upstream_rq_time_bucket{{{{{cluster}", EnvoyBounds);

    private static readonly ArmQueries Contour = Envoy(TrafficProviders.Contour, "envoy_cluster_name=~\"{0}_{2}_[0-9a-zA-Z-]+\"");

    private static readonly ArmQueries Gloo = Envoy(TrafficProviders.Gloo, "envoy_cluster_name=~\"{0}-{2}upstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+\"");

    private static readonly ArmQueries Kuma = Envoy(TrafficProviders.Kuma, "service=~\"{2}_{0}_svc_[0-9a-zA-Z-]+\"");

    private static readonly ArmQueries Nginx = new(TrafficProviders.Nginx,
        "nginx_ingress_controller_requests{{namespace=\"{0}\", service=\"{2}\"",
        "status=~\"5.*\"",
        "nginx_ingress_controller_response_duration_seconds_bucket{{namespace=\"{0}\", service=\"{2}\"",
        ClientDefaultBounds, Seconds);

    private static readonly ArmQueries Traefik = new(TrafficProviders.Traefik,
        "traefik_service_requests_total{{service=~\"{0}-{2}-[0-9a-zA-Z-]+@kubernetescrd\"",
        "code=~\"5..\"",
        "traefik_service_request_duration_seconds_bucket{{service=~\"{0}-{2}-[0-9a-zA-Z-]+@kubernetescrd\"",
        TraefikBounds, Seconds);

    // Both versions are served by the canary route; the upstream node (the pod's address) tells them apart.
    private static readonly ArmQueries Apisix = new(TrafficProviders.Apisix,
        "apisix_http_status{{route=~\"{0}_.+\", node=~\"{5}\"",
        "code=~\"5..\"",
        "apisix_http_latency_bucket{{type=\"request\", route=~\"{0}_.+\", node=~\"{5}\"",
        [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000], ByEndpoints: true);

    private static readonly ArmQueries Skipper = new(TrafficProviders.Skipper,
        "skipper_response_duration_seconds_bucket{{le=\"+Inf\", route=~\"kube(ew)?_{3}__.*__{4}(_[0-9]+)?\"",
        "code=~\"5..\"",
        "skipper_response_duration_seconds_bucket{{route=~\"kube(ew)?_{3}__.*__{4}(_[0-9]+)?\"",
        ClientDefaultBounds, Seconds);

    /// <summary>The counters of <paramref name="provider"/>, or an error naming the providers that have them.</summary>
    public static Outcome<ArmQueries> For(string provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        return Find(provider) is { } queries ? queries
            : Outcome<ArmQueries>.Fail($"the judge cannot read per-arm counters of provider '{provider}' from Prometheus (it can for {string.Join(", ", Counted)})");
    }

    // Knative labels by revision (the primary's is in the Service's annotation, not in the canary's policy).
    private static ArmQueries? Find(string provider) => provider switch
    {
        TrafficProviders.Linkerd => Linkerd,
        TrafficProviders.Builtin => Linkerd with { Provider = TrafficProviders.Builtin },
        TrafficProviders.Istio => Istio,
        TrafficProviders.Osm => Osm,
        TrafficProviders.Kubernetes => Http,
        TrafficProviders.Contour => Contour,
        TrafficProviders.Gloo => Gloo,
        TrafficProviders.Kuma => Kuma,
        TrafficProviders.Nginx => Nginx,
        TrafficProviders.Traefik => Traefik,
        TrafficProviders.Skipper => Skipper,
        TrafficProviders.Apisix => Apisix,
        _ when provider.StartsWith("gatewayapi", StringComparison.Ordinal) => Http with { Provider = provider },
        _ => null,
    };

    /// <summary>The bucket bound that separates fast from slow for <paramref name="thresholdMs"/>.</summary>
    public double SlowBound(double thresholdMs)
    {
        var bound = Bounds[0];
        foreach (var b in Bounds)
            if (b <= thresholdMs) bound = b;
        return bound;
    }

    /// <summary>Total responses of <paramref name="workload"/>, whose backend Service is <paramref name="backend"/>.</summary>
    public string RequestsQuery(string @namespace, string workload, string backend, IReadOnlyList<string>? endpoints = null) =>
        $"sum({Selector(Requests, @namespace, workload, backend, endpoints)}}})";

    /// <summary>Its 5xx responses.</summary>
    public string ErrorsQuery(string @namespace, string workload, string backend, IReadOnlyList<string>? endpoints = null) =>
        $"sum({Selector(Requests, @namespace, workload, backend, endpoints)}, {ErrorMatcher}}})";

    /// <summary>Its observations in the histogram at or below <paramref name="boundMs"/> (<c>+Inf</c>: all of them).</summary>
    public string BucketQuery(string @namespace, string workload, string backend, double? boundMs, IReadOnlyList<string>? endpoints = null)
    {
        var le = boundMs is { } b ? $"le=~\"{(b / MillisecondsPerUnit).ToString("R", CultureInfo.InvariantCulture).Replace(".", "\\\\.", StringComparison.Ordinal)}(\\\\.0+)?\"" : "le=\"+Inf\"";
        return $"sum({Selector(Histogram, @namespace, workload, backend, endpoints)}, {le}}})";
    }

    private static string Selector(string template, string @namespace, string workload, string backend, IReadOnlyList<string>? endpoints) =>
        string.Format(CultureInfo.InvariantCulture, template, Escape(@namespace), Escape(workload), Escape(backend), Escape(Word(@namespace)), Escape(Word(backend)),
            Escape(string.Join("|", (endpoints ?? []).Select(Regex.Escape))));

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

    private static string Word(string value) => NonWord().Replace(value, "_");

    [GeneratedRegex("[^a-zA-Z0-9_]")]
    private static partial Regex NonWord();
}
