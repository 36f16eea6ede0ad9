using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.Core.Scheduling;
using Aviary.Dashboard;
using Aviary.Local.Store;
using Aviary.Local.Workloads;

namespace Aviary.Local.Controller;

/// <summary>The dashboard's view of the local controller: its SQLite store, its running canaries and their workloads.</summary>
internal sealed class LocalDashboardSource(LocalController controller) : IDashboardSource
{
    public const int EventLimit = 500;
    public const int CheckLimit = 600;

    public ValueTask<IReadOnlyList<CanarySnapshot>> ListAsync(CancellationToken cancellationToken)
    {
        var running = controller.Running.ToDictionary(p => p.Id, StringComparer.Ordinal);
        var store = controller.Store;
        IReadOnlyList<CanarySnapshot> list = store.ListCanaries().Select(c => new CanarySnapshot(c.Namespace, c.Name,
            running.GetValueOrDefault(c.Key), c.Status, c.UpdatedAt, store.IsPaused(c.Key), Check(store.Checks(c.Key, 1).FirstOrDefault()))).ToList();
        return ValueTask.FromResult(list);
    }

    public ValueTask<CanaryHistory?> HistoryAsync(string ns, string name, CancellationToken cancellationToken)
    {
        var key = ManifestSnapshot.Key(name, ns);
        var store = controller.Store;
        if (store.ListCanaries().All(c => c.Key != key)) return ValueTask.FromResult<CanaryHistory?>(null);
        var checks = store.Checks(key, CheckLimit).Select(c => Check(c)!).ToList();
        var events = store.RecentEvents(key, EventLimit).Select(e => new DashboardEvent(e.Id, e.Time, e.Type, e.Reason, e.Message)).ToList();
        string? primary = null, canary = null;
        if (store.LoadPrimary(key) is { } record && WorkloadRevision.Deserialize(record.TemplateJson) is { } primaryTemplate)
            primary = JsonSerializer.Serialize(primaryTemplate, ModelJson.Indented);
        if (controller.Running.FirstOrDefault(p => p.Id == key) is { } policy &&
            controller.Manifests.Workloads.GetValueOrDefault(ManifestSnapshot.Key(policy.TargetName, policy.Namespace)) is { } target)
            canary = JsonSerializer.Serialize(target.Template, ModelJson.Indented);
        return ValueTask.FromResult<CanaryHistory?>(new CanaryHistory(checks, events, primary, canary));
    }

    public ValueTask<ActionOutcome> RequestAsync(string ns, string name, ManualAction action, CancellationToken cancellationToken)
    {
        var key = ManifestSnapshot.Key(name, ns);
        if (!controller.Running.Any(p => p.Id == key))
            return ValueTask.FromResult(new ActionOutcome(404, $"canary {ns}/{name} is not running in this controller"));
        controller.Request(key, action);
        return ValueTask.FromResult(new ActionOutcome(202, "queued; the canary's next tick, run now, applies it and says so in its events"));
    }

    private static AnalysisCheck? Check(StoredCheck? c) => c is null ? null :
        new AnalysisCheck(c.Time, c.Kind, c.Name, c.Value, c.Min, c.Max, c.Result, c.Message) { Details = c.Details };
}
