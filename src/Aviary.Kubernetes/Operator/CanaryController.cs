using Aviary.Core.Primitives;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Observability;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Operator;

/// <summary>Builds what one tick of a canary observes and acts through (its workload, router, metrics, hooks, alerts).</summary>
public delegate SchedulerServices CanaryServicesFactory(CanaryPolicy canary);

/// <summary>Limits of <see cref="CanaryController"/>, with their defaults.</summary>
public sealed record CanaryControllerOptions
{
    /// <summary>How many canaries tick at once (the work queue's workers). Default 32.</summary>
    public int Workers { get; init; } = 32;

    /// <summary>
    /// How often a canary with no rollout under way (Initialized, Succeeded, Failed) ticks when nothing it
    /// reads has changed. Default 5 minutes; it is woken at once when its target, its config, its routing objects,
    /// its templates or the Canary itself change.
    /// </summary>
    public TimeSpan ResyncPeriod { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Only canaries with these labels (a label selector, e.g. <c>team=payments</c>); null: all.</summary>
    public string? LabelSelector { get; init; }

    /// <summary>Which canaries this replica runs (shards); null: all of them, while it leads.</summary>
    public ICanaryOwnership? Ownership { get; init; }
}

/// <summary>Which canaries a replica may act on now (leader election, or the shards it holds).</summary>
public interface ICanaryOwnership
{
    bool Owns(string @namespace, string name);

    /// <summary>Changes whenever what this replica owns changes (the controller then looks at every canary again).</summary>
    long Stamp { get; }
}

/// <summary>
/// Runs every Canary of the watched namespaces from a shared work queue keyed by namespace/name: the Canary informer
/// adds new canaries, a manual action or a deletion wakes one at once, and otherwise each is due at its next analysis
/// slot (Core's <see cref="CanaryLoop"/>, the same loop as the embedded runtime's, stepped by a bounded pool of
/// workers). Every read comes from the client's informers (<see cref="KubeCache"/>); a canary with no rollout under
/// way is parked until something it read changes (or the resync period passes), so idle canaries cost nothing. A tick
/// writes only what changed: its status as a merge patch of the status subresource with optimistic concurrency
/// (409: the same change onto the current version), and Events aggregated. Only the replica that owns a canary ticks it.
/// </summary>
public sealed partial class CanaryController
{
    /// <summary>The annotation that asks for a manual action: promote, abort, retry, pause or resume.</summary>
    public const string ActionAnnotation = "aviary.dev/action";

    /// <summary>Who asked for the action (optional; shown in the events).</summary>
    public const string ActionByAnnotation = "aviary.dev/action-by";

    /// <summary>Set while a canary is paused (<c>aviary.dev/action: pause</c>); removed by resume.</summary>
    public const string PausedAnnotation = "aviary.dev/paused";

    /// <summary>The finalizer of canaries with <c>revertOnDeletion</c>.</summary>
    public const string Finalizer = "finalizer.aviary.dev";

    private readonly KubeClient _client;
    private readonly ResourceClient<JsonObject> _canaries;
    private readonly CanaryServicesFactory _services;
    private readonly KubeEventRecorder _events;
    private readonly CanaryMetrics _metrics;
    private readonly ICanaryOwnership _ownership;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string? _watchNamespace;
    private readonly string? _defaultProvider;
    private readonly CanaryControllerOptions _options;
    private readonly ConcurrentDictionary<string, CanaryLoop> _loops = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string[]> _readsOf = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> _dependents = new(StringComparer.Ordinal);
    private WorkQueue<string>? _queue;

    public CanaryController(KubeClient client, CanaryServicesFactory services, KubeEventRecorder events, CanaryMetrics metrics, Func<bool> isLeader,
        TimeProvider time, ILogger logger, string? watchNamespace = null, string? defaultProvider = null, CanaryControllerOptions? options = null)
    {
        _client = client;
        _canaries = client.Resource(KubeResources.Canaries);
        _services = services;
        _events = events;
        _metrics = metrics;
        _options = options ?? new CanaryControllerOptions();
        _ownership = _options.Ownership ?? new LeaderOwnership(isLeader);
        _time = time;
        _logger = logger;
        _watchNamespace = watchNamespace;
        _defaultProvider = defaultProvider;
    }

