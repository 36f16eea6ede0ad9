namespace Aviary.Core.Scheduling;

/// <summary>Kubernetes' event types: Normal for progress, Warning for what needs attention.</summary>
public enum EventType
{
    Normal,
    Warning,
}
