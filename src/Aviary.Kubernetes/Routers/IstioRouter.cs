using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Provider <c>istio</c> (<c>networking.istio.io/v1beta1</c>), as Flagger writes it:
/// <list type="bullet">
/// <item>two <c>DestinationRule</c>s, <c>&lt;svc&gt;-primary</c> and <c>&lt;svc&gt;-canary</c>, with <c>host</c> = their
/// name and <c>service.trafficPolicy</c>;</item>
/// <item>a <c>VirtualService</c> named after the apex service, labelled and annotated with <c>service.apex</c>:
/// <c>hosts</c> = <c>service.hosts</c> plus the apex service, <c>gateways</c> = <c>service.gateways</c> (default
/// <c>mesh</c>), both empty for <c>service.delegation</c>; one HTTP route with <c>service.match</c>, <c>rewrite</c>,
/// <c>timeout</c>, <c>retries</c>, <c>corsPolicy</c> and <c>headers</c> and the destinations <c>&lt;svc&gt;-primary</c>
/// and <c>&lt;svc&gt;-canary</c> with the weights (and the service port with <c>portDiscovery</c> behind a gateway);</item>
/// <item>mirroring: <c>mirror</c> = the canary and <c>mirrorPercentage</c> = <c>mirrorWeight</c> when set;</item>
/// <item>A/B testing: a first route matching <c>analysis.match</c> merged into each <c>service.match</c> with the
/// weights, then the service's route to the primary alone;</item>
/// <item>session affinity (<see cref="SessionCookies"/>): while the canary takes traffic, routes matching the canary
/// (and primary) cookie in the <c>Cookie</c> header to their arm ahead of the weighted route, whose destinations add
/// <c>Set-Cookie</c>; once it takes nothing, a copy of the weighted route for the last cookie's holders expiring it;</item>
/// <item><c>appProtocol: tcp</c>: one TCP route with the weights instead.</item>
/// </list>
/// Objects are owned by the Canary. When Aviary takes over a VirtualService it did not create and that
/// <c>kubectl apply</c> did not annotate, its spec is kept in <c>flagger.kubernetes.io/original-configuration</c>;
/// <see cref="FinalizeAsync"/> restores the spec from either, or else routes everything to the primary.
/// </summary>
public sealed class IstioRouter : IKubeRouter
{
    private readonly RoutedObjects _virtualServices;
    private readonly RoutedObjects _destinationRules;
    private readonly ILogger _logger;

    public IstioRouter(KubeClient client, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _logger = logger ?? NullLogger.Instance;
        _virtualServices = new RoutedObjects(client, KubeResources.VirtualServices, _logger);
        _destinationRules = new RoutedObjects(client, KubeResources.DestinationRules, _logger);
    }

    public string Provider => "istio";

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (Unsupported(canary, mirrored: false) is { } error) return Outcome.Fail(error);
        foreach (var name in new[] { canary.ServiceName + "-canary", canary.ServiceName + "-primary" })
        {
            var spec = new JsonObject { ["host"] = name };
            if (RoutingJson.Node(canary.Manifest.Spec.Service?.TrafficPolicy) is { } policy) spec["trafficPolicy"] = policy;
            var rule = await _destinationRules.ApplyAsync(canary.Namespace, name, create: true,
                current => RoutingJson.Desire(_destinationRules.Type, name, canary, current, spec, labels: null, annotations: null),
                cancellationToken).ConfigureAwait(false);
            if (!rule.Succeeded) return rule;
        }
        return await _virtualServices.ApplyAsync(canary.Namespace, canary.ServiceName, create: true, current =>
        {
            var weights = current is null ? RouteWeights.AllPrimary : RouterChecks.OrAllPrimary(ReadWeights(canary, current));
            if (weights.Mirrored && !canary.Mirror) weights = weights with { Mirrored = false };
            return Desire(canary, current, weights);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var vs = await _virtualServices.RequireAsync(canary.Namespace, canary.ServiceName, cancellationToken).ConfigureAwait(false);
        return vs.Succeeded ? ReadWeights(canary, vs.Value!) : Outcome<RouteWeights>.Fail(vs.Error!);
    }

    public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if ((Unsupported(canary, weights.Mirrored) ?? RouterChecks.InvalidWeights(canary, weights)) is { } error) return Outcome.Fail(error);
        var result = await _virtualServices.ApplyAsync(canary.Namespace, canary.ServiceName, create: false, current => Desire(canary, current, weights),
            cancellationToken).ConfigureAwait(false);
        if (result.Succeeded) KubeRouterLog.Routed(_logger, _virtualServices.Kind, canary.ServiceName, canary.Namespace, weights.ToString());
        return result;
    }

