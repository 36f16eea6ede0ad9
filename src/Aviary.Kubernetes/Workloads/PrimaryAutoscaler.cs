using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Workloads;

/// <summary>
/// The <c>-primary</c> copy of the target's HorizontalPodAutoscaler (<c>spec.autoscalerRef</c>), after Flagger's
/// <c>hpa_reconciler.go</c>: the same spec aimed at the primary, with <c>primaryScalerReplicas</c> overriding the
/// minimum and maximum, owned by the Canary. It is created with the primary and brought up to date with the target's
/// HPA at each promotion. The HPA is read and written in the version the server serves among the autoscalerRef's,
/// <c>autoscaling/v2</c> and <c>autoscaling/v2beta2</c> (a 1.20 server has no v2); the spec is copied as it is, so
/// any version's shape works.
/// <para>
/// A KEDA <c>ScaledObject</c> (<c>keda.sh/v1alpha1</c>), after Flagger's <c>scaled_object_reconciler.go</c>: the copy
/// <c>&lt;so&gt;-primary</c> scales the primary (<c>scaleTargetRef</c>'s kind, apiVersion and envSourceContainerName kept),
/// with the target's polling interval, cooldown, replica counts (<c>primaryScalerReplicas</c> overriding them), advanced
/// settings (a named HPA gets <c>-primary</c>), fallback, idle replicas and triggers, whose <c>query</c> is
/// <c>primaryScalerQueries</c>' entry of the trigger's name or, without that map, the target's query aimed at the
/// primary (the target's and the canary's names become <c>&lt;target&gt;-primary</c>). While the canary is scaled to zero
/// the target's ScaledObject is paused at zero replicas (<c>autoscaling.keda.sh/paused-replicas: "0"</c>), so KEDA does
/// not scale it back up; scaling the canary up and reverting resume it, and reverting deletes the primary's copy.
/// </para>
/// </summary>
internal sealed class PrimaryAutoscaler(KubeClient client, ILogger logger)
{
    /// <summary>KEDA's annotation that holds a ScaledObject's target at a replica count.</summary>
    public const string PausedReplicasAnnotation = "autoscaling.keda.sh/paused-replicas";

    /// <summary>Nothing to do without an autoscalerRef; a clear failure for another kind.</summary>
    public static Outcome Supported(CanaryPolicy canary)
    {
        if (canary.Manifest.Spec.AutoscalerRef is not { } reference) return Outcome.Ok;
        return reference.Kind switch
        {
            "HorizontalPodAutoscaler" or "ScaledObject" => Outcome.Ok,
            _ => Outcome.Fail($"spec.autoscalerRef.kind: {reference.Kind} is not supported (HorizontalPodAutoscaler or ScaledObject)"),
        };
    }

