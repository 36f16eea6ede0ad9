using Aviary.Core.Primitives;
using System.Text;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Workloads;

/// <summary>A ConfigMap or Secret the target's pods use, with the checksum of its data.</summary>
/// <param name="IsSecret">Secret, else ConfigMap.</param>
/// <param name="Name">Its name (the primary uses <c>{Name}-primary</c>).</param>
/// <param name="Checksum">Flagger's checksum of its data (first 8 bytes of SHA-256 of Go's JSON of the map, in hex).</param>
/// <param name="Source">The object as read.</param>
internal sealed record TrackedConfig(bool IsSecret, string Name, string Checksum, JsonObject Source)
{
    /// <summary>The key of Flagger's <c>status.trackedConfigs</c>: <c>configmap/{name}</c> or <c>secret/{name}</c>.</summary>
    public string Key => (IsSecret ? "secret/" : "configmap/") + Name;

    public string PrimaryName => Name + "-primary";
}

/// <summary>
/// Flagger's config tracker (<c>pkg/canary/config_tracker.go</c>): finds the ConfigMaps and Secrets a pod template
/// references (volumes, projected volumes, <c>env[].valueFrom</c> and <c>envFrom</c> of containers and init
/// containers), checksums their data, keeps <c>-primary</c> copies of them owned by the Canary, and rewrites the
/// references of the primary's template to the copies. Skipped: configs annotated
/// <c>flagger.app/config-tracking: disabled</c>, Secrets of types other than Opaque, basic-auth, ssh-auth and tls
/// (registry credentials belong to ServiceAccounts), and optional references to configs that do not exist.
/// </summary>
internal sealed class ConfigTracker(KubeClient client, WorkloadOptions options, ILogger logger)
{
    private static readonly HashSet<string> TrackedSecretTypes = new(StringComparer.Ordinal)
    {
        "", "Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls",
    };

    /// <summary>The configs <paramref name="podSpec"/> uses, ordered by key; fails when a required one cannot be read.</summary>
    public async Task<Outcome<IReadOnlyList<TrackedConfig>>> ScanAsync(CanaryPolicy canary, JsonObject? podSpec, CancellationToken cancellationToken)
    {
        var references = References(podSpec);
        var result = new List<TrackedConfig>();
        foreach (var ((isSecret, name), required) in references.OrderBy(r => r.Key.IsSecret).ThenBy(r => r.Key.Name, StringComparer.Ordinal))
        {
            var kind = isSecret ? "secret" : "configmap";
            var read = await client.Resource(isSecret ? KubeResources.Secrets : KubeResources.ConfigMaps)
                .GetAsync(canary.Namespace, name, cancellationToken).ConfigureAwait(false);
            if (!read.Succeeded)
            {
                if (required || !read.IsNotFound)
                    return Outcome<IReadOnlyList<TrackedConfig>>.Fail($"{kind} {name}.{canary.Namespace} get query error: {read.Error!.Message}");
                WorkloadLog.OptionalConfigMissing(logger, kind, name, canary.Namespace);
                continue;
            }
            var config = read.Value;
            var annotations = JsonTree.Map(JsonTree.Object(config, "metadata", "annotations"));
            if (annotations.TryGetValue(ObjectMetadata.ConfigTrackingAnnotation, out var tracking) && tracking.StartsWith("disable", StringComparison.Ordinal))
                continue;
            if (isSecret && !TrackedSecretTypes.Contains(JsonTree.String(config, "type") ?? "")) continue;
            result.Add(new TrackedConfig(isSecret, name, Checksum(config), config));
        }
        return result;
    }

