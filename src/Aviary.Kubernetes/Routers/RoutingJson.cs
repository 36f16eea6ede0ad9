using Aviary.Core.Primitives;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Routers;

/// <summary>The JSON building blocks every router shares: metadata, owner references, comparison, weights.</summary>
internal static class RoutingJson
{
    /// <summary>
    /// A hash of the spec Aviary last wrote. A reconcile rewrites the spec when the hash differs from what it would
    /// write now, or when the object no longer contains what Aviary wrote (an edit by hand); fields the API server
    /// defaulted are not a difference.
    /// </summary>
    public const string SpecHashAnnotation = "aviary.dev/spec-hash";

    /// <summary>What <c>kubectl apply</c> keeps of the object it applied.</summary>
    public const string KubectlAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

    /// <summary>Flagger's copy of a routing object's spec from before it took the object over (read and written for compatibility).</summary>
    public const string OriginalConfigurationAnnotation = "flagger.kubernetes.io/original-configuration";

    /// <summary>Keeps Flux from reverting an object Aviary manages (as Flagger marks them).</summary>
    public static IReadOnlyDictionary<string, string> FluxOptOut { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["kustomize.toolkit.fluxcd.io/reconcile"] = "disabled",
        ["helm.toolkit.fluxcd.io/driftDetection"] = "disabled",
    };

    /// <summary>The model value as JSON with the client's conventions (camelCase, nulls left out).</summary>
    public static JsonNode? Node<T>(T value) => value is null ? null : JsonSerializer.SerializeToNode(value, KubeJson.Options);

    /// <summary>A controller owner reference to the Canary, or null when the manifest has no uid (not read from an API server).</summary>
    public static JsonObject? OwnerReference(CanaryPolicy canary) =>
        Workloads.ObjectMetadata.CanaryOwner(canary) is { Succeeded: true } owner ? owner.Value : null;

    /// <summary>
    /// A new object of <paramref name="type"/> owned by the canary, in its namespace; a cluster-scoped object has neither
    /// (a namespaced owner cannot own it).
    /// </summary>
    public static JsonObject NewObject(ResourceType type, string name, CanaryPolicy canary, IReadOnlyDictionary<string, string>? labels,
        IReadOnlyDictionary<string, string>? annotations, JsonNode spec, string specField = "spec")
    {
        var metadata = new JsonObject { ["name"] = name };
        if (type.Namespaced) metadata["namespace"] = canary.Namespace;
        if (labels is { Count: > 0 }) metadata["labels"] = Strings(labels);
        if (annotations is { Count: > 0 }) metadata["annotations"] = Strings(annotations);
        if (type.Namespaced && OwnerReference(canary) is { } owner) metadata["ownerReferences"] = new JsonArray(owner);
        return new JsonObject
        {
            ["apiVersion"] = type.ApiVersion,
            ["kind"] = type.Kind,
            ["metadata"] = metadata,
            [specField] = spec,
        };
    }

    /// <summary>
    /// Sets <paramref name="labels"/> and <paramref name="annotations"/> on the object (keeping every other label and
    /// annotation) and adds the canary's owner reference when it is missing (unless <paramref name="owned"/> is false:
    /// a cluster-scoped object). True when something changed.
    /// </summary>
    public static bool MergeMetadata(JsonObject value, CanaryPolicy canary, IReadOnlyDictionary<string, string>? labels,
        IReadOnlyDictionary<string, string>? annotations, bool owned = true)
    {
        var metadata = value["metadata"] as JsonObject ?? [];
        value["metadata"] = metadata;
        var changed = SetAll(metadata, "labels", labels);
        changed |= SetAll(metadata, "annotations", annotations);
        if (owned && OwnerReference(canary) is { } owner)
        {
            var owners = metadata["ownerReferences"] as JsonArray;
            if (owners is null || !owners.Any(o => Text(o?["uid"]) == Text(owner["uid"])))
            {
                owners ??= [];
                owners.Add(owner);
                metadata["ownerReferences"] = owners;
                changed = true;
            }
        }
        return changed;
    }

