using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;

namespace Aviary.Core.Simulation;

/// <summary>One simulated tick: the state after it and what it recorded.</summary>
public sealed record SimulatedTick(
    int Tick,
    DateTimeOffset Time,
    CanaryStatus Status,
    RouteWeights Routes,
    IReadOnlyList<CanaryEvent> Events,
    IReadOnlyList<AnalysisCheck> Checks,
    IReadOnlyList<Alert> Alerts,
    bool NewRevision);

public enum SimulationResult
{
    Succeeded,
    Failed,
    OutOfTicks,
}

/// <summary>
/// Runs the real scheduler against a simulated workload, router, metrics and webhooks in virtual time:
/// a whole rollout in milliseconds. Tick 0 initializes; the workload changes at the scenario's revision ticks.
/// </summary>
public sealed class Simulator(CanaryPolicy policy, Scenario scenario)
{
    public const int DefaultTicks = 100;

    public VirtualClock Clock { get; } = new();
    public SimulatedRouter Router { get; } = new();
    public ScriptedWebhooks Webhooks { get; } = new(scenario);
    public RecordingNotifier Notifier { get; } = new();

    public async IAsyncEnumerable<SimulatedTick> RunAsync(
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var workload = new SimulatedWorkload(scenario, Clock);
        var scheduler = new CanaryScheduler(new SchedulerServices(workload, Router, new ScriptedMetrics(scenario), Webhooks, Notifier, Clock));
        var revisions = (scenario.Revisions ?? [1]).ToHashSet();
        var lastRevision = revisions.Count == 0 ? -1 : revisions.Max();
        var ticks = scenario.Ticks ?? DefaultTicks;
        var status = CanaryStatus.Empty;
        for (var tick = 0; tick < ticks; tick++)
        {
            workload.Tick = tick;
            var bumped = revisions.Contains(tick);
            if (bumped) workload.NewRevision();
            var outcome = await scheduler.TickAsync(policy, status, cancellationToken);
            status = outcome.Status;
            yield return new SimulatedTick(tick, Clock.GetUtcNow(), status, Router.Weights, outcome.Events, outcome.Checks, outcome.Alerts, bumped);
            Result = Classify(status);
            if (tick >= lastRevision && status.LastAppliedSpec == workload.Revision && Result is not SimulationResult.OutOfTicks) yield break;
            Clock.Advance(policy.Interval);
        }
        Result = SimulationResult.OutOfTicks;
    }

    /// <summary>How the run ended; valid once <see cref="RunAsync"/> has finished.</summary>
    public SimulationResult Result { get; private set; } = SimulationResult.OutOfTicks;

    private SimulationResult Classify(CanaryStatus status) => status.Phase switch
    {
        CanaryPhase.Succeeded => SimulationResult.Succeeded,
        CanaryPhase.Failed => SimulationResult.Failed,
        // With no new revision to come, a canary that has initialized has nothing more to do.
        CanaryPhase.Initialized when (scenario.Revisions ?? [1]).Count == 0 => SimulationResult.Succeeded,
        _ => SimulationResult.OutOfTicks,
    };
}
