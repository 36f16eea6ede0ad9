using Aviary.Core.Abstractions;
using Aviary.Core.Model;

namespace Aviary.Metrics.Providers;

/// <summary>
/// The backend of a MetricTemplate (<c>spec.provider</c>): runs a rendered query and says whether it is reachable,
/// like Flagger's metrics provider interface. One file per implementation, registered by type in
/// <see cref="MetricProviders"/>. Implementations are thread-safe; expected failures are results, not exceptions.
/// </summary>
public interface IMetricQueryProvider : IDisposable
{
    /// <summary>The <c>spec.provider.type</c> it implements, e.g. <c>prometheus</c>.</summary>
    string Type { get; }

    /// <summary>Runs a rendered query and reads one number from the answer.</summary>
    ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken);

    /// <summary>Whether the backend answers (Flagger checks this when a canary is initialized).</summary>
    ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken);
}

/// <summary>What a provider is built from.</summary>
/// <param name="Spec">The MetricTemplate's <c>spec.provider</c>: type, address, headers, insecureSkipVerify, region.</param>
/// <param name="Credentials">The data of <c>spec.provider.secretRef</c>, empty when it has none.</param>
/// <param name="MetricInterval">The metric's interval as written (providers such as Datadog query over it).</param>
/// <param name="Time">The clock for timeouts.</param>
public sealed record MetricProviderContext(
    MetricTemplateProvider Spec,
    IReadOnlyDictionary<string, string> Credentials,
    string MetricInterval,
    TimeProvider Time)
{
    /// <summary>Time allowed for one query. Default 5 s (Flagger's).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The cluster's objects (Kubernetes runtime only), for providers that read them; null elsewhere.</summary>
    public IClusterObjects? Cluster { get; init; }
}
