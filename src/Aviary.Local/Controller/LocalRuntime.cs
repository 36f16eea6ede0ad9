using System.Collections.Concurrent;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Hooks.Notifiers;
using Aviary.Hooks.Secrets;
using Aviary.Hooks.Webhooks;
using Aviary.Local.Routing;
using Aviary.Local.Store;
using Aviary.Local.Workloads;
using Aviary.Metrics;
using Aviary.Routing;
using Aviary.Routing.HAProxy;
using Aviary.Routing.Proxy;
using Microsoft.Extensions.Logging;

namespace Aviary.Local.Controller;

/// <summary>The services of one local canary, and the parts its runner keeps.</summary>
internal sealed record LocalCanary(SchedulerServices Services, LocalWorkload Workload, IRouter Router);

/// <summary>
/// What a canary's tick runs against in the embedded runtime — the local counterpart of the operator's
/// <c>KubeRuntime</c>: process workloads, the router (the built-in proxy, the generated HAProxy shared by every
/// <c>provider: haproxy</c> canary, or an attached HAProxy), metrics (the proxy's own counters, or Prometheus with
/// MetricTemplates from the manifests), webhooks, and AlertProviders from the manifests with secrets from the
/// environment and files. The <see cref="LocalController"/> supervises; this composes.
/// </summary>
internal sealed class LocalRuntime : IAsyncDisposable
{
    private readonly LocalControllerOptions _options;
    private readonly string _stateDir;
    private readonly StateStore _store;
    private readonly Func<ManifestSnapshot> _manifests;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly HttpClient _probe = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromSeconds(30), UseCookies = false })
    {
        Timeout = TimeSpan.FromSeconds(5),
    };
    private readonly HttpWebhookClient _webhooks;
    private readonly NotifierRouter _notifier;
    private readonly MetricResolver _metrics;
    private readonly ConcurrentDictionary<string, HAProxyRouter> _haproxies = new(StringComparer.Ordinal);
    private HAProxyRouter? _generatedHAProxy;

    /// <exception cref="ControllerException">The webhook signing secret cannot be read.</exception>
    public LocalRuntime(LocalControllerOptions options, string stateDir, StateStore store, Func<ManifestSnapshot> manifests,
        TimeProvider time, ILoggerFactory loggers)
    {
        _options = options;
        _stateDir = stateDir;
        _store = store;
        _manifests = manifests;
        _time = time;
        _loggers = loggers;
        try
        {
            _webhooks = new HttpWebhookClient(time, options.WebhookSigning);
        }
        catch (InvalidOperationException e)
        {
            throw new ControllerException($"cannot sign webhooks: {e.Message}");
        }
        Router = new ProxyServer(loggers, time);
        Secrets = new EnvironmentSecrets(options.SecretsDir ?? Path.Combine(stateDir, "secrets"));
        _notifier = new NotifierRouter(
            (ns, name, _) => ValueTask.FromResult(manifests().AlertProviders.GetValueOrDefault(ManifestSnapshot.Key(name, ns))),
            Secrets, new LogNotifier(loggers.CreateLogger("Aviary.Alerts")), loggers.CreateLogger("Aviary.Alerts"), time);
        _metrics = new MetricResolver(
            new MetricResolverOptions { DefaultMetricsServer = options.MetricsServer, DefaultProvider = Providers.Builtin, RuntimeVariables = RuntimeVariables },
            new BuiltinMetrics(Router),
            (ns, name, _) => ValueTask.FromResult(manifests().MetricTemplates.GetValueOrDefault(ManifestSnapshot.Key(name, ns))),
            Secrets, time, loggers.CreateLogger<MetricResolver>());
    }

    /// <summary>The built-in router: one Kestrel listener per service port.</summary>
    public ProxyServer Router { get; }

    /// <summary>Secrets of AlertProviders and MetricTemplates: environment variables, then files.</summary>
    public ISecretSource Secrets { get; }

    /// <summary>Why the embedded runtime cannot run <paramref name="policy"/>; null when it can.</summary>
    public static string? Unsupported(CanaryPolicy policy)
    {
        if (policy.TargetKind != Core.Model.Workload.KindName)
            return $"the local runtime runs canaries of kind Workload (aviary.dev/v1alpha1); {policy.TargetKind} needs the Kubernetes operator";
        // An unnamed provider is the built-in router, which can do everything; what a named one cannot do was refused by validation.
        if (policy.Provider is not ("" or Providers.Builtin or Providers.HAProxy))
            return $"provider '{policy.Provider}' is not available in the local runtime (use builtin or haproxy, or leave it out)";
        if (policy.Provider == Providers.HAProxy && HAProxyAttachment(policy) is { Error: { } error }) return error;
        return null;
    }

    /// <summary>Composes the services of <paramref name="policy"/>'s ticks.</summary>
    public LocalCanary Create(CanaryPolicy policy)
    {
        var workloadKey = ManifestSnapshot.Key(policy.TargetName, policy.Namespace);
        WorkloadSource? Target() => _manifests().Workloads.GetValueOrDefault(workloadKey);
        var logs = Path.Combine(_stateDir, "logs", policy.Id);
        var (inner, registry) = RouterFor(policy);
        var workload = new LocalWorkload(policy, Target, registry, _store, logs, _time, _loggers, _probe, _options.DrainTimeout);
        var router = new PersistentRouter(inner, _store);
        // The statistical judge reads both arms from the built-in router's own counters (HAProxy: not yet).
        var arms = inner is HAProxyRouter ? null : new BuiltinArmCounters(Router);
        return new LocalCanary(new SchedulerServices(workload, router, _metrics, _webhooks, _notifier, _time, arms), workload, router);
    }

    /// <summary>Lets go of what only <paramref name="key"/> used (its attached HAProxy); the built-in listener is the controller's to stop.</summary>
    public async Task ReleaseAsync(string key)
    {
        if (_haproxies.TryRemove(key, out var haproxy) && haproxy != _generatedHAProxy) await haproxy.DisposeAsync();
    }

    /// <summary>Stops the routers (the built-in proxy and every HAProxy).</summary>
    public async Task StopRoutersAsync()
    {
        await Router.DisposeAsync();
        foreach (var haproxy in _haproxies.Values.Distinct()) await haproxy.DisposeAsync();
        _haproxies.Clear();
        _generatedHAProxy = null;
    }

    /// <summary>Query variables a router adds for its metrics: HAProxy's backend and canary server names.</summary>
    private IReadOnlyDictionary<string, string> RuntimeVariables(CanaryPolicy policy)
    {
        if (!_haproxies.TryGetValue(policy.Id, out var haproxy)) return new Dictionary<string, string>();
        var labels = haproxy.MetricLabels(policy.Id);
        return new Dictionary<string, string> { ["haproxy_backend"] = labels.Backend, ["haproxy_canary_servers"] = labels.CanaryServerPattern };
    }

    /// <summary>
    /// Attach mode, from the canary's annotations: <c>aviary.dev/haproxy-socket</c> (the runtime API socket),
    /// <c>aviary.dev/haproxy-backend</c>, <c>aviary.dev/haproxy-primary-servers</c> and <c>aviary.dev/haproxy-canary-servers</c>
    /// (comma-separated names; a trailing <c>*</c> is a prefix). Without them Aviary generates and runs HAProxy itself.
    /// </summary>
    private static (HAProxyAttachOptions? Options, string? Error) HAProxyAttachment(CanaryPolicy policy)
    {
        var a = policy.Manifest.Metadata.Annotations ?? new Dictionary<string, string>();
        if (!a.TryGetValue("aviary.dev/haproxy-socket", out var socket)) return (null, null);
        string[] List(string key) => a.TryGetValue(key, out var v) ? v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : [];
        var backend = a.GetValueOrDefault("aviary.dev/haproxy-backend") ?? "";
        var (primary, canary) = (List("aviary.dev/haproxy-primary-servers"), List("aviary.dev/haproxy-canary-servers"));
        if (backend.Length == 0 || primary.Length == 0 || canary.Length == 0)
            return (null, "attaching to HAProxy needs the annotations aviary.dev/haproxy-backend, aviary.dev/haproxy-primary-servers and aviary.dev/haproxy-canary-servers");
        return (new HAProxyAttachOptions(socket, [new HAProxyAttachment(policy.Id, backend, primary, canary)]), null);
    }

    /// <summary>The router of a canary: the built-in proxy, the generated HAProxy (shared), or an attached HAProxy.</summary>
    private (IRouter Router, IBackendRegistry Registry) RouterFor(CanaryPolicy policy)
    {
        if (policy.Provider != Providers.HAProxy) return (new BuiltinRouter(Router, _options.RouterBindAddress), Router);
        if (HAProxyAttachment(policy).Options is { } attach)
        {
            var attached = new HAProxyRouter(new HAProxyOptions { Attach = attach }, _time, _loggers);
            _haproxies[policy.Id] = attached;
            return (attached, attached);
        }
        lock (_haproxies)
        {
            _generatedHAProxy ??= new HAProxyRouter(new HAProxyOptions
            {
                StateDirectory = Path.Combine(_stateDir, "haproxy"),
                BindAddress = _options.RouterBindAddress,
                MetricsPort = _options.HAProxyMetricsPort,
            }, _time, _loggers);
            _haproxies[policy.Id] = _generatedHAProxy;
            return (_generatedHAProxy, _generatedHAProxy);
        }
    }

    public ValueTask DisposeAsync()
    {
        _probe.Dispose();
        _webhooks.Dispose();
        _notifier.Dispose();
        _metrics.Dispose();
        return ValueTask.CompletedTask;
    }
}