    /// <summary>
    /// The labels and annotations of a user's object that a copy of it carries: every string value, without kubectl's
    /// record of the user's own object and without the annotations <paramref name="exclude"/> names.
    /// </summary>
    public static (Dictionary<string, string> Labels, Dictionary<string, string> Annotations) UserMetadata(JsonObject value, Func<string, bool>? exclude = null)
    {
        static Dictionary<string, string> Read(JsonNode? node, Func<string, bool> keep) =>
            (node as JsonObject ?? []).Select(kv => (kv.Key, Value: Text(kv.Value)))
                .Where(kv => kv.Value is not null && keep(kv.Key))
                .ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.Ordinal);
        return (Read(value["metadata"]?["labels"], _ => true),
            Read(value["metadata"]?["annotations"], k => k != KubectlAnnotation && exclude?.Invoke(k) != true));
    }

    /// <summary>Removes annotations; true when one was there.</summary>
    public static bool RemoveAnnotations(JsonObject value, params string[] keys)
    {
        if (value["metadata"]?["annotations"] is not JsonObject annotations) return false;
        var changed = false;
        foreach (var key in keys) changed |= annotations.Remove(key);
        return changed;
    }

    public static string? Annotation(JsonObject value, string key) => Text(value["metadata"]?["annotations"]?[key]);

    /// <summary>
    /// True when <paramref name="actual"/> has everything <paramref name="desired"/> has: objects may have more
    /// properties (server defaults), arrays must have the same length, values must be equal (numbers by value).
    /// </summary>
    public static bool Contains(JsonNode? actual, JsonNode? desired)
    {
        switch (desired)
        {
            case null:
                return true;
            case JsonObject d:
                if (actual is not JsonObject a) return false;
                foreach (var (key, value) in d)
                {
                    if (value is null) continue;
                    if (!a.TryGetPropertyValue(key, out var other) || !Contains(other, value)) return false;
                }
                return true;
            case JsonArray list:
                if (actual is not JsonArray items || items.Count != list.Count) return false;
                for (var i = 0; i < list.Count; i++)
                {
                    if (!Contains(items[i], list[i])) return false;
                }
                return true;
            default:
                if (actual is not JsonValue av || desired is not JsonValue dv) return false;
                if (av.GetValueKind() == JsonValueKind.Number && dv.GetValueKind() == JsonValueKind.Number)
                    return Number(av) == Number(dv);
                return JsonNode.DeepEquals(av, dv);
        }
    }

    /// <summary>A short hash of a spec (its JSON as built, properties in the order written).</summary>
    public static string Hash(JsonNode spec)
    {
        return Hashing.Sha256(spec.ToJsonString());
    }

    /// <summary>
    /// The object to write so that it has <paramref name="spec"/>, the metadata and the owner reference, starting from
    /// <paramref name="current"/> (a new object when null); null when <paramref name="current"/> already has them all.
    /// </summary>
    public static JsonObject? Desire(ResourceType type, string name, CanaryPolicy canary, JsonObject? current, JsonObject spec,
        IReadOnlyDictionary<string, string>? labels, IReadOnlyDictionary<string, string>? annotations, string specField = "spec")
    {
        var hash = Hash(spec);
        var allAnnotations = new Dictionary<string, string>(annotations ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            [SpecHashAnnotation] = hash,
        };
        if (current is null) return NewObject(type, name, canary, labels, allAnnotations, spec, specField);
        var next = (JsonObject)current.DeepClone();
        var specChanged = Annotation(current, SpecHashAnnotation) != hash || !Contains(current[specField], spec);
        var changed = MergeMetadata(next, canary, labels, allAnnotations, type.Namespaced);
        if (specChanged) next[specField] = spec.DeepClone();
        return changed || specChanged ? next : null;
    }

    /// <summary>A whole number from a JSON number or a string of digits (an int-or-string or SMI v1alpha1 quantity).</summary>
    public static int? Integer(JsonNode? node)
    {
        if (node is not JsonValue value) return null;
        switch (value.GetValueKind())
        {
            case JsonValueKind.Number:
                var d = Number(value);
                return d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue ? (int)d : null;
            case JsonValueKind.String:
                return int.TryParse(value.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;
            default:
                return null;
        }
    }

    /// <summary>
    /// A JSON number as a double, whether it was parsed (a JsonElement) or built from a CLR value such as an int
    /// (<c>GetValue&lt;double&gt;</c> throws for those).
    /// </summary>
    public static double Number(JsonValue value) =>
        value.TryGetValue<double>(out var d) ? d : double.Parse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    public static string? Text(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    public static JsonObject Strings(IEnumerable<KeyValuePair<string, string>> values)
    {
        var o = new JsonObject();
        foreach (var (k, v) in values) o[k] = v;
        return o;
    }

    public static JsonArray Array(IEnumerable<JsonNode?> items)
    {
        var a = new JsonArray();
        foreach (var i in items) a.Add(i);
        return a;
    }

    /// <summary>Merges dictionaries; later ones win.</summary>
    public static Dictionary<string, string> Merge(params IReadOnlyDictionary<string, string>?[] maps)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var map in maps)
        {
            if (map is null) continue;
            foreach (var (k, v) in map) result[k] = v;
        }
        return result;
    }

    /// <summary>A regular expression (RE2 syntax, full match) for a prefix or suffix match.</summary>
    public static string PrefixRegex(string prefix) => Escape(prefix) + ".*";

    public static string SuffixRegex(string suffix) => ".*" + Escape(suffix);

    // RE2 and .NET agree on the metacharacters escaped here.
    private static string Escape(string text)
    {
        var b = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if ("\\.+*?()|[]{}^$".Contains(c, StringComparison.Ordinal)) b.Append('\\');
            b.Append(c);
        }
        return b.ToString();
    }

    private static bool SetAll(JsonObject metadata, string field, IReadOnlyDictionary<string, string>? values)
    {
        if (values is not { Count: > 0 }) return false;
        var target = metadata[field] as JsonObject;
        var changed = false;
        if (target is null)
        {
            target = [];
            metadata[field] = target;
        }
        foreach (var (k, v) in values)
        {
            if (Text(target[k]) == v) continue;
            target[k] = v;
            changed = true;
        }
        return changed;
    }
}

