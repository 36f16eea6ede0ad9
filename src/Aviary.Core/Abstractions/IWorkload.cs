using Aviary.Core.Policy;

namespace Aviary.Core.Abstractions;

/// <summary>
/// The primary and canary copies of a canary's target: a Kubernetes Deployment and its <c>-primary</c>, or
/// Aviary-started processes. One implementation per runtime.
/// </summary>
public interface IWorkload
{
    /// <summary>Creates the primary from the target if it does not exist yet (idempotent).</summary>
    ValueTask<Outcome> EnsurePrimaryAsync(CanaryPolicy canary, CancellationToken cancellationToken);

    /// <summary>Reads the target's revision and the readiness of primary and canary.</summary>
    ValueTask<Outcome<WorkloadState>> ObserveAsync(CanaryPolicy canary, CancellationToken cancellationToken);

    /// <summary>Starts the canary (scale up from zero) for analysis.</summary>
    ValueTask<Outcome> ScaleUpCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken);

    /// <summary>Stops the canary (scale to zero), after traffic has left it.</summary>
    ValueTask<Outcome> ScaleDownCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken);

    /// <summary>Copies the canary's template (and configs) to the primary. Idempotent.</summary>
    ValueTask<Outcome> PromoteAsync(CanaryPolicy canary, CancellationToken cancellationToken);

    /// <summary>For <c>revertOnDeletion</c>: gives the target back its replicas so it serves again on its own.</summary>
    ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken);
}

/// <summary>What one observation of the workload found.</summary>
/// <param name="Revision">Hash of the target's template plus the data of the configs it uses.</param>
/// <param name="Primary">Readiness of the primary.</param>
/// <param name="Canary">Readiness of the canary (the target).</param>
/// <param name="TrackedConfigs">Config name to hash, for Flagger's <c>status.trackedConfigs</c>; optional.</param>
/// <param name="PrimaryRevision">The revision the primary runs, when the runtime knows it (it may lag the target while a canary is initialized).</param>
public sealed record WorkloadState(
    string Revision,
    Readiness Primary,
    Readiness Canary,
    IReadOnlyDictionary<string, string>? TrackedConfigs = null,
    string? PrimaryRevision = null);

/// <summary>
/// Readiness of one copy. When not ready, <see cref="WaitingSince"/> tells since when it has been trying, so that
/// the scheduler can apply the progress deadline with its own clock; <see cref="Stalled"/> says the platform
/// itself gave up (Kubernetes' ProgressDeadlineExceeded, a process that cannot start).
/// </summary>
public sealed record Readiness(bool Ready, string? Message = null, DateTimeOffset? WaitingSince = null, bool Stalled = false)
{
    public static Readiness IsReady { get; } = new(true);

    public static Readiness NotReady(string message, DateTimeOffset? since = null, bool stalled = false) =>
        new(false, message, since, stalled);
}
