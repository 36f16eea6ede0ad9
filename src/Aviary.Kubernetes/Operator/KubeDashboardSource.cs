using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Dashboard;
using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Operator;

/// <summary>
/// The analysis checks of each canary's last ticks, kept in memory by the operator: Kubernetes has no place for them
/// (a Canary's status holds none), so a restarted operator's charts start empty while its events and status remain.
/// </summary>
public sealed class CheckHistory(int perCanary = 600)
{
    private readonly ConcurrentDictionary<string, Queue<AnalysisCheck>> _checks = new(StringComparer.Ordinal);

    public void Record(CanaryPolicy policy, TickOutcome outcome)
    {
        if (outcome.Checks.Count == 0) return;
        var queue = _checks.GetOrAdd(policy.Id, _ => new Queue<AnalysisCheck>());
        lock (queue)
        {
            foreach (var c in outcome.Checks) queue.Enqueue(c);
            while (queue.Count > perCanary) queue.Dequeue();
        }
    }

    public IReadOnlyList<AnalysisCheck> Of(string id)
    {
        if (!_checks.TryGetValue(id, out var queue)) return [];
        lock (queue) return [.. queue];
    }

    public AnalysisCheck? Last(string id)
    {
        if (!_checks.TryGetValue(id, out var queue)) return null;
        lock (queue) return queue.Count > 0 ? queue.Last() : null;
    }
}

/// <summary>
/// The dashboard's view of the cluster: Canary objects (status, annotations), their core/v1 Events, the target's and
/// the primary's pod templates for the diff, the checks the operator kept; actions are the <c>aviary.dev/action</c>
/// annotation the canary loop honours, as `kubectl annotate` would write it.
/// </summary>
public sealed class KubeDashboardSource(KubeClient client, string? watchNamespace, CheckHistory checks) : IDashboardSource
{
    public const int EventLimit = 500;
    private readonly ResourceClient<JsonObject> _canaries = client.Resource(KubeResources.Canaries);

    public async ValueTask<IReadOnlyList<CanarySnapshot>> ListAsync(CancellationToken cancellationToken)
    {
        var list = await _canaries.ListAllAsync(watchNamespace, null, cancellationToken);
        if (!list.Succeeded) throw new KubeApiException(list.Error!);
        return list.Value.Items.Select(Snapshot).OfType<CanarySnapshot>().ToList();
    }

    private CanarySnapshot? Snapshot(JsonObject obj)
    {
        var doc = ManifestReader.ReadNode((JsonObject)obj.DeepClone());
        if (doc.Manifest is not Canary canary) return null;
        var meta = canary.Metadata;
        var ns = meta.Namespace ?? "default";
        var status = canary.Status ?? CanaryStatus.Empty;
        var policy = doc.Compiled as CanaryPolicy;
        var updated = status.LastTransitionTime
            ?? (DateTimeOffset.TryParse(meta.CreationTimestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var created) ? created : DateTimeOffset.MinValue);
        var paused = meta.Annotations?.ContainsKey(CanaryController.PausedAnnotation) == true;
        return new CanarySnapshot(ns, meta.Name, policy, status, updated, paused, checks.Last($"{meta.Name}.{ns}"));
    }

    public async ValueTask<CanaryHistory?> HistoryAsync(string ns, string name, CancellationToken cancellationToken)
    {
        var got = await _canaries.GetAsync(ns, name, cancellationToken);
        if (got.IsNotFound) return null;
        if (!got.Succeeded) throw new KubeApiException(got.Error!);
        var policy = Snapshot(got.Value)?.Policy;
        var listed = await client.Resource(KubeResources.Events).ListAllAsync(ns,
            new ListOptions { FieldSelector = $"involvedObject.kind=Canary,involvedObject.name={name}" }, cancellationToken);
        var events = !listed.Succeeded ? [] : listed.Value.Items
            .Select(e => (Time: Time(e["lastTimestamp"]) ?? Time(e["eventTime"]) ?? Time(e["firstTimestamp"]) ?? DateTimeOffset.MinValue, Event: e))
            .OrderBy(e => e.Time).TakeLast(EventLimit)
            .Select((e, i) => new DashboardEvent(i + 1, e.Time, e.Event["type"]?.GetValue<string>() == "Warning" ? EventType.Warning : EventType.Normal,
                e.Event["reason"]?.GetValue<string>() ?? "", e.Event["message"]?.GetValue<string>() ?? "")).ToList();
        string? primary = null, canary = null;
        if (policy is not null && TargetType(policy.TargetKind) is { } type)
        {
            canary = await TemplateAsync(type, ns, policy.TargetName, cancellationToken);
            primary = await TemplateAsync(type, ns, policy.PrimaryName, cancellationToken);
        }
        return new CanaryHistory(policy is null ? [] : checks.Of(policy.Id), events, primary, canary);
    }

    private static ResourceType? TargetType(string kind) => kind switch
    {
        "Deployment" => KubeResources.Deployments,
        "DaemonSet" => KubeResources.DaemonSets,
        _ => null,
    };

    /// <summary>A workload's pod template as indented JSON, or null when it cannot be read.</summary>
    private async Task<string?> TemplateAsync(ResourceType type, string ns, string name, CancellationToken cancellationToken)
    {
        var got = await client.Resource(type).GetAsync(ns, name, cancellationToken);
        return got.Succeeded && got.Value["spec"]?["template"] is JsonNode template
            ? template.ToJsonString(new JsonSerializerOptions { WriteIndented = true })
            : null;
    }

    private static DateTimeOffset? Time(JsonNode? node) =>
        node?.GetValueKind() == JsonValueKind.String &&
        DateTimeOffset.TryParse(node.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    public async ValueTask<ActionOutcome> RequestAsync(string ns, string name, ManualAction action, CancellationToken cancellationToken)
    {
        var result = await CanaryController.RequestActionAsync(client, ns, name, action.Kind, action.RequestedBy, cancellationToken);
        return result.Succeeded
            ? new ActionOutcome(202, $"annotated {CanaryController.ActionAnnotation}: {action.Verb}; the canary's loop, woken by the change, applies it and says so in its events")
            : new ActionOutcome(result.IsNotFound ? 404 : result.IsForbidden ? 403 : 502, result.Error!.ToString());
    }
}
