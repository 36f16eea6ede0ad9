using Aviary.Core.Primitives;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Aviary.Core.Observability;
using Aviary.Core.Scheduling;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Routers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Operator;

/// <summary>Settings of <c>aviary operator</c>, with their defaults.</summary>
public sealed record OperatorOptions
{
    /// <summary>A kubeconfig to use (out of cluster); null: in-cluster when run in a pod, else $KUBECONFIG or ~/.kube/config.</summary>
    public string? Kubeconfig { get; init; }

    public string? Context { get; init; }

    /// <summary>The namespace whose canaries to run; null for all namespaces.</summary>
    public string? Namespace { get; init; }

    /// <summary>Address of /healthz, /readyz, /metrics and the action API. Default 0.0.0.0:8080 (a pod's port).</summary>
    public string Listen { get; init; } = "0.0.0.0:8080";

    /// <summary>Leader election (null: this replica always acts, e.g. a single replica out of cluster).</summary>
    public LeaderElectionOptions? LeaderElection { get; init; }

    /// <summary>
    /// Shards the canaries are split into between replicas (one Lease each, <see cref="ShardCoordinator"/>), with the
    /// Leases of <see cref="LeaderElection"/>. Default 1: no sharding, the leader runs every canary.
    /// </summary>
    public int Shards { get; init; } = 1;

    /// <summary>
    /// The provider of canaries without <c>spec.provider</c> (Flagger's <c>-mesh-provider</c>): it picks the router
    /// and the built-in metric queries. Default <c>istio</c>, as Flagger's.
    /// </summary>
    public string MeshProvider { get; init; } = "istio";

    /// <summary>Prometheus for canaries without spec.metricsServer.</summary>
    public Uri? MetricsServer { get; init; }

    /// <summary>A file with the token the HTTP action API requires; null disables that API (the annotation still works).</summary>
    public string? ApiTokenFile { get; init; }

    public KubeClientOptions? Client { get; init; }

    /// <summary>Settings of the routers (NGINX's annotation prefix, Contour's ingress class); defaults when null.</summary>
    public KubeRouterOptions? Routers { get; init; }

    /// <summary>The web dashboard (Kubernetes tokens, TokenReview, SubjectAccessReview); null, the default, turns it off.</summary>
    public Aviary.Dashboard.DashboardOptions? Dashboard { get; init; }

    /// <summary>Address of the dashboard, its own port. Default 0.0.0.0:8081.</summary>
    public string DashboardListen { get; init; } = "0.0.0.0:8081";

    /// <summary>The work queue's workers, the resync period of idle canaries and a label selector of canaries.</summary>
    public CanaryControllerOptions Controller { get; init; } = new();
}

/// <summary>
/// The Kubernetes operator: a REST client, leader election, the canary controller, and an HTTP endpoint with health,
/// Flagger-compatible /metrics and (with a token) the manual actions, which it turns into the Canary annotation.
/// </summary>
public sealed partial class OperatorHost : IAsyncDisposable
{
    private readonly OperatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly CancellationTokenSource _stopElection = new();
    private Task? _election;
    private readonly KubeRuntime _runtime;
    private readonly KubeClient? _electionClient;
    private WebApplication? _app;
    private WebApplication? _dashboard;
    private volatile bool _watching;

