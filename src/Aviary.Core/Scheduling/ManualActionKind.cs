namespace Aviary.Core.Scheduling;

/// <summary>
/// What a person (or a tool) can ask of a rollout without editing YAML. The local controller takes them through its
/// API; the Kubernetes operator through the annotation <c>aviary.dev/action: promote|abort|retry|pause|resume</c>.
/// </summary>
public enum ManualActionKind
{
    /// <summary>The current analysis step must pass; then promote at once, skipping the remaining steps and gates.</summary>
    Promote,

    /// <summary>Roll back now.</summary>
    Abort,

    /// <summary>Analyse the same failed revision again, without editing the workload.</summary>
    Retry,

    /// <summary>Freeze the canary, as <c>spec.suspend: true</c> does.</summary>
    Pause,

    /// <summary>Undo <see cref="Pause"/>.</summary>
    Resume,
}