    /// <summary>Raised after every saved tick of every canary (the dashboard keeps its checks).</summary>
    public event Action<CanaryPolicy, TickOutcome>? Ticked;

    /// <summary>
    /// Asks for a manual action the way a user with kubectl would: the <see cref="ActionAnnotation"/> (and who, in
    /// <see cref="ActionByAnnotation"/>) on the Canary; its loop, woken by the change, applies it.
    /// </summary>
    public static Task<KubeResult<JsonObject>> RequestActionAsync(KubeClient client, string ns, string name, ManualActionKind kind, string who,
        CancellationToken cancellationToken) =>
        client.Resource(KubeResources.Canaries).PatchAsync(ns, name, KubePatch.Merge(new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["annotations"] = new JsonObject
                {
                    [ActionAnnotation] = kind.ToString().ToLowerInvariant(),
                    [ActionByAnnotation] = who,
                },
            },
        }), cancellationToken);

    /// <summary>The canaries (<c>name.namespace</c>) this controller has a loop for: a loop ends when its canary is gone or finalized.</summary>
    public IReadOnlyCollection<string> Running => [.. _loops.Keys.Select(k => { var (ns, name) = Split(k); return $"{name}.{ns}"; })];

    /// <summary>The work queue, while the controller runs (its depth, lag and durations are on /metrics).</summary>
    public WorkQueue<string>? Queue => _queue;

    /// <summary>How long each step of a canary took (a tick, a look of the judge).</summary>
    public Histogram WorkDuration { get; } = new(Histogram.SecondsBuckets);

    /// <summary>How late each step started after it was due (its analysis slot, or the change that woke it).</summary>
    public Histogram TickLag { get; } = new(Histogram.SecondsBuckets);

    /// <summary>Writes the controller's families: queue depth, work duration, tick lag, canaries known and parked.</summary>
    public void WriteMetrics(PrometheusWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.Family("aviary_workqueue_depth", "gauge", "Canaries due and waiting for a worker.");
        w.Sample("aviary_workqueue_depth", _queue?.Depth ?? 0);
        w.Family("aviary_workqueue_workers", "gauge", "Workers of the canary work queue (--workers).");
        w.Sample("aviary_workqueue_workers", _options.Workers);
        w.Family("aviary_workqueue_retries_total", "counter", "Steps that threw and were backed off.");
        w.Sample("aviary_workqueue_retries_total", _queue?.Retries ?? 0);
        w.Family("aviary_work_duration_seconds", "histogram", "Time one step of one canary took (a tick or a look).");
        WorkDuration.Write(w, "aviary_work_duration_seconds");
        w.Family("aviary_tick_lag_seconds", "histogram", "How late a canary's step started after it was due (actual minus scheduled start).");
        TickLag.Write(w, "aviary_tick_lag_seconds");
        w.Family("aviary_canaries", "gauge", "Canaries this replica knows, by state (running a rollout, or parked: none under way).");
        var parked = Parked;
        w.Sample("aviary_canaries", _loops.Count - parked, ("state", "active"));
        w.Sample("aviary_canaries", parked, ("state", "parked"));
        if (_client.Cache is { } cache)
        {
            w.Family("aviary_informer_objects", "gauge", "Objects held by each informer of the operator's cache.");
            foreach (var informer in cache.Informers.OrderBy(i => i.Type.Plural, StringComparer.Ordinal))
                w.Sample("aviary_informer_objects", informer.Count, ("resource", informer.Type.Plural));
            w.Family("aviary_informer_relists_total", "counter", "Times an informer listed again because its watch expired (410 Gone).");
            foreach (var informer in cache.Informers.OrderBy(i => i.Type.Plural, StringComparer.Ordinal))
                w.Sample("aviary_informer_relists_total", informer.Relists, ("resource", informer.Type.Plural));
        }
    }

    /// <summary>True once the Canary informer has listed every canary.</summary>
    public bool Synced { get; private set; }

    /// <summary>How many canaries are parked (no rollout under way, waiting for a change).</summary>
    public int Parked => _loops.Values.Count(l => l.Parked);

    /// <summary>Runs the canaries until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var cache = _client.Cache ?? _client.EnableCache(new KubeCacheOptions
        {
            Namespace = _watchNamespace,
            LabelSelectors = _options.LabelSelector is { } selector ? new Dictionary<string, string> { ["canaries"] = selector } : new Dictionary<string, string>(),
        });
        var informer = cache.For(KubeResources.Canaries)!;
        var queue = new WorkQueue<string>(StepAsync, _options.Workers, _time, comparer: StringComparer.Ordinal, workDuration: WorkDuration, lag: TickLag);
        _queue = queue;
        cache.Changed += OnChanged;
        try
        {
            await informer.WaitForSyncAsync(cancellationToken);
            if (informer.Unavailable is { } error) throw new InvalidOperationException($"cannot list canaries: {error}");
            foreach (var canary in informer.List()) Seen(canary, WatchEventType.Added);
            Synced = true;
            // Ownership (leadership, shards) changes are polled: when it changes, every canary is looked at again.
            var stamp = _ownership.Stamp;
            while (true)
            {
                await Task.Delay(CanaryLoop.ActingPoll, _time, cancellationToken);
                if (_ownership.Stamp == stamp) continue;
                stamp = _ownership.Stamp;
                foreach (var key in _loops.Keys) queue.Add(key);
            }
        }
        finally
        {
            cache.Changed -= OnChanged;
            Synced = false;
            // No canary's tick may outlive the controller.
            await queue.DisposeAsync();
            _queue = null;
            _loops.Clear();
            _readsOf.Clear();
            _dependents.Clear();
        }
    }

    private void OnChanged(KubeInformer informer, WatchEventType type, JsonObject obj)
    {
        if (informer.Type == KubeResources.Canaries)
        {
            Seen(obj, type);
            return;
        }
        // Something a parked canary read changed: it ticks now.
        var key = KubeCache.KeyOf(informer.Type, KubeJson.Namespace(obj), KubeJson.Name(obj) ?? "");
        if (!_dependents.TryGetValue(key, out var canaries)) return;
        foreach (var canary in canaries.Keys) _queue?.Add(canary);
    }

    private void Seen(JsonObject canary, WatchEventType type)
    {
        var ns = KubeJson.Namespace(canary) ?? "default";
        var name = KubeJson.Name(canary) ?? "";
        var key = ns + "/" + name;
        if (type == WatchEventType.Deleted)
        {
            _queue?.Remove(key);
            _loops.TryRemove(key, out _);
            Forget(key);
            _metrics.Remove($"{name}.{ns}");
            return;
        }
        var added = false;
        var loop = _loops.GetOrAdd(key, _ =>
        {
            added = true;
            return new CanaryLoop(new Port(this, ns, name), _time, _options.ResyncPeriod);
        });
        var annotations = canary["metadata"]?["annotations"] as JsonObject;
        var wake = annotations?.ContainsKey(ActionAnnotation) == true || canary["metadata"]?["deletionTimestamp"] is not null;
        if (wake) loop.Wake();
        // A parked canary looks at any change of its Canary (a new spec, a resume); a running one only at its slot.
        if (added || wake || loop.Parked) _queue?.Add(key);
    }

    /// <summary>The work of one key: a step of its loop, if this replica owns it; returns when it is next due.</summary>
    private async Task<DateTimeOffset?> StepAsync(string key, CancellationToken cancellationToken)
    {
        if (!_loops.TryGetValue(key, out var loop)) return null;
        var (ns, name) = Split(key);
        if (!_ownership.Owns(ns, name)) return null;
        using var reads = KubeCache.Track();
        var next = await loop.StepAsync(cancellationToken);
        if (next is null)
        {
            _loops.TryRemove(new KeyValuePair<string, CanaryLoop>(key, loop));
            Forget(key);
            return null;
        }
        if (!_loops.TryGetValue(key, out var current) || current != loop)
        {
            // Deleted while it stepped.
            Forget(key);
            return null;
        }
        if (loop.Parked) Depend(key, reads.Keys);
        else Forget(key);
        return next;
    }

    /// <summary>Notes what a parked canary read, so that a change of any of it wakes the canary.</summary>
    private void Depend(string canary, HashSet<string> keys)
    {
        Forget(canary);
        _readsOf[canary] = [.. keys];
        foreach (var k in keys) _dependents.GetOrAdd(k, _ => new ConcurrentDictionary<string, byte>(StringComparer.Ordinal))[canary] = 0;
    }

    private void Forget(string canary)
    {
        if (!_readsOf.TryRemove(canary, out var keys)) return;
        foreach (var k in keys)
        {
            if (_dependents.TryGetValue(k, out var set))
            {
                set.TryRemove(canary, out _);
                if (set.IsEmpty) _dependents.TryRemove(new KeyValuePair<string, ConcurrentDictionary<string, byte>>(k, set));
            }
        }
    }

    private static (string Namespace, string Name) Split(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return (key[..slash], key[(slash + 1)..]);
    }

    /// <summary>One tick of one canary, as its loop runs it; returns the interval to wait, or null to stop. For tests.</summary>
    internal async Task<TimeSpan?> TickAsync(string ns, string name, CancellationToken cancellationToken)
    {
        var step = await new CanaryLoop(new Port(this, ns, name), _time).TickAsync(cancellationToken);
        return step.Stop ? null : step.Interval;
    }

    private sealed class LeaderOwnership(Func<bool> isLeader) : ICanaryOwnership
    {
        public bool Owns(string @namespace, string name) => isLeader();

        public long Stamp => isLeader() ? 1 : 0;
    }

    /// <summary>
    /// A canary that names no provider gets the operator's default only here, so what that provider's router cannot do is
    /// refused here (with its field path), as validation refuses it for a named provider.
    /// </summary>
    private ManifestDocument Refused(ManifestDocument doc)
    {
        if (doc.Compiled is not CanaryPolicy policy || policy.Provider.Length > 0) return doc;
        var refused = RouterCapabilities.Check(WithDefaultProvider(policy));
        if (refused.Count == 0) return doc;
        return doc with { Compiled = refused.Any(d => d.IsError) ? null : policy, Diagnostics = [.. doc.Diagnostics, .. refused] };
    }

    /// <summary>Flagger's -mesh-provider: the provider of canaries that name none.</summary>
    private CanaryPolicy WithDefaultProvider(CanaryPolicy policy) =>
        policy.Provider.Length == 0 && !string.IsNullOrEmpty(_defaultProvider) ? policy with { Provider = _defaultProvider } : policy;

    /// <summary>
    /// Reads the action annotation. An unknown value gets a warning and is cleared; promote, abort and retry are
    /// announced once ("… requested by …"), since one the scheduler cannot decide yet stays pending over several ticks.
    /// </summary>
    private async Task<ManualAction?> ReadActionAsync(CanaryPolicy policy, IReadOnlyDictionary<string, string> annotations, CancellationToken cancellationToken)
    {
        var key = $"{policy.Name}.{policy.Namespace}";
        if (!annotations.TryGetValue(ActionAnnotation, out var text))
        {
            _announced.TryRemove(key, out _);
            return null;
        }
        var who = annotations.TryGetValue(ActionByAnnotation, out var by) && by.Length > 0 ? by : $"the {ActionAnnotation} annotation";
        if (!ManualAction.TryParse(text.Trim(), out var kind))
        {
            await _events.RecordAsync(policy,
                [new CanaryEvent(_time.GetUtcNow(), EventType.Warning, $"Ignoring {ActionAnnotation}: '{text}' is not one of promote, abort, retry, pause, resume")],
                cancellationToken);
            await ClearActionAsync(policy.Namespace, policy.Name, text, cancellationToken);
            return null;
        }
        var action = new ManualAction(kind, who, _time.GetUtcNow());
        if (kind is not (ManualActionKind.Pause or ManualActionKind.Resume)
            && (!_announced.TryGetValue(key, out var announced) || announced != $"{text}|{who}"))
        {
            _announced[key] = $"{text}|{who}";
            await _events.RecordAsync(policy,
                [new CanaryEvent(_time.GetUtcNow(), EventType.Normal, $"{char.ToUpperInvariant(action.Verb[0])}{action.Verb[1..]} requested by {who}")],
                cancellationToken);
        }
        return action;
    }

    /// <summary>Pause and resume take effect as the paused annotation; the action annotation read is cleared with it.</summary>
    private async Task ApplyPauseAsync(CanaryPolicy policy, ManualAction action, string text, CancellationToken cancellationToken)
    {
        var paused = action.Kind == ManualActionKind.Pause;
        await _canaries.UpdateWithRetryAsync(policy.Namespace, policy.Name, c =>
        {
            var meta = (JsonObject)c["metadata"]!;
            if (meta["annotations"] is not JsonObject a)
            {
                a = new JsonObject();
                meta["annotations"] = a;
            }
            // Only the action read here is cleared: another one the user set meanwhile stays for the next tick.
            if (a[ActionAnnotation]?.GetValue<string>() == text)
            {
                a.Remove(ActionAnnotation);
                a.Remove(ActionByAnnotation);
            }
            if (paused) a[PausedAnnotation] = "true";
            else a.Remove(PausedAnnotation);
            return c;
        }, cancellationToken);
        await _events.RecordAsync(policy, [new CanaryEvent(_time.GetUtcNow(), EventType.Normal, paused
            ? $"Canary {policy.Id} paused by {action.RequestedBy}: no analysis until it is resumed"
            : $"Canary {policy.Id} resumed by {action.RequestedBy}")], cancellationToken);
    }

    /// <summary>The pending action each canary's "requested by" event was recorded for (value|who).</summary>
    private readonly ConcurrentDictionary<string, string> _announced = new(StringComparer.Ordinal);

    private Task ClearActionAsync(string ns, string name, string value, CancellationToken cancellationToken) =>
        _canaries.UpdateWithRetryAsync(ns, name, c =>
        {
            if (c["metadata"]?["annotations"] is not JsonObject a || a[ActionAnnotation]?.GetValue<string>() != value) return null;
            a.Remove(ActionAnnotation);
            a.Remove(ActionByAnnotation);
            return c;
        }, cancellationToken);

    /// <summary>Writes what changed in the status since it was read (nothing when nothing did), retrying on 409.</summary>
    private async Task WriteStatusAsync(string ns, string name, CanaryRead.Ready read, JsonObject? stored, CanaryStatus status, CancellationToken cancellationToken)
    {
        var modelled = (JsonObject)JsonSerializer.SerializeToNode(read.Status, ModelJson.Options)!;
        var after = (JsonObject)JsonSerializer.SerializeToNode(status, ModelJson.Options)!;
        var change = KubePatch.ModelChange(stored, modelled, after);
        var result = await _canaries.PatchStatusWithRetryAsync(ns, name, read.Policy.Manifest.Metadata?.ResourceVersion, change, cancellationToken);
        if (result is { } r && !r.Succeeded && !r.IsNotFound) LogApiError(_logger, $"{name}.{ns}", "status: " + r.Error);
    }

    private Task AddFinalizerAsync(string ns, string name, CancellationToken cancellationToken) =>
        _canaries.UpdateWithRetryAsync(ns, name, c =>
        {
            var meta = (JsonObject)c["metadata"]!;
            var list = meta["finalizers"] as JsonArray ?? new JsonArray();
            if (list.Any(f => f?.GetValue<string>() == Finalizer)) return null;
            list.Add(Finalizer);
            meta["finalizers"] = list.DeepClone();
            return c;
        }, cancellationToken);

    private Task RemoveFinalizerAsync(string ns, string name, CancellationToken cancellationToken) =>
        _canaries.UpdateWithRetryAsync(ns, name, c =>
        {
            if (c["metadata"]?["finalizers"] is not JsonArray list) return null;
            var kept = new JsonArray(list.Where(f => f?.GetValue<string>() != Finalizer).Select(f => f?.DeepClone()).ToArray());
            if (kept.Count == list.Count) return null;
            c["metadata"]!["finalizers"] = kept;
            return c;
        }, cancellationToken);

    private readonly ConcurrentDictionary<string, string> _reported = new(StringComparer.Ordinal);

    private async Task ReportInvalidAsync(JsonObject obj, ManifestDocument doc, CancellationToken cancellationToken)
    {
        var ns = obj["metadata"]?["namespace"]?.GetValue<string>() ?? "default";
        var name = obj["metadata"]?["name"]?.GetValue<string>() ?? "";
        var version = obj["metadata"]?["resourceVersion"]?.GetValue<string>() ?? "";
        if (_reported.TryGetValue($"{name}.{ns}", out var seen) && seen == version) return;
        _reported[$"{name}.{ns}"] = version;
        var message = "Invalid canary: " + string.Join("; ", doc.Diagnostics.Where(d => d.IsError).Select(d => d.ToString()));
        LogInvalid(_logger, $"{name}.{ns}", message);
        if (doc.Manifest is Canary canary)
        {
            var stub = new CanaryPolicyStub(canary);
            await _events.RecordAsync(stub.Policy, [new CanaryEvent(_time.GetUtcNow(), EventType.Warning, message)], cancellationToken);
        }
    }

    /// <summary>The smallest policy that lets the event recorder name an invalid canary.</summary>
    private sealed class CanaryPolicyStub(Canary canary)
    {
        public CanaryPolicy Policy { get; } = new()
        {
            Manifest = canary,
            Name = canary.Metadata.Name,
            Namespace = canary.Metadata.EffectiveNamespace,
            TargetName = canary.Spec.TargetRef.Name,
            TargetKind = canary.Spec.TargetRef.Kind,
            Provider = canary.Spec.Provider ?? "",
            ServiceName = canary.Spec.TargetRef.Name,
            ServicePort = null,
            Interval = TimeSpan.FromMinutes(1),
            Threshold = 1,
            MaxWeight = 100,
            StepWeight = 0,
            StepWeights = [],
            StepWeightPromotion = 0,
            Iterations = 0,
            Mirror = false,
            MirrorWeight = 0,
            Match = [],
            ProgressDeadline = TimeSpan.FromMinutes(10),
            PrimaryReadyThreshold = 100,
            CanaryReadyThreshold = 100,
            Metrics = [],
            Webhooks = [],
            Alerts = [],
            SessionAffinity = null,
            SkipAnalysis = false,
            Suspend = true,
            RevertOnDeletion = false,
        };
    }

    /// <summary>
    /// What the loop of one canary reads and writes on the API server: the Canary (its spec, status, annotations and
    /// finalizer) and its Events. Only the leader acts. A tick's writes are separate requests, in this order: the
    /// finalizer (added or removed with <c>revertOnDeletion</c>), a pause or resume (the paused annotation), the status
    /// subresource (only what changed; on 409 the same change onto the current version), the action annotation cleared once decided, then Events.
    /// </summary>
    private sealed class Port(CanaryController owner, string ns, string name) : ICanaryLoopPort
    {
        private string Key => $"{name}.{ns}";

        // The action annotation's text and the status as stored, as read by the last ReadAsync (reads and saves of one
        // loop never overlap).
        private string? _actionText;
        private JsonObject? _storedStatus;

        public bool MayAct => owner._ownership.Owns(ns, name);

        public async Task<CanaryRead> ReadAsync(CancellationToken cancellationToken)
        {
            var got = await owner._canaries.GetAsync(ns, name, cancellationToken);
            if (got.IsNotFound) return new CanaryRead.Gone();
            if (!got.Succeeded)
            {
                LogApiError(owner._logger, Key, got.Error!.ToString());
                return new CanaryRead.NotNow(TimeSpan.FromSeconds(5));
            }
            var obj = got.Value;
            _storedStatus = obj["status"]?.DeepClone() as JsonObject;
            var doc = owner.Refused(ManifestReader.ReadNode((JsonObject)obj.DeepClone()));
            var finalizers = (obj["metadata"]?["finalizers"] as JsonArray)?.Select(f => f?.GetValue<string>()).ToList() ?? [];
            var deleting = obj["metadata"]?["deletionTimestamp"] is not null;
            if (doc.Compiled is not CanaryPolicy policy)
            {
                // An invalid canary cannot be reverted; keeping the finalizer would block its deletion for ever.
                if (deleting && finalizers.Contains(Finalizer))
                {
                    LogInvalid(owner._logger, Key, "deleted while invalid: cannot revert the target, removing the finalizer");
                    await owner.RemoveFinalizerAsync(ns, name, cancellationToken);
                    return new CanaryRead.Gone();
                }
                await owner.ReportInvalidAsync(obj, doc, cancellationToken);
                return new CanaryRead.NotNow(TimeSpan.FromSeconds(30));
            }
            policy = owner.WithDefaultProvider(policy);
            var status = doc.Manifest is Canary c ? c.Status ?? CanaryStatus.Empty : CanaryStatus.Empty;
            if (deleting)
            {
                if (!finalizers.Contains(Finalizer)) return new CanaryRead.Gone();
                if (policy.RevertOnDeletion) return new CanaryRead.Ready(policy, status) { Deleting = true };
                // revertOnDeletion was turned off after the finalizer was added: the user no longer wants the revert.
                await owner.RemoveFinalizerAsync(ns, name, cancellationToken);
                return new CanaryRead.Gone();
            }
            if (policy.RevertOnDeletion && !finalizers.Contains(Finalizer)) await owner.AddFinalizerAsync(ns, name, cancellationToken);
            else if (!policy.RevertOnDeletion && finalizers.Contains(Finalizer)) await owner.RemoveFinalizerAsync(ns, name, cancellationToken);

            var annotations = policy.Manifest.Metadata.Annotations ?? new Dictionary<string, string>();
            _actionText = annotations.GetValueOrDefault(ActionAnnotation);
            return new CanaryRead.Ready(policy, status)
            {
                Action = await owner.ReadActionAsync(policy, annotations, cancellationToken),
                Paused = annotations.ContainsKey(PausedAnnotation),
            };
        }

        public CanaryScheduler SchedulerFor(CanaryPolicy policy) => new(owner._services(policy));

        public Task ApplyPauseAsync(CanaryRead.Ready read, ManualAction action, CancellationToken cancellationToken) =>
            owner.ApplyPauseAsync(read.Policy, action, _actionText ?? "", cancellationToken);

        public async Task SaveAsync(CanaryRead.Ready read, TickOutcome outcome, CancellationToken cancellationToken)
        {
            await owner.WriteStatusAsync(ns, name, read, _storedStatus, outcome.Status, cancellationToken);
            if (outcome.Action is not null && _actionText is { } text)
            {
                owner._announced.TryRemove(Key, out _);
                await owner.ClearActionAsync(ns, name, text, cancellationToken);
            }
            await owner._events.RecordAsync(read.Policy, outcome.Events, cancellationToken);
            if (read.Deleting)
            {
                if (outcome.Status.Phase == CanaryPhase.Terminated) await owner.RemoveFinalizerAsync(ns, name, cancellationToken);
                return;
            }
            owner._metrics.Record(read.Policy, outcome);
            owner.Ticked?.Invoke(read.Policy, outcome);
        }

        public Task TickFailedAsync(CanaryRead.Ready? read, Exception error, CancellationToken cancellationToken)
        {
            LogTickFailed(owner._logger, Key, error);
            return Task.CompletedTask;
        }
    }

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "{Canary}: {Error}")]
    private static partial void LogApiError(ILogger logger, string canary, string error);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning, Message = "{Canary}: {Message}")]
    private static partial void LogInvalid(ILogger logger, string canary, string message);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Error, Message = "tick of {Canary} failed")]
    private static partial void LogTickFailed(ILogger logger, string canary, Exception exception);
}
