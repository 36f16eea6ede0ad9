using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Aviary.Kubernetes.Client;

/// <summary>Query parameters of a list.</summary>
public sealed record ListOptions
{
    /// <summary>e.g. <c>app=podinfo,tier!=db</c>.</summary>
    public string? LabelSelector { get; init; }

    /// <summary>e.g. <c>metadata.name=podinfo</c>.</summary>
    public string? FieldSelector { get; init; }

    /// <summary>
    /// Unset: the latest, read from etcd (consistent). <c>0</c>: whatever the API server's cache has (fast, maybe
    /// stale). Another value: at least as new as it (with <see cref="ResourceVersionMatch"/>).
    /// </summary>
    public string? ResourceVersion { get; init; }

    /// <summary><c>NotOlderThan</c> or <c>Exact</c> (Kubernetes 1.19+), with <see cref="ResourceVersion"/>.</summary>
    public string? ResourceVersionMatch { get; init; }

    /// <summary>Page size; the answer's <c>metadata.continue</c> fetches the next page. Unset: everything at once.</summary>
    public int? Limit { get; init; }

    /// <summary>The continue token of the previous page.</summary>
    public string? Continue { get; init; }

    internal void AppendTo(QueryBuilder query)
    {
        query.Add("labelSelector", LabelSelector);
        query.Add("fieldSelector", FieldSelector);
        query.Add("resourceVersion", ResourceVersion);
        query.Add("resourceVersionMatch", ResourceVersionMatch);
        if (Limit is { } limit) query.Add("limit", limit.ToString(CultureInfo.InvariantCulture));
        query.Add("continue", Continue);
    }
}

/// <summary>Query parameters of one watch connection (<see cref="ResourceClient{T}.WatchAsync"/>).</summary>
public sealed record WatchOptions
{
    public string? LabelSelector { get; init; }

    public string? FieldSelector { get; init; }

    /// <summary>
    /// Events after this version. Unset or <c>0</c>: the server first sends every existing object as ADDED (from its
    /// cache). A version older than the server keeps ends the watch with an ERROR event 410 Expired: list again.
    /// </summary>
    public string? ResourceVersion { get; init; }

    /// <summary>Ask for BOOKMARK events, which only move the resourceVersion forward. Default true.</summary>
    public bool AllowBookmarks { get; init; } = true;

    /// <summary>When the server ends the watch (its <c>timeoutSeconds</c>). Unset: a random time between <see cref="KubeClientOptions.WatchTimeout"/> and twice that.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>What <see cref="ResourceClient{T}.WatchAllAsync"/> watches and where it starts.</summary>
public sealed record WatchAllOptions
{
    public string? LabelSelector { get; init; }

    public string? FieldSelector { get; init; }

    /// <summary>
    /// Resume from this version (e.g. one the caller kept) instead of listing first. When it is too old, the watcher
    /// receives 410 and lists. Unset: list, then watch from the list's version.
    /// </summary>
    public string? ResourceVersion { get; init; }

    /// <summary>When the server ends each watch connection; unset: as <see cref="WatchOptions.Timeout"/>.</summary>
    public TimeSpan? WatchTimeout { get; init; }
}

/// <summary>How dependents are deleted (<c>propagationPolicy</c>).</summary>
public enum PropagationPolicy
{
    /// <summary>Delete the object now; the garbage collector deletes dependents afterwards.</summary>
    Background,

    /// <summary>Delete dependents first; the object stays (with a foregroundDeletion finalizer) until they are gone.</summary>
    Foreground,

    /// <summary>Keep dependents, removing their owner reference.</summary>
    Orphan,
}

/// <summary>The body of a delete (meta/v1 DeleteOptions).</summary>
public sealed record DeleteOptions
{
    /// <summary>Unset: the resource's default (Background for most, Orphan for some legacy kinds).</summary>
    public PropagationPolicy? PropagationPolicy { get; init; }

    /// <summary>Seconds before the object is deleted (Pods); 0 deletes at once.</summary>
    public long? GracePeriodSeconds { get; init; }

    /// <summary>Delete only if the object still has this UID.</summary>
    public string? PreconditionUid { get; init; }

    /// <summary>Delete only if the object still has this resourceVersion (409 Conflict otherwise).</summary>
    public string? PreconditionResourceVersion { get; init; }

    internal string ToJson()
    {
        var body = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "DeleteOptions" };
        if (PropagationPolicy is { } policy) body["propagationPolicy"] = policy.ToString();
        if (GracePeriodSeconds is { } grace) body["gracePeriodSeconds"] = grace;
        if (PreconditionUid is not null || PreconditionResourceVersion is not null)
        {
            var preconditions = new JsonObject();
            if (PreconditionUid is not null) preconditions["uid"] = PreconditionUid;
            if (PreconditionResourceVersion is not null) preconditions["resourceVersion"] = PreconditionResourceVersion;
            body["preconditions"] = preconditions;
        }
        return body.ToJsonString();
    }
}

