using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;

namespace Aviary.Dashboard;

/// <summary>A canary as a runtime knows it: its spec (when it is running) and its last persisted status.</summary>
public sealed record CanarySnapshot(
    string Namespace, string Name, CanaryPolicy? Policy, CanaryStatus Status, DateTimeOffset UpdatedAt, bool Paused, AnalysisCheck? LastCheck = null);

/// <summary>An event of one canary; <see cref="Id"/> orders them.</summary>
public sealed record DashboardEvent(long Id, DateTimeOffset Time, EventType Type, string Reason, string Message);

/// <summary>
/// What a canary's page shows beyond its status: the analysis history (oldest first), its latest events (oldest
/// first), and the primary's and the canary's specs as text, for the revision diff.
/// </summary>
public sealed record CanaryHistory(
    IReadOnlyList<AnalysisCheck> Checks, IReadOnlyList<DashboardEvent> Events, string? PrimarySpec, string? CanarySpec);

/// <summary>What became of a requested action.</summary>
/// <param name="Status">202 when queued, else the HTTP status that says why not (404, 409).</param>
public sealed record ActionOutcome(int Status, string Message);

/// <summary>
/// The one thing a runtime implements to be shown on the dashboard: the local controller reads its SQLite store, the
/// operator its Canary objects. Everything the pages derive (steps, timelines, releases, diffs) is the dashboard's.
/// </summary>
public interface IDashboardSource
{
    ValueTask<IReadOnlyList<CanarySnapshot>> ListAsync(CancellationToken cancellationToken);

    ValueTask<CanaryHistory?> HistoryAsync(string ns, string name, CancellationToken cancellationToken);

    /// <summary>Queues <paramref name="action"/> (its <see cref="ManualAction.RequestedBy"/> names the user) for the canary.</summary>
    ValueTask<ActionOutcome> RequestAsync(string ns, string name, ManualAction action, CancellationToken cancellationToken);
}
