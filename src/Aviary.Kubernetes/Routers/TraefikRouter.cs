using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Provider <c>traefik</c>, as Flagger's Traefik router: one <c>TraefikService</c> (<c>traefik.io/v1alpha1</c>) named after
/// the apex service, owned by the Canary, with the apex metadata of <c>spec.service.apex</c>, whose weighted round robin
/// (<c>spec.weighted.services</c>) lists <c>&lt;svc&gt;-primary</c> and, while it takes traffic, <c>&lt;svc&gt;-canary</c>,
/// each on <c>service.port</c> in the canary's namespace. The IngressRoute that sends traffic to it is the user's. A
/// TraefikService weighs services only: A/B testing, mirroring and session affinity are refused (as Flagger's
/// documentation has it; see <see cref="RouterCapabilities"/>). Reconciling keeps the weights in place; the canary's share
/// is read as 100 minus the primary's, as Flagger reads it.
/// </summary>
public sealed class TraefikRouter(KubeClient client, ILogger? logger = null) : WeightedObjectRouter(client, KubeResources.TraefikServices, logger)
{
    public override string Provider => Providers.Traefik;

    private protected override string? Unroutable(CanaryPolicy canary) =>
        canary.ServicePort is null ? $"cannot route {canary.Id}: the traefik router needs spec.service.port" : null;

    private protected override JsonObject? Desire(CanaryPolicy canary, JsonObject? current, RouteWeights weights)
    {
        var services = new JsonArray(Service(canary, canary.ServiceName + "-primary", weights.Primary));
        // Flagger lists the canary only while it takes traffic.
        if (weights.Canary > 0) services.Add(Service(canary, canary.ServiceName + "-canary", weights.Canary));
        var spec = new JsonObject { ["weighted"] = new JsonObject { ["services"] = services } };
        var apex = canary.Manifest.Spec.Service?.Apex;
        return RoutingJson.Desire(Objects.Type, canary.ServiceName, canary, current, spec, apex?.Labels, apex?.Annotations);
    }

    private static JsonObject Service(CanaryPolicy canary, string name, int weight) => new()
    {
        ["name"] = name,
        ["namespace"] = canary.Namespace,
        ["port"] = canary.ServicePort,
        ["weight"] = weight,
    };

    private protected override Outcome<RouteWeights> ReadWeights(CanaryPolicy canary, JsonObject service)
    {
        var primary = canary.ServiceName + "-primary";
        var services = (service["spec"]?["weighted"]?["services"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (services.FirstOrDefault(s => RoutingJson.Text(s["name"]) == primary) is not { } entry)
            return Outcome<RouteWeights>.Fail($"TraefikService {canary.ServiceName}.{canary.Namespace} does not contain a route for {primary}");
        if (RoutingJson.Integer(entry["weight"]) is not { } weight || weight is < 0 or > 100)
            return Outcome<RouteWeights>.Fail($"TraefikService {canary.ServiceName}.{canary.Namespace} service {primary} has a weight that is not a whole number from 0 to 100: {entry["weight"]?.ToJsonString()}");
        return new RouteWeights(weight, 100 - weight);
    }
}