    /// <summary>
    /// Restores the VirtualService's original spec (from <c>kubectl apply</c>'s annotation, else Flagger's
    /// original-configuration annotation) when Aviary took it over; otherwise routes everything to the primary.
    /// </summary>
    public async ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var vs = await _virtualServices.RequireAsync(canary.Namespace, canary.ServiceName, cancellationToken).ConfigureAwait(false);
        if (!vs.Succeeded) return Outcome.Fail(vs.Error!);
        var (original, source, error) = OriginalSpec(canary, vs.Value!);
        if (error is not null) return Outcome.Fail(error);
        if (original is null) return await SetRoutesAsync(canary, RouteWeights.AllPrimary, cancellationToken).ConfigureAwait(false);
        var restored = await _virtualServices.ApplyAsync(canary.Namespace, canary.ServiceName, create: false, current =>
        {
            if (RoutingJson.Contains(current!["spec"], original) && RoutingJson.Contains(original, current["spec"])
                && RoutingJson.Annotation(current, RoutingJson.SpecHashAnnotation) is null) return null;
            var next = (JsonObject)current.DeepClone();
            next["spec"] = original.DeepClone();
            RoutingJson.RemoveAnnotations(next, RoutingJson.SpecHashAnnotation);
            return next;
        }, cancellationToken).ConfigureAwait(false);
        if (restored.Succeeded) KubeRouterLog.Restored(_logger, _virtualServices.Kind, canary.ServiceName, canary.Namespace, source!);
        return restored;
    }

    private static (JsonObject? Spec, string? Source, string? Error) OriginalSpec(CanaryPolicy canary, JsonObject vs)
    {
        var id = $"{canary.ServiceName}.{canary.Namespace}";
        try
        {
            if (RoutingJson.Annotation(vs, RoutingJson.KubectlAnnotation) is { } applied)
            {
                return JsonNode.Parse(applied)?["spec"] is JsonObject spec
                    ? ((JsonObject)spec.DeepClone(), RoutingJson.KubectlAnnotation, null)
                    : (null, null, $"VirtualService {id} failed to unmarshal annotation {RoutingJson.KubectlAnnotation}");
            }
            if (RoutingJson.Annotation(vs, RoutingJson.OriginalConfigurationAnnotation) is { } stored)
            {
                return JsonNode.Parse(stored) is JsonObject spec
                    ? (spec, RoutingJson.OriginalConfigurationAnnotation, null)
                    : (null, null, $"VirtualService {id} failed to unmarshal annotation {RoutingJson.OriginalConfigurationAnnotation}");
            }
        }
        catch (JsonException e)
        {
            return (null, null, $"VirtualService {id} failed to unmarshal its original configuration: {e.Message}");
        }
        return (null, null, null);
    }

    private JsonObject? Desire(CanaryPolicy canary, JsonObject? current, RouteWeights weights)
    {
        var service = canary.Manifest.Spec.Service ?? new CanaryService();
        string apex = canary.ServiceName, primary = apex + "-primary", canaryName = apex + "-canary";
        var delegation = service.Delegation == true;

        var hosts = new List<string>(service.Hosts ?? []);
        if (!hosts.Any(h => h == apex || h == "*")) hosts.Add(apex);
        var gateways = service.Gateways is { Count: > 0 } g ? new List<string>(g) : ["mesh"];
        if (delegation)
        {
            hosts.Clear();
            gateways.Clear();
        }

        var spec = new JsonObject
        {
            ["hosts"] = RoutingJson.Node(hosts),
            ["gateways"] = RoutingJson.Node(gateways),
        };
        if (IsTcp(canary))
        {
            var tcp = new JsonObject();
            var ports = (service.Match ?? []).Where(m => m.Port is not null).Select(m => (JsonNode)new JsonObject { ["port"] = m.Port }).ToList();
            if (ports.Count > 0) tcp["match"] = RoutingJson.Array(ports);
            tcp["route"] = new JsonArray(Destination(canary, primary, weights.Primary), Destination(canary, canaryName, weights.Canary));
            spec["tcp"] = new JsonArray(tcp);
        }
        else if (canary.Match.Count > 0)
        {
            spec["http"] = new JsonArray(
                Route(service, MergeMatches(canary.Match, service.Match),
                    Destination(canary, primary, weights.Primary), Destination(canary, canaryName, weights.Canary)),
                Route(service, RoutingJson.Node(service.Match) as JsonArray, Destination(canary, primary, 100)));
        }
        else
        {
            var sticky = SessionCookies.Read(canary, weights, StickyRoutes(current));
            JsonObject Weighted(JsonArray? match, string? expire = null)
            {
                var route = Route(service, match,
                    Destination(canary, primary, weights.Primary, sticky?.PrimarySetCookie), Destination(canary, canaryName, weights.Canary, sticky?.CanarySetCookie));
                if (expire is not null) AddSetCookie(route, expire);
                if (weights.Mirrored)
                {
                    route["mirror"] = new JsonObject { ["host"] = canaryName };
                    if (canary.MirrorWeight > 0) route["mirrorPercentage"] = new JsonObject { ["value"] = canary.MirrorWeight };
                }
                return route;
            }
            var http = new JsonArray();
            // Session affinity: the cookies' holders stay on their arm; the last rollout's cookie is expired.
            if (sticky?.Canary is { } canaryCookie)
                http.Add(Route(service, CookieMatch(canaryCookie, service.Match), Destination(canary, primary, 0), Destination(canary, canaryName, 100)));
            if (sticky?.Primary is { } primaryCookie)
                http.Add(Route(service, CookieMatch(primaryCookie, service.Match), Destination(canary, primary, 100), Destination(canary, canaryName, 0)));
            if (sticky?.Previous is { } previous) http.Add(Weighted(CookieMatch(previous, service.Match), sticky.PreviousExpiry));
            http.Add(Weighted(RoutingJson.Node(service.Match) as JsonArray));
            spec["http"] = http;
        }

        var annotations = RoutingJson.Merge(service.Apex?.Annotations, RoutingJson.FluxOptOut);
        // Taking over a VirtualService that neither Aviary nor kubectl apply wrote: keep its spec for FinalizeAsync.
        if (current is not null && RoutingJson.Annotation(current, RoutingJson.SpecHashAnnotation) is null
            && RoutingJson.Annotation(current, RoutingJson.KubectlAnnotation) is null
            && RoutingJson.Annotation(current, RoutingJson.OriginalConfigurationAnnotation) is null
            && current["spec"] is JsonObject original)
        {
            annotations[RoutingJson.OriginalConfigurationAnnotation] = original.ToJsonString();
        }
        return RoutingJson.Desire(_virtualServices.Type, apex, canary, current, spec, service.Apex?.Labels, annotations);
    }

    private static JsonObject Route(CanaryService service, JsonArray? match, params JsonObject[] destinations)
    {
        var route = new JsonObject();
        if (match is { Count: > 0 }) route["match"] = match;
        if (service.Rewrite is { } rewrite && (!string.IsNullOrEmpty(rewrite.Uri) || !string.IsNullOrEmpty(rewrite.Authority)))
        {
            var r = new JsonObject();
            if (!string.IsNullOrEmpty(rewrite.Uri)) r["uri"] = rewrite.Uri;
            if (!string.IsNullOrEmpty(rewrite.Authority)) r["authority"] = rewrite.Authority;
            route["rewrite"] = r;
        }
        if (!string.IsNullOrEmpty(service.Timeout)) route["timeout"] = service.Timeout;
        if (RoutingJson.Node(service.Retries) is { } retries) route["retries"] = retries;
        if (RoutingJson.Node(service.CorsPolicy) is { } cors) route["corsPolicy"] = cors;
        if (RoutingJson.Node(service.Headers) is { } headers) route["headers"] = headers;
        route["route"] = RoutingJson.Array(destinations);
        return route;
    }

    /// <summary>The cookie-matching routes of <paramref name="vs"/>: their <c>Cookie</c> regex and whether they expire it.</summary>
    private static IEnumerable<SessionCookies.Route> StickyRoutes(JsonObject? vs) =>
        (vs?["spec"]?["http"] as JsonArray ?? []).OfType<JsonObject>().Select(r => new SessionCookies.Route(
            RoutingJson.Text(r["match"]?[0]?["headers"]?[CookieHeader]?["regex"]),
            RoutingJson.Text(r["headers"]?["response"]?["add"]?[SetCookieHeader])?.EndsWith("Max-Age=-1", StringComparison.Ordinal) == true));

    /// <summary>A match on the <c>Cookie</c> header carrying <paramref name="cookie"/>, merged into each service match.</summary>
    private static JsonArray CookieMatch((string Name, string Value) cookie, IReadOnlyList<HttpMatchRequest>? defaults)
    {
        var merged = new JsonArray();
        var services = defaults is { Count: > 0 } ? defaults.Select(d => RoutingJson.Node(d) as JsonObject ?? []).ToList() : [new JsonObject()];
        foreach (var s in services)
        {
            var m = (JsonObject)s.DeepClone();
            var headers = m["headers"] as JsonObject ?? [];
            headers[CookieHeader] = new JsonObject { ["regex"] = SessionCookies.MatchRegex(cookie) };
            m["headers"] = headers;
            merged.Add(m);
        }
        return merged;
    }

    /// <summary>Adds a <c>Set-Cookie</c> to the responses of a route or destination (<c>headers.response.add</c>).</summary>
    private static void AddSetCookie(JsonObject target, string setCookie)
    {
        var headers = target["headers"] as JsonObject ?? [];
        var response = headers["response"] as JsonObject ?? [];
        var add = response["add"] as JsonObject ?? [];
        add[SetCookieHeader] = setCookie;
        response["add"] = add;
        headers["response"] = response;
        target["headers"] = headers;
    }

    private const string CookieHeader = "Cookie";
    private const string SetCookieHeader = "Set-Cookie";

    private static JsonObject Destination(CanaryPolicy canary, string host, int weight, string? setCookie = null)
    {
        var service = canary.Manifest.Spec.Service;
        var destination = new JsonObject { ["host"] = host };
        // Behind an ingress gateway (or delegated to), Istio needs the port when the service has several.
        if (service?.PortDiscovery == true && canary.ServicePort is { } port
            && ((service.Gateways is [var first, ..] && first != "mesh") || service.Delegation == true))
        {
            destination["port"] = new JsonObject { ["number"] = port };
        }
        var routed = new JsonObject { ["destination"] = destination, ["weight"] = weight };
        if (setCookie is not null) AddSetCookie(routed, setCookie);
        return routed;
    }

    /// <summary>Each analysis match merged into each service match (its headers, query parameters and source labels win).</summary>
    private static JsonArray MergeMatches(IReadOnlyList<AnalysisMatch> analysis, IReadOnlyList<HttpMatchRequest>? defaults)
    {
        var merged = new JsonArray();
        var services = defaults is { Count: > 0 } ? defaults.Select(d => RoutingJson.Node(d) as JsonObject ?? []).ToList() : [new JsonObject()];
        foreach (var a in analysis)
        {
            foreach (var s in services)
            {
                var m = (JsonObject)s.DeepClone();
                if (a.Headers is { Count: > 0 } headers)
                {
                    var h = new JsonObject();
                    m["headers"] = h;
                    foreach (var (name, value) in headers.OrderBy(x => x.Key, StringComparer.Ordinal)) h[name] = StringMatch(value);
                }
                if (a.QueryParams is { Count: > 0 } query) m["queryParams"] = RoutingJson.Node(query);
                if (a.SourceLabels is { Count: > 0 } labels) m["sourceLabels"] = RoutingJson.Node(labels);
                merged.Add(m);
            }
        }
        return merged;
    }

    /// <summary>Istio's StringMatch has exact, prefix and regex; a suffix becomes a regex.</summary>
    private static JsonObject StringMatch(HeaderMatch value) =>
        !string.IsNullOrEmpty(value.Exact) ? new JsonObject { ["exact"] = value.Exact }
        : !string.IsNullOrEmpty(value.Prefix) ? new JsonObject { ["prefix"] = value.Prefix }
        : !string.IsNullOrEmpty(value.Suffix) ? new JsonObject { ["regex"] = RoutingJson.SuffixRegex(value.Suffix) }
        : new JsonObject { ["regex"] = value.Regex ?? "" };

    private static bool IsTcp(CanaryPolicy canary) => string.Equals(canary.Manifest.Spec.Service?.AppProtocol, "tcp", StringComparison.OrdinalIgnoreCase);

    private static Outcome<RouteWeights> ReadWeights(CanaryPolicy canary, JsonObject vs)
    {
        string apex = canary.ServiceName, primary = apex + "-primary", canaryName = apex + "-canary";
        var routes = (vs["spec"]?[IsTcp(canary) ? "tcp" : "http"] as JsonArray ?? []).OfType<JsonObject>();
        // The route with the canary destination (the last one, as Flagger reads it).
        var weighted = routes.LastOrDefault(r => Destinations(r).Any(d => d.Host == canaryName));
        int p = 0, c = 0;
        if (weighted is not null)
        {
            foreach (var (host, weight) in Destinations(weighted))
            {
                if (host == primary) p = weight;
                else if (host == canaryName) c = weight;
            }
        }
        if (p == 0 && c == 0)
            return Outcome<RouteWeights>.Fail($"VirtualService {apex}.{canary.Namespace} does not contain routes for {primary} and {canaryName}");
        var mirrored = !IsTcp(canary) && RoutingJson.Text(weighted?["mirror"]?["host"]) is { Length: > 0 };
        return new RouteWeights(p, c, mirrored);
    }

    private static IEnumerable<(string? Host, int Weight)> Destinations(JsonObject route) =>
        (route["route"] as JsonArray ?? []).OfType<JsonObject>()
            .Select(d => (RoutingJson.Text(d["destination"]?["host"]), RoutingJson.Integer(d["weight"]) ?? 0));

    private string? Unsupported(CanaryPolicy canary, bool mirrored)
    {
        var service = canary.Manifest.Spec.Service;
        if (service?.Delegation == true && (service.Hosts is { Count: > 0 } || service.Gateways is { Count: > 0 }))
            return $"VirtualService {canary.ServiceName}.{canary.Namespace} cannot have hosts and gateways when delegation enabled";
        if (RouterCapabilities.Refusal(canary, Provider) is { } refusal) return refusal;
        if (IsTcp(canary) && canary.Match.Count > 0)
            return $"cannot route {canary.Id}: A/B testing (analysis.match) is not supported by the {Provider} router for TCP services (appProtocol: tcp)";
        if (IsTcp(canary) && (canary.Mirror || mirrored))
            return $"cannot route {canary.Id}: mirroring is not supported by the {Provider} router for TCP services (appProtocol: tcp)";
        if (IsTcp(canary) && canary.SessionAffinity is not null)
            return $"cannot route {canary.Id}: session affinity (analysis.sessionAffinity) is not supported by the {Provider} router for TCP services (appProtocol: tcp)";
        return null;
    }
}
