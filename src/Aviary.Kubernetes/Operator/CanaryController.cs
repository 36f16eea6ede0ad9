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
    private readonly Func<bool> _isLeader = isLeader;
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;
    private readonly ConcurrentDictionary<string, Runner> _runners = new(StringComparer.Ordinal);

    // Per canary under analysis with analysis.judge.lookInterval: how often its judge also looks between ticks.
    private readonly ConcurrentDictionary<string, TimeSpan> _looks = new(StringComparer.Ordinal);

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
                    _looks.TryRemove(key, out _);
                    metrics.Remove(key);
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
        var got = await _canaries.GetAsync(ns, name, cancellationToken);
        if (got.IsNotFound) return null;
        if (!got.Succeeded)
        {
            LogApiError(_logger, $"{name}.{ns}", got.Error!.ToString());
            return TimeSpan.FromSeconds(5);
        }
        var obj = got.Value;
        var doc = Refused(ManifestReader.ReadNode((JsonObject)obj.DeepClone()));
        var finalizers = (obj["metadata"]?["finalizers"] as JsonArray)?.Select(f => f?.GetValue<string>()).ToList() ?? [];
        var deleting = obj["metadata"]?["deletionTimestamp"] is not null;
        if (doc.Compiled is not CanaryPolicy policy)
        {
            // An invalid canary cannot be reverted; keeping the finalizer would block its deletion for ever.
            if (deleting && finalizers.Contains(Finalizer))
            {
                LogInvalid(_logger, $"{name}.{ns}", "deleted while invalid: cannot revert the target, removing the finalizer");
                await RemoveFinalizerAsync(ns, name, cancellationToken);
                return null;
            }
            await ReportInvalidAsync(obj, doc, cancellationToken);
            return TimeSpan.FromSeconds(30);
        }
        policy = WithDefaultProvider(policy);
        var scheduler = new CanaryScheduler(services(policy));
        var status = doc.Manifest is Canary c ? c.Status ?? CanaryStatus.Empty : CanaryStatus.Empty;

        if (deleting)
        {
            if (!finalizers.Contains(Finalizer)) return null;
            if (!policy.RevertOnDeletion)
            {
                // revertOnDeletion was turned off after the finalizer was added: the user no longer wants the revert.
                await RemoveFinalizerAsync(ns, name, cancellationToken);
                return null;
            }
            var final = await scheduler.FinalizeAsync(policy, status, cancellationToken);
            await WriteStatusAsync(ns, name, final.Status, cancellationToken);
            await events.RecordAsync(policy, final.Events, cancellationToken);
            if (final.Status.Phase == CanaryPhase.Terminated) await RemoveFinalizerAsync(ns, name, cancellationToken);
            return final.Status.Phase == CanaryPhase.Terminated ? null : policy.Interval;
        }
        if (policy.RevertOnDeletion && !finalizers.Contains(Finalizer)) await AddFinalizerAsync(ns, name, cancellationToken);
        else if (!policy.RevertOnDeletion && finalizers.Contains(Finalizer)) await RemoveFinalizerAsync(ns, name, cancellationToken);

        var annotations = policy.Manifest.Metadata.Annotations ?? new Dictionary<string, string>();
        var action = await TakeActionAsync(policy, annotations, cancellationToken);
        if (annotations.ContainsKey(PausedAnnotation) && action?.Kind is not ManualActionKind.Resume || action?.Kind == ManualActionKind.Pause)
            policy = policy with { Suspend = true };
        if (action?.Kind is ManualActionKind.Pause or ManualActionKind.Resume) action = null;

        var outcome = await scheduler.TickAsync(policy, status, action, cancellationToken);
        await WriteStatusAsync(ns, name, outcome.Status, cancellationToken);
        if (outcome.Action is not null)
        {
            _announced.TryRemove($"{name}.{ns}", out _);
            await ClearActionAsync(ns, name, annotations[ActionAnnotation], cancellationToken);
        }
        await events.RecordAsync(policy, outcome.Events, cancellationToken);
        metrics.Record(policy, outcome);
        if (policy.Judge?.LookInterval is { } look && outcome.Status.Phase is CanaryPhase.Progressing or CanaryPhase.WaitingPromotion)
            _looks[$"{name}.{ns}"] = look;
        else _looks.TryRemove($"{name}.{ns}", out _);
        return policy.Interval;
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

    /// <summary>How often the judge of a canary under analysis also looks between its ticks; null: it does not.</summary>
    internal TimeSpan? LookIntervalOf(string ns, string name) => _looks.TryGetValue($"{name}.{ns}", out var look) ? look : null;

    /// <summary>
    /// A look of the judge between ticks (<see cref="CanaryScheduler.LookAsync"/>): it writes only when the look
    /// rolled the canary back. Pending actions, pauses and deletions are left to the next tick.
    /// </summary>
    internal async Task LookAsync(string ns, string name, CancellationToken cancellationToken)
    {
        var got = await _canaries.GetAsync(ns, name, cancellationToken);
        if (!got.Succeeded || got.Value["metadata"]?["deletionTimestamp"] is not null) return;
        var doc = Refused(ManifestReader.ReadNode((JsonObject)got.Value.DeepClone()));
        if (doc.Compiled is not CanaryPolicy policy || doc.Manifest is not Canary { Status: { } status }) return;
        var annotations = policy.Manifest.Metadata.Annotations ?? new Dictionary<string, string>();
        if (annotations.ContainsKey(ActionAnnotation) || annotations.ContainsKey(PausedAnnotation)) return;
        policy = WithDefaultProvider(policy);
        var outcome = await new CanaryScheduler(services(policy)).LookAsync(policy, status, cancellationToken);
        if (outcome.Events.Count == 0 && outcome.Checks.Count == 0) return;
        await WriteStatusAsync(ns, name, outcome.Status, cancellationToken);
        await events.RecordAsync(policy, outcome.Events, cancellationToken);
        metrics.Record(policy, outcome);
        _looks.TryRemove($"{name}.{ns}", out _);
    }

    /// <summary>Reads the action annotation; pause and resume take effect here (the paused annotation) and are cleared.</summary>
    private async Task<ManualAction?> TakeActionAsync(CanaryPolicy policy, IReadOnlyDictionary<string, string> annotations, CancellationToken cancellationToken)
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
            await events.RecordAsync(policy,
                [new CanaryEvent(_time.GetUtcNow(), EventType.Warning, $"Ignoring {ActionAnnotation}: '{text}' is not one of promote, abort, retry, pause, resume")],
                cancellationToken);
            await ClearActionAsync(policy.Namespace, policy.Name, text, cancellationToken);
            return null;
        }
        var action = new ManualAction(kind, who, _time.GetUtcNow());
        if (kind is ManualActionKind.Pause or ManualActionKind.Resume)
        {
            var paused = kind == ManualActionKind.Pause;
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
            await events.RecordAsync(policy, [new CanaryEvent(_time.GetUtcNow(), EventType.Normal, paused
                ? $"Canary {policy.Id} paused by {who}: no analysis until it is resumed"
                : $"Canary {policy.Id} resumed by {who}")], cancellationToken);
        }
        else if (!_announced.TryGetValue(key, out var announced) || announced != $"{text}|{who}")
        {
            // Announced once: an action the scheduler cannot decide yet (e.g. the canary is not ready) stays pending
            // over several ticks, which must not repeat the event each time.
            _announced[key] = $"{text}|{who}";
            await events.RecordAsync(policy,
                [new CanaryEvent(_time.GetUtcNow(), EventType.Normal, $"{char.ToUpperInvariant(action.Verb[0])}{action.Verb[1..]} requested by {who}")],
                cancellationToken);
        }
        return action;
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
            await events.RecordAsync(stub.Policy, [new CanaryEvent(_time.GetUtcNow(), EventType.Warning, message)], cancellationToken);
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

    /// <summary>The loop of one canary.</summary>
    private sealed class Runner(CanaryController owner, string ns, string name)
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Wakeup _wake = new(owner._time);
        private Task? _loop;

        public void Wake() => _wake.Wake();

        public void Start(CancellationToken outer)
        {
            var token = CancellationTokenSource.CreateLinkedTokenSource(outer, _stop.Token).Token;
            _loop = Task.Run(() => LoopAsync(token), CancellationToken.None);
        }

        private async Task LoopAsync(CancellationToken cancellationToken)
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                TimeSpan? next;
                if (!owner._isLeader())
                {
                    next = TimeSpan.FromSeconds(1);
                }
                else
                {
                    try
                    {
                        next = await LeaderTickAsync(cancellationToken);
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        LogTickFailed(owner._logger, $"{name}.{ns}", e);
                        next = TimeSpan.FromSeconds(5);
                    }
                }
                if (next is null) return;
                try
                {
                    await WaitAndLookAsync(next.Value, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        /// <summary>Waits for the next tick; with a judge's look interval, looks on the way (a wake-up ends the wait).</summary>
        private async Task WaitAndLookAsync(TimeSpan wait, CancellationToken cancellationToken)
        {
            while (owner.LookIntervalOf(ns, name) is { } look && look < wait)
            {
                if (await _wake.WaitAsync(look, cancellationToken)) return;
                wait -= look;
                if (!owner._isLeader()) continue;
                try
                {
                    await owner.LookAsync(ns, name, cancellationToken);
                }
                catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
                {
                    LogTickFailed(owner._logger, $"{name}.{ns}", e);
                }
            }
            await _wake.WaitAsync(wait, cancellationToken);
        }

        /// <summary>How often a tick in flight checks that this replica still leads.</summary>
        private static readonly TimeSpan LeadershipPoll = TimeSpan.FromMilliseconds(250);

        /// <summary>
        /// One tick, cancelled as soon as this replica stops leading (a standby may act from then on). The tick's
        /// side effects are idempotent and its status is written in one request, so the new leader simply repeats it.
        /// </summary>
        private async Task<TimeSpan?> LeaderTickAsync(CancellationToken cancellationToken)
        {
            using var term = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var tick = owner.TickAsync(ns, name, term.Token);
            while (!tick.IsCompleted)
            {
                await Task.WhenAny(tick, Task.Delay(LeadershipPoll, owner._time, term.Token));
                if (tick.IsCompleted || owner._isLeader()) continue;
                await term.CancelAsync();
                LogLostLeadership(owner._logger, $"{name}.{ns}");
                break;
            }
            try
            {
                return await tick;
            }
            catch (OperationCanceledException) when (term.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return TimeSpan.FromSeconds(1);
            }
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            if (_loop is not null) await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "{Canary}: {Error}")]
    private static partial void LogApiError(ILogger logger, string canary, string error);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning, Message = "{Canary}: {Message}")]
    private static partial void LogInvalid(ILogger logger, string canary, string message);

    [LoggerMessage(EventId = 4204, Level = LogLevel.Warning, Message = "{Canary}: leadership lost during a tick, the tick was cancelled")]
    private static partial void LogLostLeadership(ILogger logger, string canary);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Error, Message = "tick of {Canary} failed")]
    private static partial void LogTickFailed(ILogger logger, string canary, Exception exception);
}
