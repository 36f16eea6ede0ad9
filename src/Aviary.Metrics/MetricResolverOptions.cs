using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Metrics.Prometheus;

namespace Aviary.Metrics;

/// <summary>Finds a MetricTemplate by namespace and name; null when there is none.</summary>
public delegate ValueTask<MetricTemplate?> MetricTemplateLookup(string @namespace, string name, CancellationToken cancellationToken);

/// <summary>What a runtime tells <see cref="MetricResolver"/> about its environment.</summary>
public sealed record MetricResolverOptions
{
    /// <summary>
    /// Prometheus for canaries without <c>spec.metricsServer</c> (Flagger's <c>-metrics-server</c>). Null (the default):
    /// such canaries get the built-in metrics from the fallback provider, and inline queries fail.
    /// </summary>
    public Uri? DefaultMetricsServer { get; init; }

    /// <summary>Credentials for <see cref="DefaultMetricsServer"/> (a token file, say); none by default.</summary>
    public PrometheusAuth? DefaultMetricsServerAuth { get; init; }

    /// <summary>The provider of canaries without <c>spec.provider</c> (Flagger's <c>-mesh-provider</c>). Default <c>builtin</c>.</summary>
    public string DefaultProvider { get; init; } = "builtin";

    /// <summary>Time allowed for one query. Default 5 s (Flagger's).</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Template variables the runtime adds for a canary (e.g. <c>haproxy_backend</c> and <c>haproxy_canary_servers</c>);
    /// a metric's own <c>templateVariables</c> win over them. None by default.
    /// </summary>
    public Func<CanaryPolicy, IReadOnlyDictionary<string, string>>? RuntimeVariables { get; init; }

    /// <summary>The cluster's objects for providers that read them (<c>keptn</c>); the Kubernetes runtime sets it.</summary>
    public Providers.IClusterObjects? Cluster { get; init; }
}
