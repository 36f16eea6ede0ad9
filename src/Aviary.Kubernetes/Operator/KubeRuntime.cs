using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Hooks.Notifiers;
using Aviary.Hooks.Webhooks;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Routers;
using Aviary.Metrics;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Operator;

/// <summary>
/// What a canary's tick runs against in Kubernetes: its workload (Deployment or DaemonSet and its -primary), its router
/// (the Services plus the provider's routing objects), Prometheus metrics and MetricTemplates, webhooks, and
/// AlertProviders — MetricTemplates, AlertProviders and Secrets read from the API server.
/// </summary>
public sealed partial class KubeRuntime : IDisposable
{
    private readonly KubeClient _client;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly MetricResolver _metrics;
    private readonly HttpWebhookClient _webhooks;
    private readonly NotifierRouter _notifier;
    private readonly KubeRouterOptions? _routers;

    public KubeRuntime(KubeClient client, Uri? metricsServer, TimeProvider time, ILoggerFactory loggers, KubeRouterOptions? routers = null)
    {
        _routers = routers;
        _client = client;
        _time = time;
        _loggers = loggers;
        var secrets = new KubeSecrets(client);
        _metrics = new MetricResolver(
            new MetricResolverOptions { DefaultMetricsServer = metricsServer, DefaultProvider = "linkerd", Cluster = new KubeClusterObjects(client) },
            new NoBuiltinMetrics(),
            async (ns, name, ct) => await GetAsync<MetricTemplate>(KubeResources.MetricTemplates, ns, name, ct),
            secrets, time, loggers.CreateLogger<MetricResolver>());
        _webhooks = new HttpWebhookClient(time);
        _notifier = new NotifierRouter(
            async (ns, name, ct) => await GetAsync<AlertProvider>(KubeResources.AlertProviders, ns, name, ct),
            secrets, new LogAlerts(loggers.CreateLogger("Aviary.Alerts")), loggers.CreateLogger("Aviary.Alerts"), time);
    }

    /// <summary>Builds the services of one tick (cheap wrappers over the shared client; caches are shared).</summary>
    public SchedulerServices ServicesFor(CanaryPolicy canary) =>
        new(KubeWorkloads.For(_client, canary, _time, _loggers), KubeRouters.For(_client, canary, _time, _loggers, _routers), _metrics, _webhooks, _notifier, _time,
            Arms: _metrics);

    private async Task<T?> GetAsync<T>(ResourceType type, string ns, string name, CancellationToken cancellationToken) where T : class
    {
        var result = await _client.Resource(type).GetAsync(ns, name, cancellationToken);
        if (!result.Succeeded) return null;
        var doc = ManifestReader.ReadNode((JsonObject)result.Value.DeepClone());
        return doc.Compiled as T ?? doc.Manifest as T;
    }

    public void Dispose()
    {
        _metrics.Dispose();
        _webhooks.Dispose();
        _notifier.Dispose();
    }

    /// <summary>In Kubernetes, built-in metrics always come from Prometheus: without a metrics server they fail clearly.</summary>
    private sealed class NoBuiltinMetrics : IMetricProvider
    {
        public ValueTask<MetricSample> QueryAsync(CanaryPolicy canary, MetricCheck metric, CancellationToken cancellationToken) =>
            ValueTask.FromResult(MetricSample.Failed(
                $"{metric.Name} needs Prometheus: set spec.metricsServer or start the operator with --metrics-server", canary.Provider));
    }

    /// <summary>Alerts of canaries without analysis.alerts go to the operator's log.</summary>
    private sealed partial class LogAlerts(ILogger logger) : INotifier
    {
        public ValueTask PostAsync(NamedReference? provider, Alert alert, CancellationToken cancellationToken)
        {
            LogAlert(logger, alert.Severity.ToString().ToLowerInvariant(), $"{alert.Canary}.{alert.Namespace}", alert.Message);
            return ValueTask.CompletedTask;
        }

        [LoggerMessage(EventId = 4401, Level = LogLevel.Information, Message = "alert ({Severity}) {Canary}: {Message}")]
        private static partial void LogAlert(ILogger logger, string severity, string canary, string message);
    }
}
