using System.Globalization;
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
/// <param name="Requests">Selector of the workload's responses, with <c>{0}</c> for the namespace and <c>{1}</c> for the workload.</param>
/// <param name="ErrorMatcher">The label matcher added to <paramref name="Requests"/> for 5xx responses.</param>
/// <param name="Histogram">Selector of the workload's latency histogram buckets (milliseconds), same placeholders.</param>
/// <param name="Bounds">The histogram's bucket bounds in milliseconds, ascending.</param>
public sealed record ArmQueries(string Provider, string Requests, string ErrorMatcher, string Histogram, double[] Bounds)
{
    /// <summary>Providers whose counters the judge can read from Prometheus.</summary>
    public static IReadOnlyList<string> Counted { get; } = [TrafficProviders.Builtin, TrafficProviders.Istio, TrafficProviders.Linkerd];

    private static readonly double[] LinkerdBounds =
        [1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000];

    private static readonly double[] IstioBounds =
        [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

    private static readonly ArmQueries Linkerd = new(TrafficProviders.Linkerd,
        "response_total{{namespace=\"{0}\", deployment=\"{1}\", direction=\"inbound\"",
        "classification=\"failure\"",
        "response_latency_ms_bucket{{namespace=\"{0}\", deployment=\"{1}\", direction=\"inbound\"",
        LinkerdBounds);

    private static readonly ArmQueries Istio = new(TrafficProviders.Istio,
        "istio_requests_total{{reporter=\"destination\", destination_workload_namespace=\"{0}\", destination_workload=\"{1}\"",
        "response_code=~\"5.*\"",
        "istio_request_duration_milliseconds_bucket{{reporter=\"destination\", destination_workload_namespace=\"{0}\", destination_workload=\"{1}\"",
        IstioBounds);

    /// <summary>The counters of <paramref name="provider"/>, or an error naming the providers that have them.</summary>
    public static Outcome<ArmQueries> For(string provider) => provider switch
    {
        TrafficProviders.Linkerd => Linkerd,
        TrafficProviders.Builtin => Linkerd with { Provider = TrafficProviders.Builtin },
        TrafficProviders.Istio => Istio,
        _ => Outcome<ArmQueries>.Fail(
            $"the judge cannot read per-arm counters of provider '{provider}' from Prometheus (it can for {string.Join(", ", Counted)})"),
    };

    /// <summary>The bucket bound that separates fast from slow for <paramref name="thresholdMs"/>.</summary>
    public double SlowBound(double thresholdMs)
    {
        var bound = Bounds[0];
        foreach (var b in Bounds)
            if (b <= thresholdMs) bound = b;
        return bound;
    }

    /// <summary>Total responses of <paramref name="workload"/>.</summary>
    public string RequestsQuery(string @namespace, string workload) => $"sum({Selector(Requests, @namespace, workload)}}})";

    /// <summary>Its 5xx responses.</summary>
    public string ErrorsQuery(string @namespace, string workload) => $"sum({Selector(Requests, @namespace, workload)}, {ErrorMatcher}}})";

    /// <summary>Its observations in the histogram at or below <paramref name="boundMs"/> (<c>+Inf</c>: all of them).</summary>
    public string BucketQuery(string @namespace, string workload, double? boundMs)
    {
        var le = boundMs is { } b ? $"le=~\"{b.ToString("R", CultureInfo.InvariantCulture).Replace(".", "\\\\.", StringComparison.Ordinal)}(\\\\.0+)?\"" : "le=\"+Inf\"";
        return $"sum({Selector(Histogram, @namespace, workload)}, {le}}})";
    }

    private static string Selector(string template, string @namespace, string workload) =>
        string.Format(CultureInfo.InvariantCulture, template, Escape(@namespace), Escape(workload));

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
