namespace Aviary.Core.Scheduling;

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
