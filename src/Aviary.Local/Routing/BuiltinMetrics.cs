using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Routing;
using Aviary.Routing.Proxy;

namespace Aviary.Local.Routing;

/// <summary>
/// Flagger's built-in metrics measured by Aviary's own router, for the canary backend over the metric's interval:
/// <c>request-success-rate</c> (percent of non-5xx answers) and <c>request-duration</c> (p99 in milliseconds,
/// interpolated within the histogram bucket as Prometheus' histogram_quantile does). No requests means no data.
/// </summary>
public sealed class BuiltinMetrics(IProxyRouter proxy) : IMetricProvider
{
    public const string Source = Providers.Builtin;

    public ValueTask<MetricSample> QueryAsync(CanaryPolicy canary, MetricCheck metric, CancellationToken cancellationToken)
    {
        if (!metric.IsBuiltin)
            return ValueTask.FromResult(MetricSample.Failed($"metric {metric.Name} needs a metrics provider (query or templateRef)", Source));
        if (canary.Provider is not ("" or Providers.Builtin))
            return ValueTask.FromResult(MetricSample.Failed(
                $"the {canary.Provider} router's metrics come from Prometheus: set spec.metricsServer, or start the controller with --metrics-server", canary.Provider));
        var window = proxy.GetTraffic(canary.Id, BackendRole.Canary, metric.Interval);
        var value = metric.Name == MetricCheck.RequestSuccessRate ? window.SuccessRate() : window.Quantile(0.99);
        var span = Core.Primitives.GoDuration.Format(metric.Interval);
        return ValueTask.FromResult(value switch
        {
            { } v => MetricSample.Of(v, Source),
            // The router's counters live in memory: after a restart they begin empty, which is not a canary fault.
            null when !window.Complete => MetricSample.Incomplete($"the router started counting less than {span} ago (the controller restarted)", Source),
            null => MetricSample.NoData($"no requests reached the canary in the last {span}", Source),
        });
    }
}
