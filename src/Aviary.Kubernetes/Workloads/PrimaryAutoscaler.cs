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
/// any version's shape works. KEDA's ScaledObject is not supported.
/// </summary>
internal sealed class PrimaryAutoscaler(KubeClient client, ILogger logger)
{
    /// <summary>Nothing to do without an autoscalerRef; a clear failure for a ScaledObject.</summary>
    public static Outcome Supported(CanaryPolicy canary)
    {
        if (canary.Manifest.Spec.AutoscalerRef is not { } reference) return Outcome.Ok;
        return reference.Kind switch
        {
            "HorizontalPodAutoscaler" => Outcome.Ok,
            "ScaledObject" => Outcome.Fail($"autoscalerRef {reference.Name}: KEDA ScaledObject is not supported by Aviary's Kubernetes runtime (use a HorizontalPodAutoscaler)"),
            _ => Outcome.Fail($"autoscalerRef {reference.Name}: kind {reference.Kind} is not supported"),
        };
    }

    /// <summary>
    /// Creates the primary HPA when missing; with <paramref name="update"/>, also brings an existing one up to date
    /// (spec, labels) with the target's HPA.
    /// </summary>
    public async Task<Outcome> ReconcileAsync(CanaryPolicy canary, JsonObject owner, bool update, CancellationToken cancellationToken)
    {
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

    /// <summary>The target HPA's <c>minReplicas</c>, or null (no HPA, unreadable).</summary>
    public async Task<long?> TargetMinReplicasAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
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
