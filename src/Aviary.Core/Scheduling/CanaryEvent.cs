namespace Aviary.Core.Scheduling;

/// <summary>A canary event, worded as Flagger words it; Kubernetes records it with reason <c>Synced</c>.</summary>
public sealed record CanaryEvent(DateTimeOffset Time, EventType Type, string Message)
{
    public const string Reason = "Synced";
}
