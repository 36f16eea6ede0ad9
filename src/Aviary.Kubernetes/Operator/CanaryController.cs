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

/// <summary>
/// Runs every Canary of the watched namespaces: one loop per canary at its analysis interval, fed by a watch (new
/// canaries start at once, deleted ones stop, an action annotation or a deletion wakes the loop). Each tick reads the
/// canary fresh, runs the scheduler, writes the status subresource (re-reading and re-applying on 409, so a concurrent
/// edit loses nothing) and records Events. Only the leader ticks.
/// </summary>
public sealed partial class CanaryController(
    KubeClient client,
    CanaryServicesFactory services,
    KubeEventRecorder events,
    CanaryMetrics metrics,
    Func<bool> isLeader,
    TimeProvider time,
    ILogger logger,
    string? watchNamespace = null,
    string? defaultProvider = null)
{
    /// <summary>The annotation that asks for a manual action: promote, abort, retry, pause or resume.</summary>
    public const string ActionAnnotation = "aviary.dev/action";

    /// <summary>Who asked for the action (optional; shown in the events).</summary>
    public const string ActionByAnnotation = "aviary.dev/action-by";

    /// <summary>Set while a canary is paused (<c>aviary.dev/action: pause</c>); removed by resume.</summary>
    public const string PausedAnnotation = "aviary.dev/paused";

    /// <summary>The finalizer of canaries with <c>revertOnDeletion</c>.</summary>
    public const string Finalizer = "finalizer.aviary.dev";

    private readonly ResourceClient<JsonObject> _canaries = client.Resource(KubeResources.Canaries);
    private readonly CanaryServicesFactory _services = services;
    private readonly KubeEventRecorder _events = events;
    private readonly CanaryMetrics _metrics = metrics;
    private readonly Func<bool> _isLeader = isLeader;
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;
    private readonly ConcurrentDictionary<string, Runner> _runners = new(StringComparer.Ordinal);

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

    /// <summary>The canaries (<c>name.namespace</c>) whose loop runs now: a loop ends when its canary is gone or finalized.</summary>
    public IReadOnlyCollection<string> Running => [.. _runners.Where(r => r.Value.IsRunning).Select(r => r.Key)];

    /// <summary>Watches canaries and runs their loops until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await WatchAsync(cancellationToken);
        }
        finally
        {
            // Stopped (or failed): no canary loop may outlive the controller, nor a tick be left running.
            await Task.WhenAll(_runners.Values.Select(r => r.StopAsync()));
        }
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        await foreach (var e in _canaries.WatchAllAsync(watchNamespace, null, cancellationToken))
        {
            if (e.Object is not { } canary) continue;
            var ns = canary["metadata"]?["namespace"]?.GetValue<string>() ?? "default";
            var name = canary["metadata"]?["name"]?.GetValue<string>() ?? "";
            var key = $"{name}.{ns}";
            switch (e.Type)
            {
                case WatchEventType.Deleted:
                    if (_runners.TryRemove(key, out var gone)) await gone.StopAsync();
                    _metrics.Remove(key);
                    break;
                case WatchEventType.Added or WatchEventType.Modified:
                    var runner = _runners.GetOrAdd(key, _ => Start(ns, name, cancellationToken));
                    var annotations = canary["metadata"]?["annotations"] as JsonObject;
                    if (annotations?.ContainsKey(ActionAnnotation) == true || canary["metadata"]?["deletionTimestamp"] is not null) runner.Wake();
                    break;
            }
        }
    }

    private Runner Start(string ns, string name, CancellationToken cancellationToken)
    {
        var runner = new Runner(this, ns, name);
        runner.Start(cancellationToken);
        return runner;
    }

    /// <summary>One tick of one canary, read fresh from the API server; returns the interval to wait, or null to stop.</summary>
    internal async Task<TimeSpan?> TickAsync(string ns, string name, CancellationToken cancellationToken)
    {
        var step = await new CanaryLoop(new Port(this, ns, name), _time).TickAsync(cancellationToken);
        return step.Stop ? null : step.Interval;
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
        policy.Provider.Length == 0 && !string.IsNullOrEmpty(defaultProvider) ? policy with { Provider = defaultProvider } : policy;

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

    private async Task WriteStatusAsync(string ns, string name, CanaryStatus status, CancellationToken cancellationToken)
    {
        var node = JsonSerializer.SerializeToNode(status, ModelJson.Options);
        var result = await _canaries.UpdateStatusWithRetryAsync(ns, name, c =>
        {
            c["status"] = node?.DeepClone();
            return c;
        }, cancellationToken);
        if (!result.Succeeded && !result.IsNotFound) LogApiError(_logger, $"{name}.{ns}", "status: " + result.Error);
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

    /// <summary>The loop of one canary (Core's <see cref="CanaryLoop"/>, the same as the embedded runtime's) and its port.</summary>
    private sealed class Runner
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly CanaryLoop _loop;
        private Task? _running;

        public Runner(CanaryController owner, string ns, string name) => _loop = new CanaryLoop(new Port(owner, ns, name), owner._time);

        public void Wake() => _loop.Wake();

        public bool IsRunning => _running is { IsCompleted: false };

        public void Start(CancellationToken outer)
        {
            var token = CancellationTokenSource.CreateLinkedTokenSource(outer, _stop.Token).Token;
            _running = Task.Run(() => _loop.RunAsync(token), CancellationToken.None);
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            if (_running is not null) await _running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// What the loop of one canary reads and writes on the API server: the Canary (its spec, status, annotations and
    /// finalizer) and its Events. Only the leader acts. A tick's writes are separate requests, in this order: the
    /// finalizer (added or removed with <c>revertOnDeletion</c>), a pause or resume (the paused annotation), the status
    /// subresource (re-read and re-applied on 409), the action annotation cleared once decided, then Events.
    /// </summary>
    private sealed class Port(CanaryController owner, string ns, string name) : ICanaryLoopPort
    {
        private string Key => $"{name}.{ns}";

        // The action annotation's text as read by the last ReadAsync (reads and saves of one loop never overlap).
        private string? _actionText;

        public bool MayAct => owner._isLeader();

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
            await owner.WriteStatusAsync(ns, name, outcome.Status, cancellationToken);
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
