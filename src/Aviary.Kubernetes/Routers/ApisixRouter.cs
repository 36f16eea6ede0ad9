using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Provider <c>apisix</c>, as Flagger's APISIX router: the user's <c>ApisixRoute</c> (<c>apisix.apache.org/v2</c>, named by
/// <c>spec.routeRef</c>) stays as it is, and a copy named <c>&lt;route&gt;-&lt;svc&gt;-canary</c> (Flagger's name, which its
/// <c>{{ route }}-{{ target }}-canary</c> metric queries select), owned by the Canary, takes its first
/// HTTP rule with priority 10000 (so APISIX prefers it) and two weighted backends: the rule's backend pointed at
/// <c>&lt;svc&gt;-primary</c>, and <c>&lt;svc&gt;-canary</c> on the same port, resolve granularity and subset. The
/// route's labels and annotations are copied. Weights only: A/B testing, mirroring and session affinity are refused (see
/// <see cref="RouterCapabilities"/>). Reconciling keeps the weights in place and repairs the rest; the canary's share is
/// read as 100 minus the primary's, as Flagger reads it.
/// </summary>
public sealed class ApisixRouter : IKubeRouter
{
    /// <summary>The priority of the canary route (Flagger's): above any route a user would write for the same match.</summary>
    public const int CanaryRoutePriority = 10000;

    private readonly RoutedObjects _routes;
    private readonly ILogger _logger;

    public ApisixRouter(KubeClient client, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _logger = logger ?? NullLogger.Instance;
        _routes = new RoutedObjects(client, KubeResources.ApisixRoutes, _logger);
    }

    public string Provider => Providers.Apisix;

    private static string? RouteName(CanaryPolicy canary) => canary.Manifest.Spec.RouteRef?.Name is { Length: > 0 } name ? name : null;

    private static string CanaryRouteName(CanaryPolicy canary) => $"{RouteName(canary)}-{canary.ServiceName}-canary";

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (RouterCapabilities.Refusal(canary, Provider) is { } refused) return Outcome.Fail(refused);
        var (user, rule, error) = await UserRuleAsync(canary, cancellationToken).ConfigureAwait(false);
        if (error is not null) return Outcome.Fail(error);
        // A new canary route sends everything to the primary; an existing one keeps its weights.
        return await _routes.ApplyAsync(canary.Namespace, CanaryRouteName(canary), create: true,
            current => Desire(canary, user!, rule!, current, current is null ? RouteWeights.AllPrimary : RouterChecks.OrAllPrimary(ReadWeights(canary, current))),
            cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (RouteName(canary) is null) return Outcome<RouteWeights>.Fail($"cannot route {canary.Id}: the apisix router needs spec.routeRef.name");
        var route = await _routes.RequireAsync(canary.Namespace, CanaryRouteName(canary), cancellationToken).ConfigureAwait(false);
        return route.Succeeded ? ReadWeights(canary, route.Value!) : Outcome<RouteWeights>.Fail(route.Error!);
    }

    public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if ((RouterCapabilities.Refusal(canary, Provider, weights.Mirrored) ?? RouterChecks.InvalidWeights(canary, weights)) is { } error) return Outcome.Fail(error);
        var (user, rule, missing) = await UserRuleAsync(canary, cancellationToken).ConfigureAwait(false);
        if (missing is not null) return Outcome.Fail(missing);
        var result = await _routes.ApplyAsync(canary.Namespace, CanaryRouteName(canary), create: false, current => Desire(canary, user!, rule!, current, weights),
            cancellationToken).ConfigureAwait(false);
        if (result.Succeeded) KubeRouterLog.Routed(_logger, _routes.Kind, CanaryRouteName(canary), canary.Namespace, weights.ToString());
        return result;
    }

    /// <summary>Routes everything to the primary; the canary route itself goes with the Canary (owner reference).</summary>
    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        SetRoutesAsync(canary, RouteWeights.AllPrimary, cancellationToken);

    /// <summary>The user's route (<c>spec.routeRef</c>) and its first HTTP rule, the one the canary route copies; or why not.</summary>
    private async Task<(JsonObject? Route, JsonObject? Rule, string? Error)> UserRuleAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        if (RouteName(canary) is not { } name)
            return (null, null, $"cannot route {canary.Id}: the apisix router needs spec.routeRef.name (the ApisixRoute of the service)");
        var user = await _routes.RequireAsync(canary.Namespace, name, cancellationToken).ConfigureAwait(false);
        if (!user.Succeeded) return (null, null, user.Error);
        if (FirstRule(user.Value!) is not { } rule || FirstBackend(rule) is null)
            return (null, null, $"ApisixRoute {name}.{canary.Namespace} has no http rule with a backend to split");
        return (user.Value, rule, null);
    }

    private static JsonObject? FirstRule(JsonObject route) => (route["spec"]?["http"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();

    private static JsonObject? FirstBackend(JsonObject rule) => (rule["backends"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();

    private JsonObject? Desire(CanaryPolicy canary, JsonObject user, JsonObject userRule, JsonObject? current, RouteWeights weights)
    {
        var rule = (JsonObject)userRule.DeepClone();
        rule["priority"] = CanaryRoutePriority;
        var first = FirstBackend(userRule)!;
        var primary = (JsonObject)first.DeepClone();
        primary["serviceName"] = canary.ServiceName + "-primary";
        primary["weight"] = weights.Primary;
        var canaryBackend = new JsonObject { ["serviceName"] = canary.ServiceName + "-canary", ["servicePort"] = first["servicePort"]?.DeepClone() };
        if (first["resolveGranularity"] is { } granularity) canaryBackend["resolveGranularity"] = granularity.DeepClone();
        canaryBackend["weight"] = weights.Canary;
        if (first["subset"] is { } subset) canaryBackend["subset"] = subset.DeepClone();
        rule["backends"] = new JsonArray(primary, canaryBackend);
        var spec = new JsonObject { ["http"] = new JsonArray(rule) };
        var (labels, annotations) = RoutingJson.UserMetadata(user);
        return RoutingJson.Desire(_routes.Type, CanaryRouteName(canary), canary, current, spec, labels, annotations);
    }

    private static Outcome<RouteWeights> ReadWeights(CanaryPolicy canary, JsonObject route)
    {
        var primary = canary.ServiceName + "-primary";
        var name = RoutingJson.Text(route["metadata"]?["name"]);
        var backends = FirstRule(route) is { } rule ? (rule["backends"] as JsonArray ?? []).OfType<JsonObject>() : [];
        if (backends.FirstOrDefault(b => RoutingJson.Text(b["serviceName"]) == primary) is not { } entry)
            return Outcome<RouteWeights>.Fail($"ApisixRoute {name}.{canary.Namespace} does not contain a backend for {primary}");
        if (RoutingJson.Integer(entry["weight"]) is not { } weight || weight is < 0 or > 100)
            return Outcome<RouteWeights>.Fail($"ApisixRoute {name}.{canary.Namespace} backend {primary} has a weight that is not a whole number from 0 to 100: {entry["weight"]?.ToJsonString()}");
        return new RouteWeights(weight, 100 - weight);
    }
}
