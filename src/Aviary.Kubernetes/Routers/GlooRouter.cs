using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Provider <c>gloo</c>, as Flagger's Gloo Edge router: two <c>Upstream</c>s (<c>gloo.solo.io/v1</c>) in the canary's
/// namespace, <c>&lt;ns&gt;-&lt;svc&gt;-primaryupstream-&lt;port&gt;</c> and <c>…-canaryupstream-…</c>, each a kube upstream of
/// the <c>-primary</c> or <c>-canary</c> Service (its selector, <c>service.port</c>) that takes the TLS, circuit-breaker,
/// connection, load-balancer and HTTP/2 settings of the Upstream in <c>spec.upstreamRef</c> when there is one (Flagger
/// creates these so routing does not depend on Gloo's discovery); and one <c>RouteTable</c> (<c>gateway.solo.io/v1</c>)
/// named after the apex, with the apex metadata, whose route inherits the path of the VirtualService that delegates to
/// it and splits between the two upstreams. All are owned by the Canary. The canary's share is read from the first
/// route as 100 minus the primary's, as Flagger reads it.
/// <para>
/// A/B testing (<c>analysis.match</c>) puts one matcher per match entry on the first route (Gloo takes a route when any
/// matcher holds, each matcher when all its headers and query parameters do), and Aviary adds a default route that keeps
/// the rest on the primary. Flagger ANDs all entries' headers into one matcher and adds no default route (requests
/// without the headers then find no route in the table); it also drops a header's prefix or suffix, which Aviary writes
/// as a full-match regex. Mirroring and session affinity are refused (see <see cref="RouterCapabilities"/>); so is A/B
/// testing by source labels.
/// </para>
/// </summary>
public sealed class GlooRouter : WeightedObjectRouter
{
    private readonly RoutedObjects _upstreams;
    private readonly RoutedObjects _services;

    public GlooRouter(KubeClient client, ILogger? logger = null) : base(client, KubeResources.RouteTables, logger)
    {
        _upstreams = new RoutedObjects(client, KubeResources.Upstreams, Logger);
        _services = new RoutedObjects(client, KubeResources.Services, Logger);
    }

    public override string Provider => Providers.Gloo;

    /// <summary>The Upstream Flagger names for the primary or canary Service of <paramref name="canary"/>.</summary>
    public static string UpstreamName(CanaryPolicy canary, BackendKind kind) =>
        $"{canary.Namespace}-{canary.ServiceName}-{(kind == BackendKind.Primary ? "primary" : "canary")}upstream-{canary.ServicePort?.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Which of the two Services an Upstream points at.</summary>
    public enum BackendKind
    {
        Primary,
        Canary,
    }

    /// <summary>The fields of <c>spec.upstreamRef</c>'s Upstream that the two Upstreams take (Flagger's list).</summary>
    private static readonly string[] ConfigFields =
    [
        "labels", "sslConfig", "circuitBreakers", "connectionConfig", "loadBalancerConfig", "useHttp2",
        "initialStreamWindowSize", "initialConnectionWindowSize", "httpProxyHostname",
    ];

    private protected override string? Unroutable(CanaryPolicy canary) => RouterChecks.HeaderOrQueryMatches(canary, Provider);

