using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Provider <c>kuma</c>, as Flagger's Kuma router: one cluster-scoped <c>TrafficRoute</c> (<c>kuma.io/v1alpha1</c>) named
/// after the apex service, in the mesh of the Canary's <c>kuma.io/mesh</c> annotation (default <c>default</c>), with the
/// apex metadata. It routes every source (<c>kuma.io/service: *</c>) to the apex's Kuma service
/// (<c>&lt;svc&gt;_&lt;ns&gt;_svc_&lt;port&gt;</c>) and splits it between <c>&lt;svc&gt;-primary_…</c> and <c>&lt;svc&gt;-canary_…</c>.
/// Being cluster-scoped it has no owner (a namespaced Canary cannot own it), so it outlives the Canary, as in Flagger.
/// <para>
/// Flagger names the TrafficRoute after the apex alone, so canaries of the same name in two namespaces write one
/// object. Aviary refuses to take over a TrafficRoute that routes another namespace's service (the error names it)
/// instead of silently re-pointing it. Weights only: A/B testing, mirroring and session affinity are refused (see
/// <see cref="RouterCapabilities"/>).
/// </para>
/// </summary>
public sealed class KumaRouter(KubeClient client, ILogger? logger = null) : WeightedObjectRouter(client, KubeResources.TrafficRoutes, logger)
{
    /// <summary>The Canary annotation naming the Kuma mesh (Flagger's).</summary>
    public const string MeshAnnotation = "kuma.io/mesh";

    private const string ServiceTag = "kuma.io/service";

    public override string Provider => Providers.Kuma;

    /// <summary>Kuma's service tag of a Kubernetes Service: <c>&lt;name&gt;_&lt;namespace&gt;_svc_&lt;port&gt;</c>.</summary>
    public static string KumaService(CanaryPolicy canary, string service) =>
        $"{service}_{canary.Namespace}_svc_{canary.ServicePort?.ToString(CultureInfo.InvariantCulture)}";

    private protected override string? Unroutable(CanaryPolicy canary) =>
        canary.ServicePort is null ? $"cannot route {canary.Id}: the kuma router needs spec.service.port" : null;

    private protected override async Task<Outcome> ReconcileReferencedAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var (current, error) = await Objects.GetAsync(canary.Namespace, canary.ServiceName, cancellationToken).ConfigureAwait(false);
        if (error is not null) return Outcome.Fail(error);
        var routed = current?["spec"]?["destinations"] is JsonArray destinations
            ? destinations.Select(d => RoutingJson.Text(d?["match"]?[ServiceTag])).FirstOrDefault(s => s is not null)
            : null;
        var apex = KumaService(canary, canary.ServiceName);
        return routed is not null && routed != apex
            ? Outcome.Fail($"TrafficRoute {canary.ServiceName} routes {routed}, not {apex}: it belongs to another canary named {canary.ServiceName} " +
                "(TrafficRoutes are cluster-scoped and named after the apex service); rename spec.service.name or delete that TrafficRoute")
            : Outcome.Ok;
    }

    private protected override JsonObject? Desire(CanaryPolicy canary, JsonObject? current, RouteWeights weights)
    {
        var spec = new JsonObject
        {
            ["sources"] = new JsonArray(Selector("*")),
            ["destinations"] = new JsonArray(Selector(KumaService(canary, canary.ServiceName))),
            ["conf"] = new JsonObject
            {
                ["split"] = new JsonArray(
                    Split(KumaService(canary, canary.ServiceName + "-primary"), weights.Primary),
                    Split(KumaService(canary, canary.ServiceName + "-canary"), weights.Canary)),
            },
        };
        var apex = canary.Manifest.Spec.Service?.Apex;
        var next = RoutingJson.Desire(Objects.Type, canary.ServiceName, canary, current, spec, apex?.Labels, apex?.Annotations);
        // The mesh is chosen when the TrafficRoute is created, as Flagger does.
        if (current is null && next is not null)
            next["mesh"] = canary.Manifest.Metadata.Annotations?.GetValueOrDefault(MeshAnnotation) is { Length: > 0 } mesh ? mesh : "default";
        return next;
    }

    private static JsonObject Selector(string service) => new() { ["match"] = new JsonObject { [ServiceTag] = service } };

    private static JsonObject Split(string service, int weight) => new()
    {
        ["weight"] = weight,
        ["destination"] = new JsonObject { [ServiceTag] = service },
    };

    private protected override Outcome<RouteWeights> ReadWeights(CanaryPolicy canary, JsonObject route)
    {
        var primary = canary.ServiceName + "-primary";
        var splits = (route["spec"]?["conf"]?["split"] as JsonArray ?? []).OfType<JsonObject>();
        // Flagger compares the part of the tag before the first '_' (Kubernetes names have none).
        if (splits.FirstOrDefault(s => RoutingJson.Text(s["destination"]?[ServiceTag])?.Split('_')[0] == primary) is not { } entry)
            return Outcome<RouteWeights>.Fail($"TrafficRoute {canary.ServiceName} does not contain routes for {primary} and {canary.ServiceName}-canary");
        if (RoutingJson.Integer(entry["weight"]) is not { } weight || weight is < 0 or > 100)
            return Outcome<RouteWeights>.Fail($"TrafficRoute {canary.ServiceName} split {primary} has a weight that is not a whole number from 0 to 100: {entry["weight"]?.ToJsonString()}");
        return new RouteWeights(weight, 100 - weight);
    }
}
