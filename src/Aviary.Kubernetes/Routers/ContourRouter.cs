using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Provider <c>contour</c>, as Flagger's Contour router: one <c>HTTPProxy</c> (<c>projectcontour.io/v1</c>) named after the
/// apex service, owned by the Canary, without a virtual host (the user's root HTTPProxy includes it). Its route matches the
/// prefix of <c>spec.service.match[0].uri.prefix</c> (default <c>/</c>) and weighs <c>&lt;svc&gt;-primary</c> against
/// <c>&lt;svc&gt;-canary</c> on <c>service.port</c>, each with Flagger's <c>l5d-dst-override</c> request header, plus
/// <c>spec.service.timeout</c> (response timeout, idle 5m) and <c>spec.service.retries</c>. With <c>analysis.match</c>
/// (A/B testing) each match entry is a route of its own ahead of a default route that keeps everything on the primary;
/// the canary's share is read from the first route as 100 minus the primary's, as Flagger reads it.
/// <para>
/// Where Aviary differs from Flagger, so that Contour accepts the object and routes what the manifest says: the prefix is
/// one condition and each header or query parameter another (Flagger repeats the prefix in every header condition, and
/// Contour refuses a route with two prefixes); the entries of <c>analysis.match</c> are alternatives (a route each, as
/// Istio reads the list; Flagger ANDs them into one route); and a header's prefix, suffix or regex is a full-match
/// <c>regex</c> condition (Flagger writes prefix and suffix as <c>contains</c> and drops a regex). Mirroring and session
/// affinity are refused (see <see cref="RouterCapabilities"/>); so is A/B testing by source labels.
/// </para>
/// </summary>
public sealed class ContourRouter(KubeClient client, string? ingressClass = null, ILogger? logger = null)
    : WeightedObjectRouter(client, KubeResources.HttpProxies, logger)
{
    /// <summary>The annotation naming the Contour instance that serves the HTTPProxy (Flagger's <c>-ingress-class</c>).</summary>
    public const string IngressClassAnnotation = "projectcontour.io/ingress.class";

    public override string Provider => Providers.Contour;

    private protected override string? Unroutable(CanaryPolicy canary) => RouterChecks.HeaderOrQueryMatches(canary, Provider);

    private protected override JsonObject? Desire(CanaryPolicy canary, JsonObject? current, RouteWeights weights)
    {
        var routes = new JsonArray();
        foreach (var match in canary.Match) routes.Add(Route(canary, MatchConditions(canary, match), weights));
        // The default route: all traffic while weighing, the rest (on the primary) while A/B testing.
        routes.Add(Route(canary, [Prefix(canary)], canary.Match.Count > 0 ? RouteWeights.AllPrimary : weights));
        var spec = new JsonObject { ["routes"] = routes };
        var apex = canary.Manifest.Spec.Service?.Apex;
        var annotations = RoutingJson.Merge(apex?.Annotations,
            ingressClass is { Length: > 0 } ? new Dictionary<string, string> { [IngressClassAnnotation] = ingressClass } : null);
        return RoutingJson.Desire(Objects.Type, canary.ServiceName, canary, current, spec, apex?.Labels, annotations);
    }

    private static JsonObject Route(CanaryPolicy canary, IEnumerable<JsonObject> conditions, RouteWeights weights)
    {
        var route = new JsonObject { ["conditions"] = RoutingJson.Array(conditions) };
        var service = canary.Manifest.Spec.Service;
        if (service?.Timeout is { Length: > 0 } timeout) route["timeoutPolicy"] = new JsonObject { ["response"] = timeout, ["idle"] = "5m" };
        if (service?.Retries is { } retries)
        {
            var policy = new JsonObject { ["count"] = retries.Attempts ?? 0 };
            if (retries.PerTryTimeout is { Length: > 0 } perTry) policy["perTryTimeout"] = perTry;
            route["retryPolicy"] = policy;
        }
        route["services"] = new JsonArray(
            Service(canary, canary.ServiceName + "-primary", weights.Primary),
            Service(canary, canary.ServiceName + "-canary", weights.Canary));
        return route;
    }

    private static JsonObject Service(CanaryPolicy canary, string name, int weight) => new()
    {
        ["name"] = name,
        ["port"] = canary.ServicePort,
        ["weight"] = weight,
        // Flagger's: lets a Linkerd-meshed Envoy send the request to the service Contour chose.
        ["requestHeadersPolicy"] = new JsonObject
        {
            ["set"] = new JsonArray(new JsonObject
            {
                ["name"] = "l5d-dst-override",
                ["value"] = $"{name}.{canary.Namespace}.svc.cluster.local:{canary.ServicePort!.Value.ToString(CultureInfo.InvariantCulture)}",
            }),
        },
    };

    private static JsonObject Prefix(CanaryPolicy canary) => new()
    {
        ["prefix"] = canary.Manifest.Spec.Service?.Match is [{ Uri.Prefix: { Length: > 0 } prefix }, ..] ? prefix : "/",
    };

    private static IEnumerable<JsonObject> MatchConditions(CanaryPolicy canary, AnalysisMatch match)
    {
        yield return Prefix(canary);
        foreach (var (name, value) in (match.Headers ?? new Dictionary<string, HeaderMatch>()).OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            var header = new JsonObject { ["name"] = name };
            if (!string.IsNullOrEmpty(value.Exact)) header["exact"] = value.Exact;
            else if (!string.IsNullOrEmpty(value.Prefix)) header["regex"] = RoutingJson.PrefixRegex(value.Prefix);
            else if (!string.IsNullOrEmpty(value.Suffix)) header["regex"] = RoutingJson.SuffixRegex(value.Suffix);
            else if (!string.IsNullOrEmpty(value.Regex)) header["regex"] = value.Regex;
            else header["present"] = true;
            yield return new JsonObject { ["header"] = header };
        }
        foreach (var (name, value) in (match.QueryParams ?? new Dictionary<string, StringMatch>()).OrderBy(q => q.Key, StringComparer.Ordinal))
        {
            var query = new JsonObject { ["name"] = name };
            if (!string.IsNullOrEmpty(value.Exact)) query["exact"] = value.Exact;
            else if (!string.IsNullOrEmpty(value.Prefix)) query["prefix"] = value.Prefix;
            else if (!string.IsNullOrEmpty(value.Regex)) query["regex"] = value.Regex;
            else query["present"] = true;
            yield return new JsonObject { ["queryParameter"] = query };
        }
    }

    private protected override Outcome<RouteWeights> ReadWeights(CanaryPolicy canary, JsonObject proxy)
    {
        var primary = canary.ServiceName + "-primary";
        var first = (proxy["spec"]?["routes"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
        var services = (first?["services"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (services.Count < 2) return Outcome<RouteWeights>.Fail($"HTTPProxy {canary.ServiceName}.{canary.Namespace} services not found");
        if (services.FirstOrDefault(s => RoutingJson.Text(s["name"]) == primary) is not { } entry)
            return Outcome<RouteWeights>.Fail($"HTTPProxy {canary.ServiceName}.{canary.Namespace} does not contain a route for {primary}");
        if (RoutingJson.Integer(entry["weight"]) is not { } weight || weight is < 0 or > 100)
            return Outcome<RouteWeights>.Fail($"HTTPProxy {canary.ServiceName}.{canary.Namespace} service {primary} has a weight that is not a whole number from 0 to 100: {entry["weight"]?.ToJsonString()}");
        return new RouteWeights(weight, 100 - weight);
    }
}
