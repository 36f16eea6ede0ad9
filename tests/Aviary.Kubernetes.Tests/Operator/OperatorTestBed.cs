using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Operator;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Aviary.TestKit;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// The operator tests' cluster, shared by every class of the <see cref="OperatorCollection"/>: a real kube-apiserver
/// with the routing CRDs and Aviary's own CRDs from <c>deploy/kubernetes/crds.yaml</c> (not Flagger's), the namespace
/// and RBAC of <c>deploy/kubernetes/</c> (ServiceAccount <c>aviary/aviary</c>, ClusterRole and ClusterRoleBinding
/// <c>aviary</c>) applied with kubectl, and a kubeconfig with a real ServiceAccount token of that account
/// (<see cref="OperatorKubeconfig"/>): the operator runs as the ServiceAccount, never as admin, which proves the
/// ClusterRole sufficient. Tests isolate themselves by namespace (<see cref="OperatorTestBed"/>).
/// </summary>
public sealed class OperatorCluster : IAsyncLifetime
{
    private KubeApiServer? _server;

    /// <summary>The running API server; throws with the reason when it could not start.</summary>
    public KubeApiServer Server => _server ?? throw new InvalidOperationException("the operator cluster is not started: " + StartFailure);

    /// <summary>A kubeconfig authenticated with a TokenRequest token of ServiceAccount <c>aviary</c> in namespace <c>aviary</c>.</summary>
    public string OperatorKubeconfig { get; private set; } = "";

    /// <summary>The RBAC user name the API server gives the operator.</summary>
    public const string OperatorUser = "system:serviceaccount:aviary:aviary";

    public string? StartFailure { get; private set; }

    public static string DeployFolder => Path.Combine(RepoPaths.Root, "deploy", "kubernetes");

    /// <summary>The routing CRDs of the shared schemas, without Flagger's (Aviary's own replace them).</summary>
    public static IReadOnlyList<string> CrdFiles =>
    [
        .. KubeApiServer.DefaultCrdFiles.Where(f => !Path.GetFileName(f).StartsWith("flagger", StringComparison.Ordinal)),
        Path.Combine(DeployFolder, "crds.yaml"),
    ];

