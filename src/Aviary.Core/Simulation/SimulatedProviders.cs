using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Primitives;

namespace Aviary.Core.Simulation;

/// <summary>A workload whose revision and readiness follow a scenario, tick by tick.</summary>
public sealed class SimulatedWorkload(Scenario scenario, TimeProvider time) : IWorkload
{
    private int _revision;
    private bool _canaryUp;
    private DateTimeOffset? _canaryUnreadySince;
    private DateTimeOffset? _primaryUnreadySince;

    /// <summary>The current tick; set by the simulator before each tick.</summary>
    public int Tick { get; set; }

    public string Revision => Hashing.Fnv32aHex($"revision-{_revision}");
    public string PrimaryRevision { get; private set; } = Hashing.Fnv32aHex("revision-0");
    public bool CanaryRunning => _canaryUp;
    public int Promotions { get; private set; }

    /// <summary>Gives the target a new revision (the simulator's <c>kubectl set image</c>).</summary>
    public void NewRevision() => _revision++;

    public ValueTask<Outcome> EnsurePrimaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => ValueTask.FromResult(Outcome.Ok);

    public ValueTask<Outcome<WorkloadState>> ObserveAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var primaryReady = At(scenario.Ready?.Primary, Tick, true);
        _primaryUnreadySince = primaryReady ? null : _primaryUnreadySince ?? now;
        var canaryReady = !_canaryUp || At(scenario.Ready?.Canary, Tick, true);
        _canaryUnreadySince = canaryReady ? null : _canaryUnreadySince ?? now;
        var state = new WorkloadState(
            Revision,
            primaryReady ? Readiness.IsReady : Readiness.NotReady("waiting for rollout to finish: 0 of 1 updated replicas are available", _primaryUnreadySince),
            canaryReady ? Readiness.IsReady : Readiness.NotReady("waiting for rollout to finish: 0 of 1 updated replicas are available", _canaryUnreadySince),
            PrimaryRevision: PrimaryRevision);
        return ValueTask.FromResult(Outcome<WorkloadState>.Ok(state));
    }

    public ValueTask<Outcome> ScaleUpCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        _canaryUp = true;
        return ValueTask.FromResult(Outcome.Ok);
    }

    public ValueTask<Outcome> ScaleDownCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        _canaryUp = false;
        _canaryUnreadySince = null;
        return ValueTask.FromResult(Outcome.Ok);
    }

    public ValueTask<Outcome> PromoteAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        if (PrimaryRevision != Revision) Promotions++;
        PrimaryRevision = Revision;
        return ValueTask.FromResult(Outcome.Ok);
    }

    public ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        _canaryUp = true;
        return ValueTask.FromResult(Outcome.Ok);
    }

    internal static T At<T>(IReadOnlyList<T>? values, int index, T fallback) =>
        values is null || values.Count == 0 ? fallback : values[Math.Min(index, values.Count - 1)];
}

/// <summary>A router that keeps weights in memory.</summary>
public sealed class SimulatedRouter : IRouter
{
    public RouteWeights Weights { get; private set; } = RouteWeights.AllPrimary;

    public ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken) => ValueTask.FromResult(Outcome.Ok);

    public ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Outcome<RouteWeights>.Ok(Weights));

    public ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        Weights = weights;
        return ValueTask.FromResult(Outcome.Ok);
    }

    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        Weights = RouteWeights.AllPrimary;
        return ValueTask.FromResult(Outcome.Ok);
    }
}

/// <summary>Metrics that answer from a scenario: one value per query, the last repeating; passing values by default.</summary>
public sealed class ScriptedMetrics(Scenario scenario) : IMetricProvider
{
    private readonly Dictionary<string, int> _calls = new(StringComparer.Ordinal);

    public ValueTask<MetricSample> QueryAsync(CanaryPolicy canary, MetricCheck metric, CancellationToken cancellationToken)
    {
        var n = _calls.GetValueOrDefault(metric.Name);
        _calls[metric.Name] = n + 1;
        if (scenario.Metrics?.TryGetValue(metric.Name, out var values) is not true || values.Count == 0)
            return ValueTask.FromResult(MetricSample.Of(Passing(metric), "simulated"));
        var node = values[Math.Min(n, values.Count - 1)];
        return ValueTask.FromResult(node.TryGetNumber(out var v)
            ? MetricSample.Of(v, "simulated")
            : MetricSample.NoData("the scenario has no value for this tick", "simulated"));
    }

    /// <summary>A value inside the metric's range.</summary>
    public static double Passing(MetricCheck metric) => metric switch
    {
        { Name: MetricCheck.RequestSuccessRate, TemplateRef: null, Query: null } => 100,
        { Min: { } min, Max: { } max } => (min + max) / 2,
        { Min: { } min } => min,
        { Max: { } max } => max / 2,
        _ => 0,
    };
}

/// <summary>Webhooks that answer from a scenario: one HTTP status per call, the last repeating; 200 by default.</summary>
public sealed class ScriptedWebhooks(Scenario scenario) : IWebhookClient
{
    private readonly Dictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly List<(WebhookCheck Hook, WebhookPayload Payload, WebhookResult Result)> _log = [];

    /// <summary>Every call in order, with its payload and answer.</summary>
    public IReadOnlyList<(WebhookCheck Hook, WebhookPayload Payload, WebhookResult Result)> Log => _log;

    public ValueTask<WebhookResult> CallAsync(WebhookCheck hook, WebhookPayload payload, CancellationToken cancellationToken)
    {
        var n = _calls.GetValueOrDefault(hook.Name);
        _calls[hook.Name] = n + 1;
        IReadOnlyList<int>? statuses = null;
        scenario.Webhooks?.TryGetValue(hook.Name, out statuses);
        var status = SimulatedWorkload.At(statuses, n, 200);
        var result = WebhookResult.FromStatus(status, status is >= 200 and < 300 ? null : "simulated answer");
        _log.Add((hook, payload, result));
        return ValueTask.FromResult(result);
    }
}

/// <summary>A notifier that keeps what it is sent.</summary>
public sealed class RecordingNotifier : INotifier
{
    private readonly List<(NamedReference? Provider, Alert Alert)> _sent = [];

    public IReadOnlyList<(NamedReference? Provider, Alert Alert)> Sent => _sent;

    public ValueTask PostAsync(NamedReference? provider, Alert alert, CancellationToken cancellationToken)
    {
        _sent.Add((provider, alert));
        return ValueTask.CompletedTask;
    }
}