    /// <summary>
    /// Creates the primary HPA when missing; with <paramref name="update"/>, also brings an existing one up to date
    /// (spec, labels) with the target's HPA.
    /// </summary>
    public async Task<Outcome> ReconcileAsync(CanaryPolicy canary, JsonObject owner, bool update, CancellationToken cancellationToken)
    {
        if (canary.Manifest.Spec.AutoscalerRef is { Kind: "ScaledObject" } scaledObject)
            return await ReconcileScaledObjectAsync(canary, scaledObject, owner, update, cancellationToken).ConfigureAwait(false);
        if (canary.Manifest.Spec.AutoscalerRef is not { Kind: "HorizontalPodAutoscaler" } reference) return Supported(canary);
        var resolved = await ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        if (!resolved.Succeeded) return Outcome.Fail(resolved.Error!);
        var resource = client.Resource(resolved.Value!);

        var target = await resource.GetAsync(canary.Namespace, reference.Name, cancellationToken).ConfigureAwait(false);
        if (!target.Succeeded)
            return Outcome.Fail($"HorizontalPodAutoscaler {reference.Name}.{canary.Namespace} get query error: {target.Error!.Message}");
        var primaryName = reference.Name + "-primary";
        var spec = PrimarySpec(canary, reference, target.Value);
        var labels = JsonTree.ToNode(ObjectMetadata.WithoutToolkit(JsonTree.Map(JsonTree.Object(target.Value, "metadata", "labels"))));

        var existing = await resource.GetAsync(canary.Namespace, primaryName, cancellationToken).ConfigureAwait(false);
        if (existing.IsNotFound)
        {
            var created = await resource.CreateAsync(new JsonObject
            {
                ["apiVersion"] = resolved.Value!.ApiVersion,
                ["kind"] = "HorizontalPodAutoscaler",
                ["metadata"] = new JsonObject
                {
                    ["name"] = primaryName,
                    ["namespace"] = canary.Namespace,
                    ["labels"] = labels,
                    ["ownerReferences"] = new JsonArray(owner.DeepClone()),
                },
                ["spec"] = spec,
            }, cancellationToken).ConfigureAwait(false);
            if (!created.Succeeded && !created.IsAlreadyExists)
                return Outcome.Fail($"creating HorizontalPodAutoscaler {primaryName}.{canary.Namespace} failed: {created.Error!.Message}");
            WorkloadLog.AutoscalerCreated(logger, primaryName, canary.Namespace);
            return Outcome.Ok;
        }
        if (!existing.Succeeded)
            return Outcome.Fail($"HorizontalPodAutoscaler {primaryName}.{canary.Namespace} get query failed: {existing.Error!.Message}");
        if (!update) return Outcome.Ok;

        var changed = false;
        var written = await resource.UpdateWithRetryAsync(canary.Namespace, primaryName, current =>
        {
            var next = (JsonObject)current.DeepClone();
            next["spec"] = spec.DeepClone();
            var meta = JsonTree.Ensure(next, "metadata");
            meta["labels"] = labels.DeepClone();
            if (JsonTree.Same(next, current)) return null;
            changed = true;
            return next;
        }, cancellationToken).ConfigureAwait(false);
        if (!written.Succeeded)
            return Outcome.Fail($"updating HorizontalPodAutoscaler {primaryName}.{canary.Namespace} failed: {written.Error!.Message}");
        if (changed) WorkloadLog.AutoscalerUpdated(logger, primaryName, canary.Namespace);
        return Outcome.Ok;
    }

