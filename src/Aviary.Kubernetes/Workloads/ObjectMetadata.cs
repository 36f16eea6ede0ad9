using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;

namespace Aviary.Kubernetes.Workloads;

/// <summary>
/// The metadata rules of what Aviary creates from a target, after Flagger's <c>pkg/canary/util.go</c>: which labels
/// and annotations are copied, the owner reference to the Canary, and the annotations Aviary adds.
/// </summary>
internal static class ObjectMetadata
{
    /// <summary>The revision a primary was promoted from (on the primary and on its pod template, where a change rolls it).</summary>
    public const string RevisionAnnotation = "aviary.dev/revision";

    /// <summary>On a DaemonSet: when Aviary last changed its pod template (UTC), the start of its progress deadline.</summary>
    public const string RolloutStartedAnnotation = "aviary.dev/rollout-started";

    /// <summary>Flagger's random pod annotation that forced a rolling update at each promotion; Aviary uses the revision instead.</summary>
    public const string FlaggerIdAnnotation = "flagger-id";

    /// <summary>Set to a value starting with <c>disable</c> on a ConfigMap or Secret, it is not tracked (nor copied).</summary>
    public const string ConfigTrackingAnnotation = "flagger.app/config-tracking";

    /// <summary>Flux's keys, never copied (Flux would otherwise think it owns the copies).</summary>
    private const string ToolkitMarker = "toolkit.fluxcd.io";

    /// <summary>Keys written by kubectl, the deployment controller and Aviary about the object itself, not copied to the primary.</summary>
    private static readonly HashSet<string> OwnAnnotations = new(StringComparer.Ordinal)
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        RolloutStartedAnnotation,
    };

    public static bool IsToolkit(string key) => key.Contains(ToolkitMarker, StringComparison.Ordinal);

    /// <summary>Flagger's <c>filterMetadata</c>: everything but Flux's keys.</summary>
    public static SortedDictionary<string, string> WithoutToolkit(IEnumerable<KeyValuePair<string, string>> map)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in map)
            if (!IsToolkit(k)) result[k] = v;
        return result;
    }

    /// <summary>Flagger's <c>includeLabelsByPrefix</c>: the keys starting with one of the prefixes (<c>*</c>: all), Flux's excepted.</summary>
    public static SortedDictionary<string, string> IncludedByPrefix(IEnumerable<KeyValuePair<string, string>> map, IReadOnlyList<string> prefixes)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in map)
        {
            if (IsToolkit(k)) continue;
            if (prefixes.Any(p => p == "*" || (p.Length > 0 && k.StartsWith(p, StringComparison.Ordinal)))) result[k] = v;
        }
        return result;
    }

    /// <summary>Flagger's <c>makePrimaryLabels</c>: the labels with the selector label set to the primary's value.</summary>
    public static SortedDictionary<string, string> PrimaryLabels(IEnumerable<KeyValuePair<string, string>> labels, string selectorLabel, string primaryValue)
    {
        var result = WithoutToolkit(labels);
        result[selectorLabel] = primaryValue;
        return result;
    }

    /// <summary>
    /// The primary's own annotations: the target's (Flux's and the target's kubectl/controller bookkeeping excepted)
    /// and the revision. Flagger copies them at creation but filters them by label prefix at promotion (so by
    /// default drops them); Aviary applies the creation rule both times.
    /// </summary>
    public static SortedDictionary<string, string> PrimaryAnnotations(IEnumerable<KeyValuePair<string, string>> targetAnnotations, string revision)
    {
        var result = WithoutToolkit(targetAnnotations);
        foreach (var key in OwnAnnotations) result.Remove(key);
        result[RevisionAnnotation] = revision;
        return result;
    }

    /// <summary>
    /// The primary pod template's annotations: the target's (Flux's and Flagger's random id excepted) and the
    /// revision, which changes when the template or a tracked config changes, so the primary rolls exactly then.
    /// </summary>
    public static SortedDictionary<string, string> PrimaryPodAnnotations(IEnumerable<KeyValuePair<string, string>> templateAnnotations, string revision)
    {
        var result = WithoutToolkit(templateAnnotations);
        result.Remove(FlaggerIdAnnotation);
        result[RevisionAnnotation] = revision;
        return result;
    }

    /// <summary>
    /// The controller reference to the Canary (<c>controller</c> and <c>blockOwnerDeletion</c> true) that every
    /// object Aviary creates carries, so that deleting the Canary deletes them. Fails without the Canary's uid.
    /// </summary>
    public static Outcome<JsonObject> CanaryOwner(CanaryPolicy canary)
    {
        var uid = canary.Manifest.Metadata.Uid;
        if (string.IsNullOrEmpty(uid))
            return Outcome<JsonObject>.Fail($"canary {canary.Id} has no metadata.uid: the objects Aviary creates need it for their owner reference");
        return new JsonObject
        {
            ["apiVersion"] = FlaggerApi.Version,
            ["kind"] = Canary.KindName,
            ["name"] = canary.Name,
            ["uid"] = uid,
            ["controller"] = true,
            ["blockOwnerDeletion"] = true,
        };
    }

    /// <summary>Whether <paramref name="obj"/>'s controller reference is a Canary (any), and whether it is this one.</summary>
    public static (bool ByCanary, bool ByThis) ControlledBy(JsonNode? obj, CanaryPolicy canary)
    {
        if (JsonTree.Array(obj, "metadata", "ownerReferences") is not { } refs) return (false, false);
        foreach (var r in refs)
        {
            if (JsonTree.Bool(r, "controller") != true) continue;
            if (JsonTree.String(r, "kind") != Canary.KindName) return (false, false);
            return (true, JsonTree.String(r, "name") == canary.Name);
        }
        return (false, false);
    }

    /// <summary>
    /// The owner references for a copy: the Canary's controller reference first, then the other owners it already
    /// had (not controllers), as Flagger's config tracker keeps them.
    /// </summary>
    public static JsonArray OwnersWith(JsonObject canaryOwner, JsonNode? existing, CanaryPolicy canary)
    {
        var result = new JsonArray(canaryOwner.DeepClone());
        if (JsonTree.Array(existing, "metadata", "ownerReferences") is not { } refs) return result;
        foreach (var r in refs.OfType<JsonObject>())
        {
            if (JsonTree.String(r, "kind") == Canary.KindName && JsonTree.String(r, "name") == canary.Name) continue;
            var copy = (JsonObject)r.DeepClone();
            copy["controller"] = false;
            result.Add(copy);
        }
        return result;
    }
}
