namespace Aviary.Core.Scheduling;

/// <summary>What became of an action: applied, or refused with the reason (both are also events).</summary>
public sealed record ActionResult(ManualAction Action, bool Applied, string Message);
