using System.Globalization;
using Aviary.Core.Observability;

namespace Aviary.Routing.Proxy.Metrics;

/// <summary>The counters of one backend of one service, with the labels they are exported under.</summary>
internal sealed record BackendSeries(string Service, string Namespace, string Deployment, BackendRole Role, BackendMetrics Metrics)
{
    public string Backend => Role == BackendRole.Primary ? "primary" : "canary";
}

/// <summary>
/// Writes the proxy's counters in the Prometheus text exposition format 0.0.4: Aviary's own families, and Linkerd's
/// proxy families (<c>response_total</c>, <c>response_latency_ms</c>, <c>direction="inbound"</c>) so that Flagger's
/// Linkerd queries run unchanged. Families are sorted by name, series by their labels; buckets ascend.
/// </summary>
internal static class PrometheusText
{
    private static readonly string[] ClassNames = ["1xx", "2xx", "3xx", "4xx", "5xx"];

    public static void Write(TextWriter writer, IReadOnlyList<BackendSeries> all)
    {
        var aviary = all.OrderBy(s => s.Service, StringComparer.Ordinal).ThenBy(s => s.Backend, StringComparer.Ordinal).ToList();
        var linkerd = all.OrderBy(s => s.Namespace, StringComparer.Ordinal).ThenBy(s => s.Deployment, StringComparer.Ordinal)
            .ThenBy(s => s.Service, StringComparer.Ordinal).ToList();
        var w = new PrometheusWriter();

        w.Family("aviary_router_in_flight", "gauge", "Requests the built-in router is forwarding now, per service and backend.");
        foreach (var s in aviary) w.Sample("aviary_router_in_flight", s.Metrics.InFlight, AviaryLabels(s));

        w.Family("aviary_router_request_duration_seconds", "histogram",
            "Time from receiving a request to the response headers of the instance (or the proxy's error), in seconds.");
        foreach (var s in aviary)
        {
            var (buckets, sumMs) = s.Metrics.Histogram();
            w.Histogram("aviary_router_request_duration_seconds", FiniteBounds(1000.0), buckets, sumMs / 1000.0, AviaryLabels(s));
        }

        w.Family("aviary_router_requests_total", "counter", "Requests answered by the built-in router, per service, backend and status class.");
        foreach (var s in aviary)
        {
            var classes = s.Metrics.ClassCounts();
            for (var c = 0; c < classes.Length; c++)
                w.Sample("aviary_router_requests_total", classes[c], [.. AviaryLabels(s), ("code", ClassNames[c])]);
        }

        w.Family("response_latency_ms", "histogram", "Linkerd-compatible response latency of inbound requests, in milliseconds.");
        foreach (var s in linkerd)
        {
            var (buckets, sumMs) = s.Metrics.Histogram();
            w.Histogram("response_latency_ms", FiniteBounds(1.0), buckets, sumMs, LinkerdLabels(s));
        }

        w.Family("response_total", "counter", "Linkerd-compatible count of inbound responses; classification is failure for 5xx.");
        foreach (var s in linkerd)
        {
            foreach (var (status, count) in s.Metrics.StatusCounts())
            {
                var classification = status is >= 500 and < 600 ? "failure" : "success";
                w.Sample("response_total", count,
                    [.. LinkerdLabels(s), ("classification", classification), ("status_code", status.ToString(CultureInfo.InvariantCulture))]);
            }
        }

        writer.Write(w.ToString());
    }

    private static (string, string)[] AviaryLabels(BackendSeries s) => [("service", s.Service), ("backend", s.Backend)];

    private static (string, string)[] LinkerdLabels(BackendSeries s) =>
        [("direction", "inbound"), ("namespace", s.Namespace), ("deployment", s.Deployment)];

    /// <summary>The bucket bounds (milliseconds, without +Inf) divided into the exported unit.</summary>
    private static double[] FiniteBounds(double scale) =>
        LatencyBuckets.UpperBoundsMs.Where(double.IsFinite).Select(b => b / scale).ToArray();
}
