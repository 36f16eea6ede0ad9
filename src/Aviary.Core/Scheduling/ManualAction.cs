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

/// <summary>A requested action, with who asked and when (both go into the events).</summary>
public sealed record ManualAction(ManualActionKind Kind, string RequestedBy, DateTimeOffset RequestedAt)
{
    public static bool TryParse(string text, out ManualActionKind kind) =>
        Enum.TryParse(text, ignoreCase: true, out kind) && Enum.IsDefined(kind) && !int.TryParse(text, out _);

    public string Verb => Kind.ToString().ToLowerInvariant();
}

/// <summary>What became of an action: applied, or refused with the reason (both are also events).</summary>
public sealed record ActionResult(ManualAction Action, bool Applied, string Message);
