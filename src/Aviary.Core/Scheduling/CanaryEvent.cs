using Aviary.Core.Policy;

namespace Aviary.Core.Scheduling;

public enum EventType
{
    Normal,
    Warning,
}

/// <summary>A canary event, worded as Flagger words it; Kubernetes records it with reason <c>Synced</c>.</summary>
public sealed record CanaryEvent(DateTimeOffset Time, EventType Type, string Message)
{
    public const string Reason = "Synced";
}

public enum CheckResult
{
    Pass,
    Fail,
    NoData,
    Error,
}

/// <summary>One check of one analysis tick, with its value: the analysis history.</summary>
/// <param name="Kind"><c>metric</c>, <c>webhook</c> or <c>judge</c>.</param>
/// <param name="Value">The measured value (percent, milliseconds, or the query's unit); the HTTP status for a webhook.</param>
public sealed record AnalysisCheck(
    DateTimeOffset Time,
    string Kind,
    string Name,
    double? Value,
    double? Min,
    double? Max,
    CheckResult Result,
    string? Message)
{
    /// <summary>Named numbers behind the check (the judge's estimates per arm, bounds and evidence), for people and metrics.</summary>
    public IReadOnlyDictionary<string, double>? Details { get; init; }
}

/// <summary>What one tick did: the new status, the events and checks it recorded, and the weights it left.</summary>
public sealed record TickOutcome(
    Model.CanaryStatus Status,
    IReadOnlyList<CanaryEvent> Events,
    IReadOnlyList<AnalysisCheck> Checks,
    Abstractions.RouteWeights? Routes,
    IReadOnlyList<Abstractions.Alert> Alerts)
{
    public bool Promoted => Status.Phase == Model.CanaryPhase.Succeeded;

    /// <summary>What became of the manual action given to the tick; null when it is still pending (or there was none).</summary>
    public ActionResult? Action { get; init; }
}

/// <summary>The services a tick observes and acts through.</summary>
public sealed record SchedulerServices(
    Abstractions.IWorkload Workload,
    Abstractions.IRouter Router,
    Abstractions.IMetricProvider Metrics,
    Abstractions.IWebhookClient Webhooks,
    Abstractions.INotifier Notifier,
    TimeProvider Time,
    Abstractions.IArmCounters? Arms = null);

/// <summary>Canary weight stepping, Flagger's rules with the overshoot fixed.</summary>
public static class WeightPlan
{
    /// <summary>The increment from <paramref name="canaryWeight"/> to the next step (Flagger's nextStepWeight).</summary>
    public static int NextStep(CanaryPolicy policy, int canaryWeight)
    {
        var steps = policy.StepWeights;
        if (policy.StepWeight > 0 || steps.Count == 0) return policy.StepWeight;
        var maxStep = 100 - canaryWeight;
        if (maxStep == 0) return 1;
        if (canaryWeight == 0) return Math.Min(maxStep, steps[0]);
        for (var i = 0; i < steps.Count - 1; i++)
            if (steps[i] == canaryWeight) return Math.Min(maxStep, steps[i + 1] - canaryWeight);
        // Not on a step (the spec changed mid-rollout): go to the next step above.
        var next = steps.FirstOrDefault(s => s > canaryWeight);
        return next > 0 ? next - canaryWeight : maxStep;
    }

    /// <summary>The next canary weight, never above the maximum (Flagger overshoots: step 20, max 50 gives 60).</summary>
    public static int NextWeight(CanaryPolicy policy, int canaryWeight) =>
        Math.Min(canaryWeight + NextStep(policy, canaryWeight), policy.EffectiveMaxWeight);
}