    public async Task InitializeAsync()
    {
        try
        {
            _server = await KubeApiServer.StartAsync(new KubeApiServerOptions { CrdFiles = CrdFiles });
            await _server.ApplyAsync(Path.Combine(DeployFolder, "namespace.yaml"));
            await _server.ApplyAsync(Path.Combine(DeployFolder, "rbac.yaml"));
            var token = await _server.CreateServiceAccountTokenAsync("aviary", "aviary", TimeSpan.FromHours(6));
            OperatorKubeconfig = _server.WriteKubeconfig(OperatorUser, token: token);
            // The token is the ServiceAccount's and the binding is deploy/'s: check both before any test relies on them.
            var who = await _server.RunKubectlAsync(["auth", "can-i", "update", "canaries.flagger.app/status", "-n", "default"], kubeconfig: OperatorKubeconfig);
            if (who.Stdout.Trim() != "yes") throw new InvalidOperationException($"the operator's ServiceAccount cannot update canary status: {who}");
        }
        catch (Exception e)
        {
            StartFailure = e.ToString();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}

/// <summary>The operator tests: one <see cref="OperatorCluster"/> for all of them, run one class at a time.</summary>
[CollectionDefinition(Name)]
public sealed class OperatorCollection : ICollectionFixture<OperatorCluster>
{
    public const string Name = "operator";
}

/// <summary>How an <see cref="OperatorTestBed"/> is set up.</summary>
public sealed record OperatorTestBedOptions
{
    /// <summary>The canaries' provider, which picks what the <see cref="TestMesh"/> follows; <c>kubernetes</c> has no mesh. Default linkerd.</summary>
    public string Provider { get; init; } = "linkerd";

    /// <summary>The apex service (the canary's target by default). Default podinfo.</summary>
    public string Service { get; init; } = "podinfo";

    /// <summary>The canary's workload in the mesh's metrics; default <see cref="Service"/>.</summary>
    public string? Workload { get; init; }

    /// <summary>NGINX: the main Ingress (<c>spec.ingressRef.name</c>).</summary>
    public string? Ingress { get; init; }

    /// <summary>Operator replicas started by <see cref="OperatorTestBed.StartAsync"/> (0 to start them later). Default 1.</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>How many replicas the bed can run (each has its identity and port). Default 2.</summary>
    public int MaxReplicas { get; init; } = 2;

    /// <summary>Shards of the canaries between the replicas (<see cref="OperatorOptions.Shards"/>). Default 1: the leader runs them all.</summary>
    public int Shards { get; init; } = 1;

    /// <summary>Run leader election (a Lease per bed). Default true.</summary>
    public bool LeaderElection { get; init; } = true;

    /// <summary>Lease validity; a standby takes over once it passed without renewal. Whole seconds. Default 3 s.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a leader acts after its last renewal began (below <see cref="LeaseDuration"/>). Default 2 s.</summary>
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan RenewPeriod { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The generated traffic (rate, arms); default <see cref="DefaultMesh"/>.</summary>
    public TestMeshMetricsOptions? Mesh { get; init; }

    /// <summary>50 requests per second in batches of one second; both versions healthy at 5 ms.</summary>
    public static TestMeshMetricsOptions DefaultMesh { get; } = new() { RequestsPerSecond = 50, Tick = TimeSpan.FromSeconds(1) };

    /// <summary>Play the kubelet: mark Deployments ready whenever their spec changes. Default true.</summary>
    public bool Kubelet { get; init; } = true;

    /// <summary>Serve the dashboard (on a free loopback port: <see cref="OperatorHost.DashboardUrl"/>).</summary>
    public bool Dashboard { get; init; }

    public string NamespacePrefix { get; init; } = "op";
}

/// <summary>An event the operator recorded (core/v1 Event), as <c>kubectl get events</c> shows it.</summary>
public sealed record RecordedEvent(string Type, string Reason, string Message, string Object, string Component, int Count)
{
    public override string ToString() => $"{Type} {Reason} {Object}: {Message}" + (Count > 1 ? $" (x{Count.ToString(CultureInfo.InvariantCulture)})" : "");
}

/// <summary>
/// Everything one operator test needs in its own namespace of the shared <see cref="OperatorCluster"/>:
/// <list type="bullet">
/// <item>a <see cref="TestMesh"/> following the routing object of <see cref="OperatorTestBedOptions.Provider"/> and
/// generating Linkerd/Istio request metrics by its weights (<see cref="SetMeshErrorRate"/>, <see cref="SetMeshLatency"/>);</item>
/// <item>a real Prometheus scraping the mesh and every operator replica's <c>/metrics</c> (<see cref="PrometheusQueryAsync"/>);</item>
/// <item>a "kubelet" that marks the namespace's Deployments ready through the status subresource whenever their spec
/// changes (generation or replicas), except those held with <see cref="HoldDeployment"/>;</item>
/// <item>operator replicas, in process (<see cref="OperatorHost"/>), watching this namespace as the ServiceAccount of
/// <c>deploy/</c>, with Prometheus as their metrics server and a leader Lease of their own (short durations, see
/// <see cref="OperatorTestBedOptions"/>): <see cref="StartOperatorAsync"/>, <see cref="StopOperatorAsync"/> (graceful,
/// releases the lease), <see cref="KillOperatorAsync"/> (as a crash: the lease stays until it expires),
/// <see cref="LeaderAsync"/>;</item>
/// <item>an ordered log of the Events in the namespace (<see cref="Events"/>), from a watch started before anything ran.</item>
/// </list>
/// Time is real: canaries in these tests use short analysis intervals (1-5 s). Every wait fails with a description of
/// the cluster (<see cref="DescribeAsync"/>): canary status, events, the operators' log tail. Dispose it to stop all.
/// Use: <c>[Collection(OperatorCollection.Name)]</c> on the class, <see cref="OperatorCluster"/> in its constructor,
/// then <c>await using var bed = await OperatorTestBed.StartAsync(cluster, new() { Provider = "istio" });</c>.
/// </summary>
public sealed class OperatorTestBed : IAsyncDisposable
{
    private readonly OperatorCluster _cluster;
    private readonly OperatorReplica[] _replicas;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, bool> _held = new(StringComparer.Ordinal);
    private readonly List<Task> _loops = [];
    private readonly Lock _eventsLock = new();
    private readonly List<RecordedEvent> _events = [];
    private readonly Dictionary<string, int> _eventCounts = new(StringComparer.Ordinal);
    private int _disposed;

    private OperatorTestBed(OperatorCluster cluster, OperatorTestBedOptions options, string ns)
    {
        _cluster = cluster;
        Options = options;
        Namespace = ns;
        LeaseName = "aviary-leader-" + ns;
        Client = new KubeClient(KubeClientConfig.FromKubeconfig(cluster.Server.AdminKubeconfig));
        ApiTokenFile = Path.Combine(cluster.Server.Dir, $"api-token-{ns}");
        File.WriteAllText(ApiTokenFile, ApiToken);
        _replicas = [.. Enumerable.Range(0, options.MaxReplicas).Select(i => new OperatorReplica(i, $"aviary-{i.ToString(CultureInfo.InvariantCulture)}", LocalTestBed.FreePort()))];
    }

    public OperatorTestBedOptions Options { get; }

    public KubeApiServer Server => _cluster.Server;

    /// <summary>The test's namespace (the operators watch only it).</summary>
    public string Namespace { get; }

    /// <summary>The leader Lease, in <see cref="Namespace"/>.</summary>
    public string LeaseName { get; }

    /// <summary>An admin client (for what the test does as a user or plays as a controller).</summary>
    public KubeClient Client { get; }

    public TestMesh? Mesh { get; private set; }

    public TestMeshMetrics? MeshMetrics { get; private set; }

    public PrometheusServer Prometheus { get; private set; } = null!;

    /// <summary>The token of the operators' HTTP action API, and the file they read it from.</summary>
    public string ApiToken { get; } = "api-" + Guid.NewGuid().ToString("N");

    public string ApiTokenFile { get; }

    /// <summary>Everything the operator replicas logged, in order (replica identity first).</summary>
    public ConcurrentQueue<string> OperatorLog { get; } = new();

    /// <summary>The scrape job of replica <c>i</c> is <c>aviary-i</c>; the mesh's is <c>test-mesh</c>.</summary>
    public static string OperatorJob(int replica) => "aviary-" + replica.ToString(CultureInfo.InvariantCulture);

    /// <summary>Creates the namespace, mesh, Prometheus, kubelet and event log, then starts <see cref="OperatorTestBedOptions.Replicas"/> operators.</summary>
    public static async Task<OperatorTestBed> StartAsync(OperatorCluster cluster, OperatorTestBedOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        options ??= new OperatorTestBedOptions();
        var ns = await cluster.Server.CreateNamespaceAsync(options.NamespacePrefix);
        var bed = new OperatorTestBed(cluster, options, ns);
        try
        {
            await bed.InitializeAsync();
            return bed;
        }
        catch
        {
            await bed.DisposeAsync();
            throw;
        }
    }

    private async Task InitializeAsync()
    {
        var targets = new List<ScrapeTarget>();
        if (Options.Provider != "kubernetes")
        {
            Mesh = TestMesh.Start(Server, TestMeshTarget.ForProvider(Options.Provider, Namespace, Options.Service, Options.Ingress, Options.Workload));
            MeshMetrics = await Mesh.StartMetricsAsync(Options.Mesh ?? OperatorTestBedOptions.DefaultMesh);
            targets.Add(MeshMetrics.ScrapeTarget());
        }
        targets.AddRange(_replicas.Select(r => new ScrapeTarget(OperatorJob(r.Index), $"127.0.0.1:{r.Port.ToString(CultureInfo.InvariantCulture)}")));
        Prometheus = await PrometheusServer.StartAsync(targets, TimeSpan.FromSeconds(1));
        var eventsReady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _loops.Add(Task.Run(() => WatchEventsAsync(eventsReady, _stop.Token)));
        await eventsReady.Task.WaitAsync(TimeSpan.FromSeconds(30));
        if (Options.Kubelet) _loops.Add(Task.Run(() => KubeletAsync(_stop.Token)));
        for (var i = 0; i < Options.Replicas; i++) await StartOperatorAsync(i);
    }

    // ---------------------------------------------------------------- operators

    /// <summary>The host of replica <paramref name="replica"/> while it runs, else null.</summary>
    public OperatorHost? Operator(int replica = 0) => _replicas[replica].Host;

    /// <summary>The identity replica <paramref name="replica"/> holds the Lease with.</summary>
    public string Identity(int replica = 0) => _replicas[replica].Identity;

    /// <summary>Starts replica <paramref name="replica"/> (a fresh process state: a new host with the same identity and port).</summary>
    public async Task<OperatorHost> StartOperatorAsync(int replica = 0)
    {
        var r = _replicas[replica];
        if (r.Host is not null) throw new InvalidOperationException($"operator replica {replica} is already running");
        var loggers = new LogCollector(r.Identity, OperatorLog);
        var host = new OperatorHost(new OperatorOptions
        {
            Kubeconfig = _cluster.OperatorKubeconfig,
            Namespace = Namespace,
            Listen = $"127.0.0.1:{r.Port.ToString(CultureInfo.InvariantCulture)}",
            MetricsServer = Prometheus.Url,
            MeshProvider = Options.Provider,
            ApiTokenFile = ApiTokenFile,
            Shards = Options.Shards,
            Dashboard = Options.Dashboard ? new Aviary.Dashboard.DashboardOptions() : null,
            DashboardListen = "127.0.0.1:0",
            LeaderElection = Options.LeaderElection
                ? new LeaderElectionOptions
                {
                    Namespace = Namespace,
                    LeaseName = LeaseName,
                    Identity = r.Identity,
                    LeaseDuration = Options.LeaseDuration,
                    RenewDeadline = Options.RenewDeadline,
                    RenewPeriod = Options.RenewPeriod,
                    RetryPeriod = Options.RetryPeriod,
                }
                : null,
        }, TimeProvider.System, loggers);
        try
        {
            await host.StartAsync(CancellationToken.None);
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
        r.Host = host;
        return host;
    }

    /// <summary>Stops replica <paramref name="replica"/> gracefully: it releases the Lease, so another can take over at once.</summary>
    public async Task StopOperatorAsync(int replica = 0)
    {
        var r = _replicas[replica];
        if (r.Host is not { } host) return;
        r.Host = null;
        await host.DisposeAsync();
    }

    /// <summary>Stops replica <paramref name="replica"/> as a crash would: no Lease release, so a standby waits for it to expire.</summary>
    public async Task KillOperatorAsync(int replica = 0)
    {
        var r = _replicas[replica];
        if (r.Host is not { } host) return;
        r.Host = null;
        await host.KillAsync();
        await host.DisposeAsync();
    }

    /// <summary>The Lease's holder now (null when there is no Lease or no holder).</summary>
    public async Task<string?> LeaderAsync()
    {
        var lease = await Client.Resource(KubeResources.Leases).GetAsync(Namespace, LeaseName);
        return lease.Succeeded ? lease.Value["spec"]?["holderIdentity"]?.GetValue<string>() : null;
    }

    /// <summary>Waits until some replica holds the Lease and reports itself leader; returns its index.</summary>
    public async Task<int> WaitForLeaderAsync(TimeSpan? timeout = null)
    {
        var found = -1;
        await WaitUntilAsync(async () =>
        {
            var holder = await LeaderAsync();
            found = Array.FindIndex(_replicas, r => r.Identity == holder && r.Host?.IsLeader == true);
            return found >= 0;
        }, timeout ?? TimeSpan.FromSeconds(30), "a leader");
        return found;
    }

    /// <summary>Replica <paramref name="replica"/>'s base URL (health, /metrics, action API) — also while stopped.</summary>
    public Uri OperatorUrl(int replica = 0) => new($"http://127.0.0.1:{_replicas[replica].Port.ToString(CultureInfo.InvariantCulture)}");

    // ---------------------------------------------------------------- kubectl and objects

    /// <summary><c>kubectl apply -n &lt;namespace&gt; -f -</c> as the admin (objects without a namespace land in the test's).</summary>
    public async Task<string> ApplyAsync(string yaml)
    {
        var result = await Server.RunKubectlAsync(["apply", "-n", Namespace, "-f", "-"], yaml);
        return result.Succeeded ? result.Stdout : throw new InvalidOperationException($"kubectl apply failed, {result}\n{yaml}");
    }

    /// <summary>kubectl as the admin in the test's namespace; throws with its output when it fails.</summary>
    public async Task<string> KubectlAsync(params string[] args)
    {
        var result = await KubectlRawAsync(args);
        return result.Succeeded ? result.Stdout : throw new InvalidOperationException($"kubectl {string.Join(' ', args)} failed, {result}");
    }

    /// <summary>kubectl as the admin in the test's namespace; never throws on a non-zero exit.</summary>
    public Task<KubectlResult> KubectlRawAsync(params string[] args) => Server.RunKubectlAsync(["-n", Namespace, .. args]);

    /// <summary>An object of the test's namespace by API path suffix, e.g. <c>("apps/v1", "deployments/podinfo")</c>; null when missing.</summary>
    public async Task<JsonObject?> GetAsync(string apiVersion, string resource)
    {
        var prefix = apiVersion.Contains('/', StringComparison.Ordinal) ? "/apis/" + apiVersion : "/api/" + apiVersion;
        var (status, body) = await Server.RequestAsync(HttpMethod.Get, $"{prefix}/namespaces/{Namespace}/{resource}");
        if (status == HttpStatusCode.NotFound) return null;
        if (status != HttpStatusCode.OK) throw new InvalidOperationException($"GET {resource}: {(int)status} {body}");
        return (JsonObject)JsonNode.Parse(body)!;
    }

    public async Task<JsonObject> RequireAsync(string apiVersion, string resource) =>
        await GetAsync(apiVersion, resource) ?? throw new InvalidOperationException($"{resource} does not exist in {Namespace}");

    public Task<JsonObject?> GetCanaryAsync(string name = "podinfo") => GetAsync("flagger.app/v1beta1", "canaries/" + name);

    public Task<JsonObject?> GetDeploymentAsync(string name) => GetAsync("apps/v1", "deployments/" + name);

    /// <summary>The canary's status.phase, or null before the first status write.</summary>
    public async Task<string?> CanaryPhaseAsync(string name = "podinfo") =>
        (await GetCanaryAsync(name))?["status"]?["phase"]?.GetValue<string>();

    /// <summary>Waits until the canary (in this namespace) is in <paramref name="phase"/>; default timeout 90 s.</summary>
    public Task<JsonObject> WaitForCanaryPhaseAsync(string name, string phase, TimeSpan? timeout = null) =>
        WaitForCanaryPhaseAsync(Namespace, name, phase, timeout);

    /// <summary>Waits until canary <paramref name="ns"/>/<paramref name="name"/> is in <paramref name="phase"/>; fails with a description of the cluster.</summary>
    public async Task<JsonObject> WaitForCanaryPhaseAsync(string ns, string name, string phase, TimeSpan? timeout = null)
    {
        JsonObject? canary = null;
        await WaitUntilAsync(async () =>
        {
            var (status, body) = await Server.RequestAsync(HttpMethod.Get, $"/apis/flagger.app/v1beta1/namespaces/{ns}/canaries/{name}");
            canary = status == HttpStatusCode.OK ? JsonNode.Parse(body) as JsonObject : null;
            var now = canary?["status"]?["phase"]?.GetValue<string>();
            // The other end of a rollout never turns into this one by itself: fail at once with the description.
            if (now is "Succeeded" or "Failed" && phase is "Succeeded" or "Failed" && now != phase)
                throw new Xunit.Sdk.XunitException($"canary {ns}/{name} is {now}, expected {phase}\n{await DescribeAsync(name)}");
            return now == phase;
        }, timeout ?? TimeSpan.FromSeconds(90), $"canary {ns}/{name} in phase {phase}", name);
        return canary!;
    }

    /// <summary>Waits until <paramref name="condition"/> holds (polling every 200 ms); on timeout fails with <see cref="DescribeAsync"/>.</summary>
    public Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, string canary = "podinfo") =>
        Eventually.True(condition, timeout, () => DescribeAsync(canary), TimeSpan.FromMilliseconds(200), what);

    /// <summary>
    /// Waits until the running replicas have ticked <paramref name="canary"/> <paramref name="count"/> more times: how a test
    /// shows that nothing happens.
    /// </summary>
    public Task TicksPassAsync(int count, string canary = "podinfo")
    {
        long Ticks() => _replicas.Sum(r => r.Host?.Metrics.Ticks($"{canary}.{Namespace}") ?? 0);
        var from = Ticks();
        return WaitUntilAsync(() => Task.FromResult(Ticks() >= from + count), TimeSpan.FromMinutes(1), $"{count} more ticks of {canary}", canary);
    }

    /// <summary>Waits until the mesh's routing object has the weights (primary, canary); returns the routing.</summary>
    public async Task<TestMeshRoutes> WaitForWeightsAsync(int primary, int canary, TimeSpan? timeout = null)
    {
        var mesh = Mesh ?? throw new InvalidOperationException("provider kubernetes has no mesh");
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        TestMeshRoutes? last = null;
        await WaitUntilAsync(async () =>
        {
            last = await mesh.RefreshAsync();
            return last.Exists && last.Weights.Primary == primary && last.Weights.Canary == canary;
        }, limit, $"weights {primary}/{canary} in the {mesh.Target} (last {last})");
        return last!;
    }

    // ---------------------------------------------------------------- events

    /// <summary>The Events recorded in the namespace so far, in the order they were made; a repeated one appears again when its count grows.</summary>
    public IReadOnlyList<RecordedEvent> Events
    {
        get
        {
            lock (_eventsLock) return [.. _events];
        }
    }

    /// <summary>The messages of the Events about canary <paramref name="name"/>, in order.</summary>
    public IReadOnlyList<string> EventMessages(string name = "podinfo") =>
        [.. Events.Where(e => e.Object == "Canary/" + name).Select(e => e.Message)];

    /// <summary>The Events of canary <paramref name="name"/> as the API server has them now (one per object, count included), oldest first.</summary>
    public async Task<IReadOnlyList<RecordedEvent>> GetEventsAsync(string name = "podinfo")
    {
        var list = await Client.Resource(KubeResources.Events).ListAllAsync(Namespace,
            new ListOptions { FieldSelector = $"involvedObject.kind=Canary,involvedObject.name={name}" });
        return [.. list.GetValueOrThrow().Items
            .OrderBy(e => e["firstTimestamp"]?.GetValue<string>() ?? "", StringComparer.Ordinal)
            .ThenBy(e => long.Parse(e["metadata"]?["resourceVersion"]?.GetValue<string>() ?? "0", CultureInfo.InvariantCulture))
            .Select(ToRecorded)];
    }

    /// <summary>Waits until an Event about canary <paramref name="name"/> contains <paramref name="text"/>.</summary>
    public Task WaitForEventAsync(string text, string name = "podinfo", TimeSpan? timeout = null) =>
        WaitUntilAsync(() => Task.FromResult(EventMessages(name).Any(m => m.Contains(text, StringComparison.Ordinal))),
            timeout ?? TimeSpan.FromSeconds(60), $"event '{text}'", name);

    private static RecordedEvent ToRecorded(JsonObject e) => new(
        e["type"]?.GetValue<string>() ?? "",
        e["reason"]?.GetValue<string>() ?? "",
        e["message"]?.GetValue<string>() ?? "",
        $"{e["involvedObject"]?["kind"]?.GetValue<string>()}/{e["involvedObject"]?["name"]?.GetValue<string>()}",
        e["source"]?["component"]?.GetValue<string>() ?? e["reportingComponent"]?.GetValue<string>() ?? "",
        e["count"]?.GetValue<int>() ?? 1);

    private async Task WatchEventsAsync(TaskCompletionSource ready, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in Client.Resource(KubeResources.Events).WatchAllAsync(Namespace, null, cancellationToken))
            {
                if (e.Type == WatchEventType.Synced) ready.TrySetResult();
                if (e.Object is not { } obj || e.Type is not (WatchEventType.Added or WatchEventType.Modified)) continue;
                var recorded = ToRecorded(obj);
                var key = obj["metadata"]?["name"]?.GetValue<string>() ?? "";
                lock (_eventsLock)
                {
                    // A new Event, or a repeat of one (its count grew): kubectl get events --watch shows both.
                    if (_eventCounts.TryGetValue(key, out var count) && count >= recorded.Count) continue;
                    _eventCounts[key] = recorded.Count;
                    _events.Add(recorded);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
        catch (ObjectDisposedException)
        {
            // Disposed.
        }
    }

    // ---------------------------------------------------------------- the kubelet

    /// <summary>Stops marking <paramref name="deployment"/> ready (its status stays as it is) until <see cref="ReleaseDeployment"/>.</summary>
    public void HoldDeployment(string deployment) => _held[deployment] = true;

    public void ReleaseDeployment(string deployment) => _held.TryRemove(deployment, out _);

    private async Task KubeletAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var (status, body) = await Server.RequestAsync(HttpMethod.Get, $"/apis/apps/v1/namespaces/{Namespace}/deployments",
                    cancellationToken: cancellationToken);
                if (status == HttpStatusCode.OK && JsonNode.Parse(body)?["items"] is JsonArray items)
                {
                    foreach (var d in items.OfType<JsonObject>())
                    {
                        var name = d["metadata"]?["name"]?.GetValue<string>() ?? "";
                        if (_held.ContainsKey(name) || !NeedsStatus(d)) continue;
                        try
                        {
                            await Server.MarkDeploymentReadyAsync(Namespace, name, cancellationToken: cancellationToken);
                        }
                        catch (InvalidOperationException)
                        {
                            // Deleted or changed meanwhile: the next round sees it again.
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or ObjectDisposedException)
            {
                // The API server is going away with the test, or a request timed out: try again.
            }
            try
            {
                await Task.Delay(150, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>True when the Deployment's status does not describe a finished rollout of its current spec.</summary>
    private static bool NeedsStatus(JsonObject deployment)
    {
        var generation = deployment["metadata"]?["generation"]?.GetValue<long>() ?? 0;
        var status = deployment["status"] as JsonObject;
        var desired = deployment["spec"]?["replicas"]?.GetValue<int>() ?? 1;
        return status?["observedGeneration"]?.GetValue<long>() != generation
            || (status["replicas"]?.GetValue<int>() ?? 0) != desired
            || (status["readyReplicas"]?.GetValue<int>() ?? 0) != desired
            || (status["updatedReplicas"]?.GetValue<int>() ?? 0) != desired;
    }

    // ---------------------------------------------------------------- the mesh and Prometheus

    /// <summary>From now on, the share (0 to 1) of <paramref name="role"/>'s requests that fail with 500.</summary>
    public void SetMeshErrorRate(BackendRole role, double errorRate)
    {
        var metrics = MeshMetrics ?? throw new InvalidOperationException("provider kubernetes has no mesh");
        metrics.SetArm(role, metrics.Arm(role) with { ErrorRate = errorRate });
    }

    /// <summary>From now on, <paramref name="role"/>'s latency.</summary>
    public void SetMeshLatency(BackendRole role, TestMeshLatency latency)
    {
        var metrics = MeshMetrics ?? throw new InvalidOperationException("provider kubernetes has no mesh");
        metrics.SetArm(role, metrics.Arm(role) with { Latency = latency });
    }

    /// <summary>An instant query's single value (null when empty).</summary>
    public Task<double?> PrometheusQueryAsync(string query) => Prometheus.QueryValueAsync(query);

    // ---------------------------------------------------------------- diagnostics

    /// <summary>
    /// Fails when an operator replica was refused anything (403 Forbidden in its log): with the operator running as
    /// the ServiceAccount of <c>deploy/</c>, a clean rollout proves its ClusterRole sufficient.
    /// </summary>
    public void AssertNothingForbidden()
    {
        var refused = OperatorLog.Where(l => l.Contains("Forbidden", StringComparison.OrdinalIgnoreCase) || l.Contains(" 403 ", StringComparison.Ordinal)).ToList();
        Assert.True(refused.Count == 0, "the operator was refused:\n" + string.Join("\n", refused));
    }

    /// <summary>What a failed wait shows: the canary's status, the routing, the Deployments, the events and the operators' log tail.</summary>
    public async Task<string> DescribeAsync(string canary = "podinfo")
    {
        var text = new StringBuilder();
        text.Append("namespace ").Append(Namespace).Append('\n');
        try
        {
            var c = await GetCanaryAsync(canary);
            text.Append("canary status: ").Append(c?["status"]?.ToJsonString() ?? "(none)").Append('\n');
            if (Mesh is not null) text.Append("mesh: ").Append(Mesh.Routes).Append(" last error: ").Append(Mesh.LastError).Append('\n');
            var deployments = await Client.Resource(KubeResources.Deployments).ListAsync(Namespace);
            if (deployments.Succeeded)
            {
                foreach (var d in deployments.Value.Items)
                {
                    text.Append("deployment ").Append(d["metadata"]?["name"]).Append(" gen ").Append(d["metadata"]?["generation"])
                        .Append(" replicas ").Append(d["spec"]?["replicas"]).Append(" status ")
                        .Append(d["status"]?["observedGeneration"]).Append('/').Append(d["status"]?["readyReplicas"]).Append('\n');
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or KubeApiException or TaskCanceledException)
        {
            text.Append("(cannot read the cluster: ").Append(e.Message).Append(")\n");
        }
        if (Prometheus is not null)
        {
            text.Append("prometheus targets: ").Append(await Prometheus.TargetsSummaryAsync()).Append('\n');
            try
            {
                foreach (var query in new[] { "sum by (deployment) (response_total)", "sum by (destination_workload) (istio_requests_total)", "flagger_canary_status" })
                    text.Append("prometheus ").Append(query).Append(": ").Append((await Prometheus.QueryAsync(query)).GetProperty("result")).Append('\n');
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                text.Append("(cannot query Prometheus: ").Append(e.Message).Append(")\n");
            }
        }
        if (MeshMetrics is not null)
        {
            text.Append("mesh counts: primary ").Append(MeshMetrics.Counts(BackendRole.Primary).Total).Append(", canary ")
                .Append(MeshMetrics.Counts(BackendRole.Canary).Total).Append(", unrouted ").Append(MeshMetrics.Unrouted).Append('\n');
        }
        text.Append("events:\n");
        foreach (var e in Events) text.Append("  ").Append(e).Append('\n');
        text.Append("operator log (tail):\n");
        foreach (var line in OperatorLog.TakeLast(60)) text.Append("  ").Append(line).Append('\n');
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        for (var i = 0; i < _replicas.Length; i++) await StopOperatorAsync(i);
        await _stop.CancelAsync();
        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (MeshMetrics is not null) await MeshMetrics.DisposeAsync();
        if (Mesh is not null) await Mesh.DisposeAsync();
        if (Prometheus is not null) await Prometheus.DisposeAsync();
        Client.Dispose();
        _stop.Dispose();
    }

    private sealed class OperatorReplica(int index, string identity, int port)
    {
        public int Index { get; } = index;

        public string Identity { get; } = identity;

        public int Port { get; } = port;

        public OperatorHost? Host { get; set; }
    }

    /// <summary>Collects an operator replica's log lines (Information and above) with its identity.</summary>
    private sealed class LogCollector(string identity, ConcurrentQueue<string> lines) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new Logger(identity, categoryName, lines);

        public void AddProvider(ILoggerProvider provider) { }

        public void Dispose() { }

        private sealed class Logger(string identity, string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!IsEnabled(logLevel)) return;
                lines.Enqueue($"{identity} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.GetType().Name + ": " + exception.Message)}");
                // Bounded: a long test keeps the last lines only.
                while (lines.Count > 5000) lines.TryDequeue(out _);
            }
        }
    }
}