    /// <summary>The target autoscaler's minimum (an HPA's <c>minReplicas</c>, a ScaledObject's <c>minReplicaCount</c>), or null (none, unreadable).</summary>
    public async Task<long?> TargetMinReplicasAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        if (canary.Manifest.Spec.AutoscalerRef is { Kind: "ScaledObject" } so)
        {
            var target = await client.Resource(KubeResources.ScaledObjects).GetAsync(canary.Namespace, so.Name, cancellationToken).ConfigureAwait(false);
            return target.Succeeded ? JsonTree.Long(target.Value, "spec", "minReplicaCount") : null;
        }
        if (canary.Manifest.Spec.AutoscalerRef is not { Kind: "HorizontalPodAutoscaler" } reference) return null;
        var resolved = await ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        if (!resolved.Succeeded) return null;
        var hpa = await client.Resource(resolved.Value!).GetAsync(canary.Namespace, reference.Name, cancellationToken).ConfigureAwait(false);
        return hpa.Succeeded ? JsonTree.Long(hpa.Value, "spec", "minReplicas") : null;
    }

    /// <summary>The minimum replicas of the primary's HPA as it will be (primaryScalerReplicas, else the target's HPA), or null.</summary>
    public async Task<long?> PrimaryMinReplicasAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        canary.Manifest.Spec.AutoscalerRef?.PrimaryScalerReplicas?.MinReplicas is { } min
            ? min
            : await TargetMinReplicasAsync(canary, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Pauses (<paramref name="paused"/>) or resumes the target's ScaledObject; nothing for an HPA or without an
    /// autoscalerRef (Flagger's PauseTargetScaler / ResumeTargetScaler).
    /// </summary>
    public async Task<Outcome> PauseTargetAsync(CanaryPolicy canary, bool paused, CancellationToken cancellationToken)
    {
        if (canary.Manifest.Spec.AutoscalerRef is not { Kind: "ScaledObject" } reference) return Outcome.Ok;
        var written = await client.Resource(KubeResources.ScaledObjects).UpdateWithRetryAsync(canary.Namespace, reference.Name, current =>
        {
            var isPaused = JsonTree.Object(current, "metadata", "annotations")?[PausedReplicasAnnotation] is not null;
            if (isPaused == paused) return null;
            var next = (JsonObject)current.DeepClone();
            var annotations = JsonTree.Ensure(JsonTree.Ensure(next, "metadata"), "annotations");
            if (paused) annotations[PausedReplicasAnnotation] = "0";
            else annotations.Remove(PausedReplicasAnnotation);
            return next;
        }, cancellationToken).ConfigureAwait(false);
        return written.Succeeded
            ? Outcome.Ok
            : Outcome.Fail($"Keda ScaledObject {reference.Name}.{canary.Namespace} {(paused ? "pause" : "resume")} failed: {written.Error!.Message}");
    }

    /// <summary>For <c>revertOnDeletion</c>: deletes the primary's ScaledObject (the target's is resumed first); nothing for an HPA.</summary>
    public async Task<Outcome> DeletePrimaryScaledObjectAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        if (canary.Manifest.Spec.AutoscalerRef is not { Kind: "ScaledObject" } reference) return Outcome.Ok;
        var deleted = await client.Resource(KubeResources.ScaledObjects).DeleteAsync(canary.Namespace, reference.Name + "-primary", null, cancellationToken)
            .ConfigureAwait(false);
        return deleted.Succeeded || deleted.IsNotFound
            ? Outcome.Ok
            : Outcome.Fail($"deleting Keda ScaledObject {reference.Name}-primary.{canary.Namespace} failed: {deleted.Error!.Message}");
    }

    private async Task<Outcome> ReconcileScaledObjectAsync(CanaryPolicy canary, AutoscalerReference reference, JsonObject owner, bool update,
        CancellationToken cancellationToken)
    {
        var resource = client.Resource(KubeResources.ScaledObjects);
        var target = await resource.GetAsync(canary.Namespace, reference.Name, cancellationToken).ConfigureAwait(false);
        if (!target.Succeeded) return Outcome.Fail($"Keda ScaledObject {reference.Name}.{canary.Namespace} get query error: {target.Error!.Message}");
        var primaryName = reference.Name + "-primary";
        var spec = PrimaryScaledObjectSpec(canary, reference, target.Value);
        JsonNode Metadata(string field) => JsonTree.ToNode(ObjectMetadata.WithoutToolkit(JsonTree.Map(JsonTree.Object(target.Value, "metadata", field))
            .Where(kv => kv.Key is not (PausedReplicasAnnotation or "kubectl.kubernetes.io/last-applied-configuration"))));

        var existing = await resource.GetAsync(canary.Namespace, primaryName, cancellationToken).ConfigureAwait(false);
        if (existing.IsNotFound)
        {
            var created = await resource.CreateAsync(new JsonObject
            {
                ["apiVersion"] = KubeResources.ScaledObjects.ApiVersion,
                ["kind"] = "ScaledObject",
                ["metadata"] = new JsonObject
                {
                    ["name"] = primaryName,
                    ["namespace"] = canary.Namespace,
                    ["labels"] = Metadata("labels"),
                    ["annotations"] = Metadata("annotations"),
                    ["ownerReferences"] = new JsonArray(owner.DeepClone()),
                },
                ["spec"] = spec,
            }, cancellationToken).ConfigureAwait(false);
            if (!created.Succeeded && !created.IsAlreadyExists)
                return Outcome.Fail($"creating Keda ScaledObject {primaryName}.{canary.Namespace} failed: {created.Error!.Message}");
            WorkloadLog.AutoscalerCreated(logger, primaryName, canary.Namespace);
            return Outcome.Ok;
        }
        if (!existing.Succeeded) return Outcome.Fail($"Keda ScaledObject {primaryName}.{canary.Namespace} get query failed: {existing.Error!.Message}");
        if (!update) return Outcome.Ok;
        var changed = false;
        var written = await resource.UpdateWithRetryAsync(canary.Namespace, primaryName, current =>
        {
            var next = (JsonObject)current.DeepClone();
            next["spec"] = spec.DeepClone();
            if (JsonTree.Same(next, current)) return null;
            changed = true;
            return next;
        }, cancellationToken).ConfigureAwait(false);
        if (!written.Succeeded) return Outcome.Fail($"updating ScaledObject {primaryName}.{canary.Namespace} failed: {written.Error!.Message}");
        if (changed) WorkloadLog.AutoscalerUpdated(logger, primaryName, canary.Namespace);
        return Outcome.Ok;
    }

    private static JsonObject PrimaryScaledObjectSpec(CanaryPolicy canary, AutoscalerReference reference, JsonObject target)
    {
        var from = JsonTree.Object(target, "spec") ?? [];
        var scaleTarget = new JsonObject { ["name"] = canary.PrimaryName };
        foreach (var field in new[] { "kind", "apiVersion", "envSourceContainerName" })
        {
            if (JsonTree.Object(from, "scaleTargetRef")?[field] is { } value) scaleTarget[field] = value.DeepClone();
        }
        var spec = new JsonObject { ["scaleTargetRef"] = scaleTarget };
        foreach (var field in new[] { "pollingInterval", "cooldownPeriod", "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback" })
        {
            if (from[field] is { } value) spec[field] = value.DeepClone();
        }
        if (reference.PrimaryScalerReplicas is { } replicas)
        {
            if (replicas.MinReplicas is { } min) spec["minReplicaCount"] = min;
            if (replicas.MaxReplicas is { } max) spec["maxReplicaCount"] = max;
        }
        // Flagger always writes the HPA config, and names a named one's copy <name>-primary.
        var advanced = from["advanced"]?.DeepClone() as JsonObject ?? [];
        var hpa = JsonTree.Ensure(advanced, "horizontalPodAutoscalerConfig");
        if (hpa["name"] is JsonValue name && name.GetValue<string>() is { Length: > 0 } hpaName) hpa["name"] = hpaName + "-primary";
        spec["advanced"] = advanced;
        var triggers = from["triggers"]?.DeepClone() as JsonArray ?? [];
        foreach (var trigger in triggers.OfType<JsonObject>())
        {
            if (trigger["metadata"] is not JsonObject metadata) continue;
            if (reference.PrimaryScalerQueries is { } queries)
            {
                if (trigger["name"] is JsonValue n && queries.TryGetValue(n.GetValue<string>(), out var query)) metadata["query"] = query;
            }
            else if (metadata["query"] is JsonValue q && q.GetValue<string>() is { } text)
            {
                metadata["query"] = PrimaryQuery(text, canary.TargetName);
            }
        }
        spec["triggers"] = triggers;
        return spec;
    }

    /// <summary>The target's query aimed at the primary: <c>&lt;target&gt;-canary</c> and <c>&lt;target&gt;</c> become <c>&lt;target&gt;-primary</c>.</summary>
    internal static string PrimaryQuery(string query, string target)
    {
        const string placeholder = "\u0000canary\u0000";
        return query.Replace(target + "-canary", placeholder, StringComparison.Ordinal)
            .Replace(target, target + "-primary", StringComparison.Ordinal)
            .Replace(placeholder, target + "-primary", StringComparison.Ordinal);
    }

    private static JsonObject PrimarySpec(CanaryPolicy canary, AutoscalerReference reference, JsonObject target)
    {
        var spec = JsonTree.Object(target, "spec")?.DeepClone() as JsonObject ?? [];
        var scaleTarget = JsonTree.Ensure(spec, "scaleTargetRef");
        scaleTarget["name"] = canary.PrimaryName;
        if (reference.PrimaryScalerReplicas is { } replicas)
        {
            if (replicas.MinReplicas is { } min) spec["minReplicas"] = min;
            if (replicas.MaxReplicas is { } max) spec["maxReplicas"] = max;
        }
        return spec;
    }

    private async Task<Outcome<ResourceType>> ResolveAsync(AutoscalerReference reference, CancellationToken cancellationToken)
    {
        string?[] candidates = [reference.ApiVersion, "autoscaling/v2", "autoscaling/v2beta2"];
        string? lastError = null;
        foreach (var apiVersion in candidates.Where(v => !string.IsNullOrEmpty(v)).Distinct(StringComparer.Ordinal))
        {
            var resources = await client.Catalog.DiscoverAsync(apiVersion!, cancellationToken).ConfigureAwait(false);
            if (!resources.Succeeded)
            {
                if (!resources.IsNotFound) lastError = resources.Error!.Message;
                continue;
            }
            if (resources.Value.FirstOrDefault(r => r.Kind == "HorizontalPodAutoscaler") is { } found) return found;
        }
        return Outcome<ResourceType>.Fail($"HorizontalPodAutoscaler {reference.Name}: the server serves none of {reference.ApiVersion}, autoscaling/v2, autoscaling/v2beta2"
            + (lastError is null ? "" : $" ({lastError})"));
    }
}