    /// <summary>Creates or updates the <c>-primary</c> copy of each config (data, type, labels by prefix, owner references).</summary>
    public async Task<Outcome> SyncPrimaryCopiesAsync(CanaryPolicy canary, IReadOnlyList<TrackedConfig> configs, JsonObject owner,
        CancellationToken cancellationToken)
    {
        foreach (var config in configs)
        {
            var kind = config.IsSecret ? "secret" : "configmap";
            var resource = client.Resource(config.IsSecret ? KubeResources.Secrets : KubeResources.ConfigMaps);
            var existing = await resource.GetAsync(canary.Namespace, config.PrimaryName, cancellationToken).ConfigureAwait(false);
            if (!existing.Succeeded && !existing.IsNotFound)
                return Outcome.Fail($"{kind} {config.PrimaryName}.{canary.Namespace} get query failed: {existing.Error!.Message}");

            var desired = Copy(canary, config, owner, existing.Succeeded ? existing.Value : null);
            if (!existing.Succeeded)
            {
                var created = await resource.CreateAsync(desired, cancellationToken).ConfigureAwait(false);
                if (!created.Succeeded && !created.IsAlreadyExists)
                    return Outcome.Fail($"creating {kind} {config.PrimaryName}.{canary.Namespace} failed: {created.Error!.Message}");
                WorkloadLog.ConfigSynced(logger, kind, config.PrimaryName, canary.Namespace);
                continue;
            }

            var current = existing.Value;
            if (SameCopy(current, desired)) continue;
            if (config.IsSecret && JsonTree.String(current, "type") != JsonTree.String(desired, "type"))
            {
                // A Secret's type cannot change: replace the copy.
                var deleted = await resource.DeleteAsync(canary.Namespace, config.PrimaryName, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!deleted.Succeeded && !deleted.IsNotFound)
                    return Outcome.Fail($"replacing {kind} {config.PrimaryName}.{canary.Namespace} failed: {deleted.Error!.Message}");
                var recreated = await resource.CreateAsync(desired, cancellationToken).ConfigureAwait(false);
                if (!recreated.Succeeded)
                    return Outcome.Fail($"creating {kind} {config.PrimaryName}.{canary.Namespace} failed: {recreated.Error!.Message}");
            }
            else
            {
                var updated = await resource.UpdateWithRetryAsync(canary.Namespace, config.PrimaryName, now =>
                {
                    var next = Copy(canary, config, owner, now);
                    if (SameCopy(now, next)) return null;
                    var write = (JsonObject)now.DeepClone();
                    foreach (var field in new[] { "data", "binaryData", "type", "immutable" })
                    {
                        write.Remove(field);
                        if (next[field] is { } value) write[field] = value.DeepClone();
                    }
                    var meta = JsonTree.Ensure(write, "metadata");
                    meta["labels"] = next["metadata"]!["labels"]!.DeepClone();
                    meta["ownerReferences"] = next["metadata"]!["ownerReferences"]!.DeepClone();
                    return write;
                }, cancellationToken).ConfigureAwait(false);
                if (!updated.Succeeded)
                    return Outcome.Fail($"updating {kind} {config.PrimaryName}.{canary.Namespace} failed: {updated.Error!.Message}");
            }
            WorkloadLog.ConfigSynced(logger, kind, config.PrimaryName, canary.Namespace);
        }
        return Outcome.Ok;
    }