/// <summary>The kinds of patch the API server accepts.</summary>
public enum PatchType
{
    /// <summary>JSON merge patch (RFC 7386): objects merge, lists are replaced, null deletes.</summary>
    Merge,

    /// <summary>Strategic merge patch: lists with a merge key (containers by name…) merge; built-in kinds only (not custom resources).</summary>
    StrategicMerge,

    /// <summary>JSON patch (RFC 6902): a list of operations (<c>add</c>, <c>remove</c>, <c>replace</c>, <c>test</c>…).</summary>
    Json,

    /// <summary>Server-side apply: the fields this manager owns are set to the given object.</summary>
    Apply,
}

/// <summary>A patch: its type and body.</summary>
public sealed record KubePatch(PatchType Type, string Body, bool Force = false)
{
    /// <summary>A JSON merge patch.</summary>
    public static KubePatch Merge(JsonNode patch) => new(PatchType.Merge, Json(patch));

    /// <summary>
    /// The JSON merge patch (RFC 7386) that turns <paramref name="from"/> into <paramref name="to"/>: changed and new
    /// fields, null for removed ones, arrays whole; null when they are equal.
    /// </summary>
    /// <param name="removeMissing">Whether fields of <paramref name="from"/> missing from <paramref name="to"/> are removed (null).</param>
    public static JsonObject? MergeDiff(JsonObject from, JsonObject to, bool removeMissing = true)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        var diff = new JsonObject();
        foreach (var (key, value) in to)
        {
            if (!from.TryGetPropertyValue(key, out var before)) diff[key] = value?.DeepClone();
            else if (before is JsonObject inner && value is JsonObject next)
            {
                if (MergeDiff(inner, next, removeMissing) is { } changed) diff[key] = changed;
            }
            else if (!JsonNode.DeepEquals(before, value)) diff[key] = value?.DeepClone();
        }
        if (removeMissing)
        {
            foreach (var (key, _) in from)
            {
                if (!to.ContainsKey(key)) diff[key] = null;
            }
        }
        return diff.Count == 0 ? null : diff;
    }

    /// <summary>
    /// The merge patch that takes a stored object (<paramref name="stored"/>, as the server holds it) to
    /// <paramref name="desired"/> when the writer's model of it (<paramref name="modelled"/>: the stored object as the
    /// writer understood it) differs from <paramref name="desired"/>; null when the model did not change. Every field of
    /// <paramref name="desired"/> the server lacks or holds otherwise is written; only fields the model knew are removed,
    /// so fields of other writers, unknown to the model, are kept.
    /// </summary>
    public static JsonObject? ModelChange(JsonObject? stored, JsonObject modelled, JsonObject desired)
    {
        ArgumentNullException.ThrowIfNull(modelled);
        ArgumentNullException.ThrowIfNull(desired);
        if (MergeDiff(modelled, desired) is not { } semantic) return null;
        var patch = MergeDiff(stored ?? new JsonObject(), desired, removeMissing: false) ?? new JsonObject();
        CopyRemovals(semantic, patch);
        return patch;
    }

    private static void CopyRemovals(JsonObject semantic, JsonObject patch)
    {
        foreach (var (key, value) in semantic)
        {
            if (value is null)
            {
                patch[key] = null;
            }
            else if (value is JsonObject inner)
            {
                if (patch.TryGetPropertyValue(key, out var existing) && existing is not JsonObject) continue;
                var target = existing as JsonObject ?? new JsonObject();
                CopyRemovals(inner, target);
                if (existing is null && target.Count > 0) patch[key] = target;
            }
        }
    }

    /// <summary>A strategic merge patch (built-in kinds only).</summary>
    public static KubePatch StrategicMerge(JsonNode patch) => new(PatchType.StrategicMerge, Json(patch));

    /// <summary>A JSON patch from operations such as <c>{"op":"replace","path":"/spec/replicas","value":0}</c>.</summary>
    public static KubePatch JsonPatch(JsonArray operations) => new(PatchType.Json, Json(operations));

    /// <summary>Server-side apply of <paramref name="configuration"/> (apiVersion, kind, metadata.name required); <paramref name="force"/> takes over conflicting fields.</summary>
    public static KubePatch Apply(JsonNode configuration, bool force = false) => new(PatchType.Apply, Json(configuration), force);

    /// <summary>The request's Content-Type.</summary>
    public string ContentType => Type switch
    {
        PatchType.Merge => "application/merge-patch+json",
        PatchType.StrategicMerge => "application/strategic-merge-patch+json",
        PatchType.Json => "application/json-patch+json",
        _ => "application/apply-patch+yaml",
    };

    private static string Json(JsonNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return node.ToJsonString(KubeJson.Options);
    }
}

/// <summary>Builds a query string with escaped values, skipping empty ones.</summary>
internal sealed class QueryBuilder
{
    private readonly StringBuilder _text = new();

    public QueryBuilder Add(string name, string? value)
    {
        if (string.IsNullOrEmpty(value)) return this;
        _text.Append(_text.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        return this;
    }

    public override string ToString() => _text.ToString();
}