    private protected override async Task<Outcome> ReconcileReferencedAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        JsonObject? config = null;
        if (canary.Manifest.Spec.UpstreamRef is { } reference)
        {
            var found = await _upstreams.RequireAsync(reference.Namespace is { Length: > 0 } ns ? ns : canary.Namespace, reference.Name, cancellationToken).ConfigureAwait(false);
            if (!found.Succeeded) return Outcome.Fail($"config upstream (spec.upstreamRef): {found.Error}");
            config = found.Value!["spec"] as JsonObject;
        }
        foreach (var kind in new[] { BackendKind.Primary, BackendKind.Canary })
        {
            var serviceName = canary.ServiceName + (kind == BackendKind.Primary ? "-primary" : "-canary");
            var service = await _services.RequireAsync(canary.Namespace, serviceName, cancellationToken).ConfigureAwait(false);
            if (!service.Succeeded) return Outcome.Fail(service.Error!);
            var spec = new JsonObject();
            foreach (var field in ConfigFields)
            {
                if (config?[field] is { } value) spec[field] = value.DeepClone();
            }
            spec["kube"] = new JsonObject
            {
                ["serviceName"] = serviceName,
                ["serviceNamespace"] = canary.Namespace,
                ["servicePort"] = canary.ServicePort,
                ["selector"] = service.Value!["spec"]?["selector"]?.DeepClone() ?? new JsonObject(),
            };
            var name = UpstreamName(canary, kind);
            var written = await _upstreams.ApplyAsync(canary.Namespace, name, create: true,
                current => RoutingJson.Desire(_upstreams.Type, name, canary, current, spec, null, null), cancellationToken).ConfigureAwait(false);
            if (!written.Succeeded) return written;
        }
        return Outcome.Ok;
    }

    private protected override JsonObject? Desire(CanaryPolicy canary, JsonObject? current, RouteWeights weights)
    {
        var routes = new JsonArray();
        if (canary.Match.Count > 0)
        {
            routes.Add(Route(canary, weights, RoutingJson.Array(canary.Match.Select(Matcher))));
            routes.Add(Route(canary, RouteWeights.AllPrimary, null));
        }
        else
        {
            routes.Add(Route(canary, weights, null));
        }
        var spec = new JsonObject { ["routes"] = routes };
        var apex = canary.Manifest.Spec.Service?.Apex;
        return RoutingJson.Desire(Objects.Type, canary.ServiceName, canary, current, spec, apex?.Labels, apex?.Annotations);
    }

    private static JsonObject Route(CanaryPolicy canary, RouteWeights weights, JsonArray? matchers)
    {
        var route = new JsonObject();
        if (matchers is not null) route["matchers"] = matchers;
        route["inheritablePathMatchers"] = true;
        route["routeAction"] = new JsonObject
        {
            ["multi"] = new JsonObject
            {
                ["destinations"] = new JsonArray(
                    Destination(canary, UpstreamName(canary, BackendKind.Primary), weights.Primary),
                    Destination(canary, UpstreamName(canary, BackendKind.Canary), weights.Canary)),
            },
        };
        return route;
    }

    private static JsonObject Destination(CanaryPolicy canary, string upstream, int weight) => new()
    {
        ["destination"] = new JsonObject { ["upstream"] = new JsonObject { ["name"] = upstream, ["namespace"] = canary.Namespace } },
        ["weight"] = weight,
    };

    private static JsonObject Matcher(AnalysisMatch match)
    {
        var matcher = new JsonObject();
        if (match.Headers is { Count: > 0 } headers)
        {
            matcher["headers"] = RoutingJson.Array(headers.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => h.Value switch
            {
                { Exact: { Length: > 0 } exact } => Value(h.Key, exact, false),
                { Prefix: { Length: > 0 } prefix } => Value(h.Key, RoutingJson.PrefixRegex(prefix), true),
                { Suffix: { Length: > 0 } suffix } => Value(h.Key, RoutingJson.SuffixRegex(suffix), true),
                { Regex: { Length: > 0 } regex } => Value(h.Key, regex, true),
                // No value: the header must be present (Gloo's matcher without a value).
                _ => new JsonObject { ["name"] = h.Key },
            }));
        }
        if (match.QueryParams is { Count: > 0 } query)
        {
            matcher["queryParameters"] = RoutingJson.Array(query.OrderBy(q => q.Key, StringComparer.Ordinal).Select(q => q.Value switch
            {
                { Exact: { Length: > 0 } exact } => Value(q.Key, exact, false),
                { Prefix: { Length: > 0 } prefix } => Value(q.Key, RoutingJson.PrefixRegex(prefix), true),
                { Regex: { Length: > 0 } regex } => Value(q.Key, regex, true),
                _ => new JsonObject { ["name"] = q.Key },
            }));
        }
        return matcher;
    }

    private static JsonObject Value(string name, string value, bool regex)
    {
        var o = new JsonObject { ["name"] = name, ["value"] = value };
        if (regex) o["regex"] = true;
        return o;
    }

    private protected override Outcome<RouteWeights> ReadWeights(CanaryPolicy canary, JsonObject table)
    {
        var primary = UpstreamName(canary, BackendKind.Primary);
        var first = (table["spec"]?["routes"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
        var destinations = (first?["routeAction"]?["multi"]?["destinations"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (destinations.Count < 2) return Outcome<RouteWeights>.Fail($"RouteTable {canary.ServiceName}.{canary.Namespace} destinations not found");
        if (destinations.FirstOrDefault(d => RoutingJson.Text(d["destination"]?["upstream"]?["name"]) == primary) is not { } entry)
            return Outcome<RouteWeights>.Fail($"RouteTable {canary.ServiceName}.{canary.Namespace} does not contain a destination for {primary}");
        if (RoutingJson.Integer(entry["weight"]) is not { } weight || weight is < 0 or > 100)
            return Outcome<RouteWeights>.Fail($"RouteTable {canary.ServiceName}.{canary.Namespace} destination {primary} has a weight that is not a whole number from 0 to 100: {entry["weight"]?.ToJsonString()}");
        return new RouteWeights(weight, 100 - weight);
    }
}
