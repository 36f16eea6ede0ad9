using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Routers;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Workloads;

/// <summary>
/// A canary's Knative Service (<c>serving.knative.dev/v1</c>, the targetRef), as Flagger uses it: the revision that serves
/// as the primary is named by the annotation <c>flagger.app/primary-revision</c>, the canary is the latest created
/// revision, and the split is the Service's <c>spec.traffic</c> (Knative reports what it applied in <c>status.traffic</c>).
/// Shared by <see cref="KnativeWorkload"/> and <see cref="KnativeRouter"/>.
/// </summary>
internal sealed class KnativeServices(KubeClient client, ILogger logger)
{
    /// <summary>Flagger's annotation naming the primary revision.</summary>
    public const string PrimaryRevisionAnnotation = "flagger.app/primary-revision";

    private readonly RoutedObjects _services = new(client, KubeResources.KnativeServices, logger);

    public ResourceClient<JsonObject> Revisions { get; } = client.Resource(KubeResources.KnativeRevisions);

    /// <summary>The Knative Service of <paramref name="canary"/>, or an error naming it.</summary>
    public Task<Outcome<JsonObject>> GetAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        _services.RequireAsync(canary.Namespace, canary.TargetName, cancellationToken);

    /// <summary>Changes the Service with <paramref name="change"/> (null: nothing to write), retrying on 409.</summary>
    public Task<Outcome> UpdateAsync(CanaryPolicy canary, Func<JsonObject, JsonObject?> change, CancellationToken cancellationToken) =>
        _services.ApplyAsync(canary.Namespace, canary.TargetName, create: false, current => change(current!), cancellationToken);

    public static string? PrimaryRevision(JsonObject service) => RoutingJson.Annotation(service, PrimaryRevisionAnnotation);

    public static string? LatestCreatedRevision(JsonObject service) => RoutingJson.Text(service["status"]?["latestCreatedRevisionName"]);

    /// <summary>Flagger's traffic: the latest revision (the canary) first, then the primary revision.</summary>
    public static JsonArray Traffic(string primaryRevision, RouteWeights weights) =>
    [
        new JsonObject { ["latestRevision"] = true, ["percent"] = weights.Canary },
        new JsonObject { ["revisionName"] = primaryRevision, ["percent"] = weights.Primary },
    ];

    /// <summary>A copy of <paramref name="service"/> with the annotation and <c>spec.traffic</c> set; null when it already has them.</summary>
    public static JsonObject? With(JsonObject service, string primaryRevision, JsonArray? traffic)
    {
        var next = (JsonObject)service.DeepClone();
        var metadata = next["metadata"] as JsonObject ?? [];
        next["metadata"] = metadata;
        var annotations = metadata["annotations"] as JsonObject ?? [];
        metadata["annotations"] = annotations;
        var changed = false;
        if (RoutingJson.Text(annotations[PrimaryRevisionAnnotation]) != primaryRevision)
        {
            annotations[PrimaryRevisionAnnotation] = primaryRevision;
            changed = true;
        }
        if (traffic is not null && !JsonNode.DeepEquals(next["spec"]?["traffic"], traffic))
        {
            var spec = next["spec"] as JsonObject ?? [];
            next["spec"] = spec;
            spec["traffic"] = traffic;
            changed = true;
        }
        return changed ? next : null;
    }
}