    private JsonObject Copy(CanaryPolicy canary, TrackedConfig config, JsonObject owner, JsonObject? existing)
    {
        var source = config.Source;
        var copy = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = config.IsSecret ? "Secret" : "ConfigMap",
            ["metadata"] = new JsonObject
            {
                ["name"] = config.PrimaryName,
                ["namespace"] = canary.Namespace,
                ["labels"] = JsonTree.ToNode(ObjectMetadata.IncludedByPrefix(JsonTree.Map(JsonTree.Object(source, "metadata", "labels")),
                    options.IncludeLabelPrefixes)),
                ["ownerReferences"] = ObjectMetadata.OwnersWith(owner, existing, canary),
            },
        };
        // The copy is Aviary's own: never immutable, so that the next promotion can update it in place.
        if (source["data"] is JsonObject data) copy["data"] = data.DeepClone();
        if (source["binaryData"] is JsonObject binary) copy["binaryData"] = binary.DeepClone();
        if (config.IsSecret) copy["type"] = JsonTree.String(source, "type") ?? "Opaque";
        return copy;
    }

    private static bool SameCopy(JsonObject current, JsonObject desired) =>
        JsonTree.Same(current["data"], desired["data"])
        && JsonTree.Same(current["binaryData"], desired["binaryData"])
        && JsonTree.String(current, "type") == JsonTree.String(desired, "type")
        && JsonTree.Bool(current, "immutable") != true
        && JsonTree.Same(JsonTree.Object(current, "metadata", "labels") ?? [], desired["metadata"]!["labels"])
        && JsonTree.Same(JsonTree.Array(current, "metadata", "ownerReferences"), desired["metadata"]!["ownerReferences"]);

    /// <summary>
    /// Flagger's checksum of a config: SHA-256 of Go's <c>json.Marshal</c> of its <c>data</c> map (keys sorted,
    /// HTML characters escaped; a Secret's values are the base64 text the API returns), first 8 bytes in hex. Aviary
    /// also copies <c>binaryData</c>, so a ConfigMap that has some gets it appended (Flagger ignores it).
    /// </summary>
    internal static string Checksum(JsonObject config)
    {
        var text = new StringBuilder();
        GoJson.WriteStringMap(text, config["data"] as JsonObject);
        if (config["binaryData"] is JsonObject binary && binary.Count > 0)
        {
            text.Append('\n');
            GoJson.WriteStringMap(text, binary);
        }
        return Hashing.Sha256(text.ToString());
    }

    /// <summary>Every (isSecret, name) the pod spec references, and whether one of the references is required.</summary>
    internal static Dictionary<(bool IsSecret, string Name), bool> References(JsonObject? podSpec)
    {
        var found = new Dictionary<(bool, string), bool>();
        void Add(bool isSecret, string? name, JsonNode? reference)
        {
            if (string.IsNullOrEmpty(name)) return;
            var required = JsonTree.Bool(reference, "optional") != true;
            found[(isSecret, name)] = found.TryGetValue((isSecret, name), out var before) ? before || required : required;
        }

        foreach (var volume in (JsonTree.Array(podSpec, "volumes") ?? []).OfType<JsonObject>())
        {
            if (volume["configMap"] is JsonObject cm) Add(false, JsonTree.String(cm, "name"), cm);
            if (volume["secret"] is JsonObject s) Add(true, JsonTree.String(s, "secretName"), s);
            foreach (var source in (JsonTree.Array(volume, "projected", "sources") ?? []).OfType<JsonObject>())
            {
                if (source["configMap"] is JsonObject pcm) Add(false, JsonTree.String(pcm, "name"), pcm);
                if (source["secret"] is JsonObject ps) Add(true, JsonTree.String(ps, "name"), ps);
            }
        }
        foreach (var container in Containers(podSpec))
        {
            foreach (var env in (JsonTree.Array(container, "env") ?? []).OfType<JsonObject>())
            {
                if (JsonTree.Object(env, "valueFrom", "configMapKeyRef") is { } cmk) Add(false, JsonTree.String(cmk, "name"), cmk);
                else if (JsonTree.Object(env, "valueFrom", "secretKeyRef") is { } sk) Add(true, JsonTree.String(sk, "name"), sk);
            }
            foreach (var envFrom in (JsonTree.Array(container, "envFrom") ?? []).OfType<JsonObject>())
            {
                if (envFrom["configMapRef"] is JsonObject cmr) Add(false, JsonTree.String(cmr, "name"), cmr);
                else if (envFrom["secretRef"] is JsonObject sr) Add(true, JsonTree.String(sr, "name"), sr);
            }
        }
        return found;
    }

    /// <summary>
    /// Points every reference of <paramref name="podSpec"/> (in place) to a tracked config's <c>-primary</c> copy,
    /// as Flagger's <c>ApplyPrimaryConfigs</c>; references to untracked configs stay as they are.
    /// </summary>
    internal static void RewriteReferences(JsonObject podSpec, IReadOnlyList<TrackedConfig> configs)
    {
        var tracked = configs.Select(c => (c.IsSecret, c.Name)).ToHashSet();
        void Rewrite(JsonObject? reference, bool isSecret, string field)
        {
            if (reference is null || JsonTree.String(reference, field) is not { } name) return;
            if (tracked.Contains((isSecret, name))) reference[field] = name + "-primary";
        }

        foreach (var volume in (JsonTree.Array(podSpec, "volumes") ?? []).OfType<JsonObject>())
        {
            Rewrite(volume["configMap"] as JsonObject, false, "name");
            Rewrite(volume["secret"] as JsonObject, true, "secretName");
            foreach (var source in (JsonTree.Array(volume, "projected", "sources") ?? []).OfType<JsonObject>())
            {
                Rewrite(source["configMap"] as JsonObject, false, "name");
                Rewrite(source["secret"] as JsonObject, true, "name");
            }
        }
        foreach (var container in Containers(podSpec))
        {
            foreach (var env in (JsonTree.Array(container, "env") ?? []).OfType<JsonObject>())
            {
                Rewrite(JsonTree.Object(env, "valueFrom", "configMapKeyRef"), false, "name");
                Rewrite(JsonTree.Object(env, "valueFrom", "secretKeyRef"), true, "name");
            }
            foreach (var envFrom in (JsonTree.Array(container, "envFrom") ?? []).OfType<JsonObject>())
            {
                Rewrite(envFrom["configMapRef"] as JsonObject, false, "name");
                Rewrite(envFrom["secretRef"] as JsonObject, true, "name");
            }
        }
    }

    private static IEnumerable<JsonObject> Containers(JsonObject? podSpec) =>
        (JsonTree.Array(podSpec, "containers") ?? []).Concat(JsonTree.Array(podSpec, "initContainers") ?? []).OfType<JsonObject>();
}

/// <summary>Go's <c>encoding/json</c> output for a <c>map[string]string</c>, byte for byte (for checksums Flagger also computes).</summary>
internal static class GoJson
{
    private const string Hex = "0123456789abcdef";

    public static void WriteStringMap(StringBuilder text, JsonObject? map)
    {
        if (map is null)
        {
            text.Append("null");
            return;
        }
        // Go sorts map keys by their bytes; for UTF-8 that is code point order.
        var entries = JsonTree.Map(map).OrderBy(kv => Encoding.UTF8.GetBytes(kv.Key), ByteOrder.Instance).ToList();
        text.Append('{');
        for (var i = 0; i < entries.Count; i++)
        {
            if (i > 0) text.Append(',');
            WriteString(text, entries[i].Key);
            text.Append(':');
            WriteString(text, entries[i].Value);
        }
        text.Append('}');
    }

    private static void WriteString(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (var rune in value.EnumerateRunes())
        {
            var c = rune.Value;
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case < 0x20 or '<' or '>' or '&':
                    text.Append("\\u00").Append(Hex[c >> 4]).Append(Hex[c & 0xF]);
                    break;
                case 0x2028: text.Append("\\u2028"); break;
                case 0x2029: text.Append("\\u2029"); break;
                default: text.Append(rune.ToString()); break;
            }
        }
        text.Append('"');
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static ByteOrder Instance { get; } = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