/// <summary>Checks every router makes before writing.</summary>
internal static class RouterChecks
{
    /// <summary>Why <paramref name="weights"/> cannot be written, or null.</summary>
    public static string? InvalidWeights(CanaryPolicy canary, RouteWeights weights) =>
        weights.Primary is < 0 or > 100 || weights.Canary is < 0 or > 100 || weights.Primary + weights.Canary != 100
            ? $"cannot route {canary.Id}: weights {weights} do not add up to 100"
            : null;

    /// <summary>
    /// For routers that match requests by headers and query parameters only (Contour, Gloo): why an <c>analysis.match</c>
    /// entry cannot be routed (source labels, or nothing to match), or null; also requires <c>service.port</c>.
    /// </summary>
    public static string? HeaderOrQueryMatches(CanaryPolicy canary, string provider)
    {
        if (canary.ServicePort is null) return $"cannot route {canary.Id}: the {provider} router needs spec.service.port";
        for (var i = 0; i < canary.Match.Count; i++)
        {
            var match = canary.Match[i];
            if (match.SourceLabels is { Count: > 0 })
                return $"cannot route {canary.Id}: spec.analysis.match[{i}].sourceLabels: A/B testing by source labels is not supported by the {provider} router";
            if (match.Headers is not { Count: > 0 } && match.QueryParams is not { Count: > 0 })
                return $"cannot route {canary.Id}: spec.analysis.match[{i}]: the {provider} router needs a header or query parameter to match";
        }
        return null;
    }

    /// <summary>The weights read, or everything to the primary when they could not be read (a reconcile repairs the object).</summary>
    public static RouteWeights OrAllPrimary(Outcome<RouteWeights> read) => read.Succeeded ? read.Value : RouteWeights.AllPrimary;
}
