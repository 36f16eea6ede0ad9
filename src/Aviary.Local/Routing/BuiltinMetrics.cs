using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Routing.Proxy;

namespace Aviary.Local.Routing;

/// <summary>
/// Flagger's built-in metrics measured by Aviary's own router, for the canary backend over the metric's interval:
/// <c>request-success-rate</c> (percent of non-5xx answers) and <c>request-duration</c> (p99 in milliseconds,
/// interpolated within the histogram bucket as Prometheus' histogram_quantile does). No requests means no data.
/// </summary>
public sealed class BuiltinMetrics(IProxyRouter proxy) : IMetricProvider
{
    public const string Source = "builtin";

    public ValueTask<MetricSample> QueryAsync(CanaryPolicy canary, MetricCheck metric, CancellationToken cancellationToken)
    {
        if (!metric.IsBuiltin)
            return ValueTask.FromResult(MetricSample.Failed($"metric {metric.Name} needs a metrics provider (query or templateRef)", Source));
        var window = proxy.GetTraffic(canary.Id, BackendRole.Canary, metric.Interval);
        if (window.Total == 0)
            return ValueTask.FromResult(MetricSample.NoData($"no requests reached the canary in the last {Core.Primitives.GoDuration.Format(metric.Interval)}", Source));
        var value = metric.Name == MetricCheck.RequestSuccessRate
            ? 100.0 * (window.Total - window.ServerErrors) / window.Total
            : Quantile(window, 0.99);
        return ValueTask.FromResult(MetricSample.Of(value, Source));
    }

    /// <summary>The q-quantile in ms, linearly interpolated inside its bucket (the +Inf bucket returns the largest finite bound).</summary>
    public static double Quantile(TrafficWindow window, double q)
    {
        var total = window.LatencyCounts.Sum();
        if (total == 0) return double.NaN;
        var rank = q * total;
        long cumulative = 0;
        for (var i = 0; i < window.LatencyCounts.Count; i++)
        {
            var count = window.LatencyCounts[i];
            if (cumulative + count >= rank && count > 0)
            {
                var upper = window.LatencyBucketsMs[i];
                var lower = i == 0 ? 0 : window.LatencyBucketsMs[i - 1];
                if (double.IsPositiveInfinity(upper)) return lower;
                return lower + (upper - lower) * ((rank - cumulative) / count);
            }
            cumulative += count;
        }
        return window.LatencyBucketsMs.LastOrDefault(b => !double.IsPositiveInfinity(b));
    }
}