    public OperatorHost(OperatorOptions options, TimeProvider time, ILoggerFactory loggers)
    {
        _options = options;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger("Aviary.Operator");
        var config = options.Kubeconfig is null ? KubeClientConfig.Default(null, options.Context) : KubeClientConfig.FromKubeconfig(options.Kubeconfig, options.Context);
        Client = new KubeClient(config, options.Client, time, loggers);
        // Every read of a tick comes from informers of the watched namespace (and the canaries' label selector).
        Client.EnableCache(new KubeCacheOptions
        {
            Namespace = options.Namespace,
            LabelSelectors = options.Controller.LabelSelector is { } selector
                ? new Dictionary<string, string> { [KubeResources.Canaries.Plural] = selector }
                : new Dictionary<string, string>(),
        });
        Metrics = new CanaryMetrics(Version, "kubernetes", time);
        // Leader election has its own client (as client-go's does): its renewals never queue behind the canaries'
        // requests in the client-side rate limiter, so a busy leader does not lose its lease.
        _electionClient = options.LeaderElection is null ? null : new KubeClient(config, options.Client, time, loggers);
        if (options.Shards > 1 && options.LeaderElection is { } sharded)
            Sharding = new ShardCoordinator(_electionClient!, new ShardingOptions { Shards = options.Shards, Lease = sharded }, time, loggers.CreateLogger("Aviary.Sharding"));
        else if (options.LeaderElection is { } le)
            Elector = new LeaderElector(_electionClient!, le, time, loggers.CreateLogger("Aviary.LeaderElection"));
        _runtime = new KubeRuntime(Client, options.MetricsServer, time, loggers, options.Routers);
        Controller = new CanaryController(Client, _runtime.ServicesFor, new KubeEventRecorder(Client, loggers.CreateLogger("Aviary.Events")),
            Metrics, () => Elector?.IsLeader ?? true, time, loggers.CreateLogger("Aviary.Canaries"), options.Namespace, options.MeshProvider,
            options.Controller with { Ownership = options.Controller.Ownership ?? Sharding });
        Controller.Ticked += Checks.Record;
    }

    public static string Version { get; } = typeof(OperatorHost).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public KubeClient Client { get; }

    public CanaryMetrics Metrics { get; }

    public LeaderElector? Elector { get; }

    /// <summary>The shards this replica takes part in (null without sharding).</summary>
    public ShardCoordinator? Sharding { get; }

    public CanaryController Controller { get; }

    public Uri? Url { get; private set; }

    /// <summary>The dashboard's address once started (null when it is off).</summary>
    public Uri? DashboardUrl { get; private set; }

    /// <summary>The checks of the canaries' last ticks, for the dashboard.</summary>
    public CheckHistory Checks { get; } = new();

