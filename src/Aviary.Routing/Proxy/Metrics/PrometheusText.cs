using System.Globalization;
using System.Text;

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
        var text = new StringBuilder(4096);

        Family(text, "aviary_router_in_flight", "gauge", "Requests the built-in router is forwarding now, per service and backend.");
        foreach (var s in aviary)
        {
            Sample(text, "aviary_router_in_flight", AviaryLabels(s), s.Metrics.InFlight.ToString(CultureInfo.InvariantCulture));
        }

        Family(text, "aviary_router_request_duration_seconds", "histogram",
            "Time from receiving a request to the response headers of the instance (or the proxy's error), in seconds.");
        foreach (var s in aviary)
        {
            var (buckets, sumMs) = s.Metrics.Histogram();
            Histogram(text, "aviary_router_request_duration_seconds", AviaryLabels(s), buckets, sumMs / 1000.0, scale: 1000.0);
        }

        Family(text, "aviary_router_requests_total", "counter", "Requests answered by the built-in router, per service, backend and status class.");
        foreach (var s in aviary)
        {
            var classes = s.Metrics.ClassCounts();
            for (var c = 0; c < classes.Length; c++)
            {
                Sample(text, "aviary_router_requests_total", AviaryLabels(s) + ",code=\"" + ClassNames[c] + "\"",
                    classes[c].ToString(CultureInfo.InvariantCulture));
            }
        }

        Family(text, "response_latency_ms", "histogram", "Linkerd-compatible response latency of inbound requests, in milliseconds.");
        foreach (var s in linkerd)
        {
            var (buckets, sumMs) = s.Metrics.Histogram();
            Histogram(text, "response_latency_ms", LinkerdLabels(s), buckets, sumMs, scale: 1.0);
        }

        Family(text, "response_total", "counter", "Linkerd-compatible count of inbound responses; classification is failure for 5xx.");
        foreach (var s in linkerd)
        {
            foreach (var (status, count) in s.Metrics.StatusCounts())
            {
                var classification = status is >= 500 and < 600 ? "failure" : "success";
                Sample(text, "response_total",
                    LinkerdLabels(s) + ",classification=\"" + classification + "\",status_code=\"" + status.ToString(CultureInfo.InvariantCulture) + "\"",
                    count.ToString(CultureInfo.InvariantCulture));
            }
        }

        writer.Write(text.ToString());
    }

    private static string AviaryLabels(BackendSeries s) => $"service=\"{Escape(s.Service)}\",backend=\"{s.Backend}\"";

    private static string LinkerdLabels(BackendSeries s) =>
        $"direction=\"inbound\",namespace=\"{Escape(s.Namespace)}\",deployment=\"{Escape(s.Deployment)}\"";

    private static void Family(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, string labels, string value) =>
        text.Append(name).Append('{').Append(labels).Append("} ").Append(value).Append('\n');

    /// <param name="scale">Divisor from the bucket bounds (milliseconds) to the exported unit.</param>
    private static void Histogram(StringBuilder text, string name, string labels, long[] buckets, double sum, double scale)
    {
        long cumulative = 0;
        for (var i = 0; i < buckets.Length; i++)
        {
            cumulative += buckets[i];
            var le = FormatDouble(LatencyBuckets.UpperBoundsMs[i] / scale);
            Sample(text, name + "_bucket", labels + ",le=\"" + le + "\"", cumulative.ToString(CultureInfo.InvariantCulture));
        }
        Sample(text, name + "_sum", labels, FormatDouble(sum));
        Sample(text, name + "_count", labels, cumulative.ToString(CultureInfo.InvariantCulture));
    }

    internal static string FormatDouble(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" :
        double.IsNegativeInfinity(value) ? "-Inf" :
        double.IsNaN(value) ? "NaN" :
        value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    internal static string Escape(string value)
    {
        if (value.AsSpan().IndexOfAny('\\', '"', '\n') < 0) return value;
        return value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal);
    }

    /// <summary>HELP text escapes backslash and line feed.</summary>
    private static string EscapeHelp(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