    /// <summary>Whether this replica acts: it leads, or holds a shard.</summary>
    public bool IsLeader => Sharding is { } shards ? shards.Owned.Count > 0 : Elector?.IsLeader ?? true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await StartHttpAsync(cancellationToken);
        if (_options.Dashboard is { } dashboard) await StartDashboardAsync(dashboard, cancellationToken);
        if (Elector is not null) _election = Task.Run(() => Elector.RunAsync(_stopElection.Token), CancellationToken.None);
        if (Sharding is not null) _election = Task.Run(() => Sharding.RunAsync(_stopElection.Token), CancellationToken.None);
        _tasks.Add(Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    _watching = true;
                    await Controller.RunAsync(_stop.Token);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    _watching = false;
                    LogWatchFailed(_logger, e);
                    await Task.Delay(TimeSpan.FromSeconds(2), _time, CancellationToken.None);
                }
            }
        }, CancellationToken.None));
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await StartAsync(cancellationToken);
        await Task.Delay(Timeout.InfiniteTimeSpan, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await StopAsync();
    }

    public async Task StopAsync()
    {
        // The canary loops end (and every tick in flight with them) before the Lease is released: a standby that
        // takes over the moment it is free never acts beside a tick of this replica.
        await _stop.CancelAsync();
        await Task.WhenAll(_tasks).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _stopElection.CancelAsync();
        if (_election is not null) await _election.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (var app in new[] { _app, _dashboard }.OfType<WebApplication>())
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
        _app = null;
        _dashboard = null;
    }

    /// <summary>
    /// Stops as a crashed process would: the loops end and the endpoint closes, but the leader Lease is not released
    /// (its client is gone first), so a standby takes over only once the lease expires. For tests of failover.
    /// </summary>
    public async Task KillAsync()
    {
        Sharding?.Abandon();
        _electionClient?.Dispose();
        await StopAsync();
    }

    private async Task StartHttpAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, Aviary.Hooks.Hosting.EmbeddedLifetime>();
        var (host, port) = ParseListen(_options.Listen);
        builder.WebHost.UseKestrel(k => k.Listen(host, port));
        var app = builder.Build();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", () => _watching && Controller.Synced ? Results.Text("ok\n") : Results.Text("not watching yet\n", statusCode: 503));
        app.MapGet("/metrics", () =>
        {
            var w = new PrometheusWriter();
            Metrics.Write(w);
            w.Family("aviary_leader", "gauge", "1 when this replica is the leader and acts.");
            w.Sample("aviary_leader", IsLeader ? 1 : 0);
            if (Sharding is { } shards)
            {
                w.Family("aviary_shards_owned", "gauge", "Shards (of --shards) this replica holds.");
                w.Sample("aviary_shards_owned", shards.Owned.Count);
                w.Family("aviary_shard_replicas", "gauge", "Replicas this one last saw alive.");
                w.Sample("aviary_shard_replicas", shards.LiveReplicas);
            }
            Controller.WriteMetrics(w);
            Client.Metrics.Write(w);
            return Results.Text(w.ToString(), "text/plain; version=0.0.4; charset=utf-8");
        });
        if (_options.ApiTokenFile is { } tokenFile)
        {
            var token = (await File.ReadAllTextAsync(tokenFile, cancellationToken)).Trim();
            app.MapPost("/api/v1/canaries/{ns}/{name}/actions/{action}", async (string ns, string name, string action, HttpContext context) =>
            {
                if (!Authorized(context, token)) return Results.Json(new { error = "missing or wrong token" }, statusCode: 401);
                if (!ManualAction.TryParse(action, out var kind))
                    return Results.Json(new { error = $"unknown action '{action}': use promote, abort, retry, pause or resume" }, statusCode: 400);
                var who = context.Request.Headers["X-Aviary-Requested-By"].ToString();
                var result = await CanaryController.RequestActionAsync(Client, ns, name, kind,
                    who.Length is > 0 and <= 200 ? $"{who} via the API" : "the operator API", context.RequestAborted);
                return result.Succeeded ? Results.Json(new { canary = $"{name}.{ns}", action = kind.ToString().ToLowerInvariant() }, statusCode: 202)
                    : Results.Json(new { error = result.Error!.ToString() }, statusCode: result.IsNotFound ? 404 : 502);
            });
        }
        await app.StartAsync(cancellationToken);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Url = new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
        _app = app;
    }

    /// <summary>The dashboard on its own port: the same pages as the local controller's, over the cluster, with the users' own tokens.</summary>
    private async Task StartDashboardAsync(Aviary.Dashboard.DashboardOptions options, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, Aviary.Hooks.Hosting.EmbeddedLifetime>();
        var (host, port) = ParseListen(_options.DashboardListen);
        builder.WebHost.UseKestrel(k => k.Listen(host, port));
        var app = builder.Build();
        var source = new KubeDashboardSource(Client, _options.Namespace, Checks);
        new Aviary.Dashboard.DashboardEndpoints(source, new KubeDashboardAccess(Client),
            options with { Runtime = "kubernetes", Anonymous = Aviary.Dashboard.AnonymousAccess.None }, _time).Map(app);
        await app.StartAsync(cancellationToken);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        DashboardUrl = new Uri(new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)), "/ui/");
        _dashboard = app;
    }

    private static bool Authorized(HttpContext context, string token) =>
        BearerToken.Matches(context.Request.Headers.Authorization.ToString(), token);

    private static (IPAddress, int) ParseListen(string address) =>
        ListenAddress.TryParse(address, out var a, out var error) ? (a.Host, a.Port) : throw new ArgumentException(error);

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _runtime.Dispose();
        Client.Dispose();
        _electionClient?.Dispose();
        _stop.Dispose();
        _stopElection.Dispose();
    }

    [LoggerMessage(EventId = 4301, Level = LogLevel.Error, Message = "watching canaries failed; retrying")]
    private static partial void LogWatchFailed(ILogger logger, Exception exception);
}
