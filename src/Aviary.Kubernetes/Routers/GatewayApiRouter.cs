using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Routers;

/// <summary>The Gateway API version a <see cref="GatewayApiRouter"/> writes.</summary>
public enum GatewayApiVersion
{
    /// <summary><c>gateway.networking.k8s.io/v1beta1</c> (provider <c>gatewayapi:v1beta1</c>).</summary>
    V1Beta1,

    /// <summary><c>gateway.networking.k8s.io/v1</c> (provider <c>gatewayapi:v1</c>); reads also check that the parents accepted the route.</summary>
    V1,
}

/// <summary>
/// Providers <c>gatewayapi:v1beta1</c> and <c>gatewayapi:v1</c>: one <c>HTTPRoute</c> named after the apex service
/// (or, with Aviary's <c>spec.service.routeKind: GRPCRoute</c>, a <c>GRPCRoute</c> v1 with the same rules, service and
/// method matches from <c>/&lt;service&gt;/&lt;method&gt;</c> uris, no rewrites, timeouts or session affinity),
/// owned by the Canary, labelled and annotated with <c>service.apex</c>, as Flagger writes it:
/// <list type="bullet">
/// <item><c>parentRefs</c> = <c>service.gatewayRefs</c> (required), <c>hostnames</c> = <c>service.hosts</c>;</item>
/// <item>one rule with <c>service.match</c> (default: path prefix <c>/</c>), the filters of <c>service.headers</c>,
/// <c>service.rewrite</c> and <c>service.mirror</c>, <c>timeouts</c> from <c>service.timeout</c>/<c>backendTimeout</c>,
/// and the backends <c>&lt;svc&gt;-primary</c> and <c>&lt;svc&gt;-canary</c> (kind Service, <c>service.port</c>) with
/// the weights;</item>
/// <item>A/B testing: that rule's matches are <c>analysis.match</c> (headers, query parameters) merged into each
/// service match, followed by a default rule to the primary alone;</item>
/// <item>mirroring: a <c>RequestMirror</c> filter to the canary service (with <c>percent</c> = <c>mirrorWeight</c>
/// when it is below 100).</item>
/// <item>session affinity (<see cref="SessionCookies"/>): while the canary takes traffic, rules matching the canary (and
/// primary) cookie in the <c>Cookie</c> header to their arm ahead of the weighted rule, whose backends add
/// <c>Set-Cookie</c> with a ResponseHeaderModifier filter; once it takes nothing, a copy of the weighted rule for the
/// last cookie's holders expiring it.</item>
/// </list>
/// Header and query matches by prefix or suffix are written as regular expressions; source labels are answered with a
/// failed <see cref="Outcome"/>.
/// </summary>
public sealed class GatewayApiRouter : IKubeRouter
{
    private readonly RoutedObjects _routes;
    private readonly RoutedObjects _grpcRoutes;
    private readonly GatewayApiVersion _version;
    private readonly ILogger _logger;

    public GatewayApiRouter(KubeClient client, GatewayApiVersion version = GatewayApiVersion.V1Beta1, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _version = version;
        _logger = logger ?? NullLogger.Instance;
        Provider = version == GatewayApiVersion.V1 ? "gatewayapi:v1" : "gatewayapi:v1beta1";
        _routes = new RoutedObjects(client, KubeResources.HttpRoutes.WithVersion(version == GatewayApiVersion.V1 ? "v1" : "v1beta1"), _logger);
        _grpcRoutes = new RoutedObjects(client, KubeResources.GrpcRoutes, _logger);
    }

    /// <summary>The route objects of <paramref name="canary"/>: HTTPRoutes, or GRPCRoutes (<c>spec.service.routeKind</c>).</summary>
    private RoutedObjects RoutesOf(CanaryPolicy canary) => RouterCapabilities.IsGrpcRoute(canary) ? _grpcRoutes : _routes;

    public string Provider { get; }

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var plan = Plan(canary);
        if (plan.Error is not null) return Outcome.Fail(plan.Error);
        return await RoutesOf(canary).ApplyAsync(canary.Namespace, canary.ServiceName, create: true, current =>
        {
            var weights = current is null ? RouteWeights.AllPrimary : RouterChecks.OrAllPrimary(ReadWeights(canary, current, checkParents: false));
            if (weights.Mirrored && !canary.Mirror) weights = weights with { Mirrored = false };
            return Desire(canary, plan, current, weights);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var route = await RoutesOf(canary).RequireAsync(canary.Namespace, canary.ServiceName, cancellationToken).ConfigureAwait(false);
        return route.Succeeded ? ReadWeights(canary, route.Value!, checkParents: _version == GatewayApiVersion.V1) : Outcome<RouteWeights>.Fail(route.Error!);
    }

    public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var plan = Plan(canary);
        if ((plan.Error ?? RouterChecks.InvalidWeights(canary, weights)) is { } error) return Outcome.Fail(error);
        var routes = RoutesOf(canary);
        var result = await routes.ApplyAsync(canary.Namespace, canary.ServiceName, create: false, current => Desire(canary, plan, current, weights),
            cancellationToken).ConfigureAwait(false);
        if (result.Succeeded) KubeRouterLog.Routed(_logger, routes.Kind, canary.ServiceName, canary.Namespace, weights.ToString());
        return result;
    }

    /// <summary>Routes everything to the primary (no mirroring); the route itself goes with the Canary (owner reference).</summary>
    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        SetRoutesAsync(canary, RouteWeights.AllPrimary, cancellationToken);

    private sealed record RoutePlan(JsonArray ServiceMatches, JsonArray? CanaryMatches, JsonArray Filters, JsonObject? Timeouts, string? Error)
    {
        public static RoutePlan Failed(string error) => new([], null, [], null, error);
    }

    private RoutePlan Plan(CanaryPolicy canary)
    {
        var service = canary.Manifest.Spec.Service;
        if (service?.GatewayRefs is not { Count: > 0 })
            return RoutePlan.Failed($"cannot route {canary.Id}: GatewayRefs must be specified when using Gateway API as a provider (service.gatewayRefs)");
        if (RouterCapabilities.Refusal(canary, Provider) is { } refusal) return RoutePlan.Failed(refusal);
        if (canary.ServicePort is null) return RoutePlan.Failed($"cannot route {canary.Id}: service.port is required");
        var grpc = RouterCapabilities.IsGrpcRoute(canary);
        if (grpc && GrpcUnsupported(service) is { } unsupported) return RoutePlan.Failed($"cannot route {canary.Id}: {unsupported}");

        var serviceMatches = new JsonArray();
        for (var i = 0; i < (service.Match?.Count ?? 0); i++)
        {
            var mapped = grpc ? GrpcServiceMatch(service.Match![i], i) : ServiceMatch(service.Match![i]);
            if (mapped.Error is not null) return RoutePlan.Failed($"cannot route {canary.Id}: invalid request matching selectors: {mapped.Error}");
            if (mapped.Value is { Count: > 0 } match) serviceMatches.Add(match);
        }
        // An HTTPRoute matches every path by default; a GRPCRoute rule without matches takes every call.
        if (serviceMatches.Count == 0 && !grpc) serviceMatches.Add(new JsonObject { ["path"] = new JsonObject { ["type"] = "PathPrefix", ["value"] = "/" } });

        JsonArray? canaryMatches = null;
        if (canary.Match.Count > 0)
        {
            canaryMatches = [];
            for (var i = 0; i < canary.Match.Count; i++)
            {
                if (grpc && canary.Match[i].QueryParams is { Count: > 0 })
                    return RoutePlan.Failed($"cannot route {canary.Id}: spec.analysis.match[{i}].queryParams: a GRPCRoute matches gRPC headers, services and methods only");
                var mapped = AnalysisMatch(canary.Match[i]);
                if (mapped.Error is not null) return RoutePlan.Failed($"cannot route {canary.Id}: {mapped.Error}");
                foreach (var s in serviceMatches.Count > 0 ? serviceMatches : [new JsonObject()])
                {
                    var merged = (JsonObject)s!.DeepClone();
                    if (mapped.Value!["headers"] is { } headers) merged["headers"] = headers.DeepClone();
                    if (mapped.Value["queryParams"] is { } query) merged["queryParams"] = query.DeepClone();
                    canaryMatches.Add(merged);
                }
            }
        }

        JsonObject? timeouts = null;
        if (!string.IsNullOrEmpty(service.Timeout) || !string.IsNullOrEmpty(service.BackendTimeout))
        {
            timeouts = [];
            if (!string.IsNullOrEmpty(service.Timeout)) timeouts["request"] = service.Timeout;
            if (!string.IsNullOrEmpty(service.BackendTimeout)) timeouts["backendRequest"] = service.BackendTimeout;
        }
        return new RoutePlan(serviceMatches, canaryMatches, Filters(service), timeouts, null);
    }

    private JsonObject? Desire(CanaryPolicy canary, RoutePlan plan, JsonObject? current, RouteWeights weights)
    {
        var service = canary.Manifest.Spec.Service!;
        string primary = canary.ServiceName + "-primary", canaryName = canary.ServiceName + "-canary";
        var port = canary.ServicePort!.Value;

        var filters = (JsonArray)plan.Filters.DeepClone();
        if (weights.Mirrored)
        {
            var mirror = new JsonObject { ["backendRef"] = BackendReference(canaryName, port) };
            if (canary.MirrorWeight is > 0 and < 100) mirror["percent"] = canary.MirrorWeight;
            filters.Add(new JsonObject { ["type"] = "RequestMirror", ["requestMirror"] = mirror });
        }
        var sticky = SessionCookies.Read(canary, weights, StickyRules(current));
        var weighted = Rule(plan.CanaryMatches ?? plan.ServiceMatches, filters, plan.Timeouts,
            Backend(primary, port, weights.Primary, sticky?.PrimarySetCookie), Backend(canaryName, port, weights.Canary, sticky?.CanarySetCookie));
        var rules = new JsonArray();
        // Session affinity: the cookies' holders stay on their arm; the last rollout's cookie is expired.
        if (sticky?.Canary is { } canaryCookie)
            rules.Add(Rule(CookieMatches(canaryCookie, plan.ServiceMatches), plan.Filters, plan.Timeouts, Backend(primary, port, 0), Backend(canaryName, port, 100)));
        if (sticky?.Primary is { } primaryCookie)
            rules.Add(Rule(CookieMatches(primaryCookie, plan.ServiceMatches), plan.Filters, plan.Timeouts, Backend(primary, port, 100), Backend(canaryName, port, 0)));
        if (sticky?.Previous is { } previous)
            rules.Add(Rule(CookieMatches(previous, plan.ServiceMatches), WithSetCookie(filters, sticky.PreviousExpiry!), plan.Timeouts,
                Backend(primary, port, weights.Primary), Backend(canaryName, port, weights.Canary)));
        rules.Add(weighted);
        if (plan.CanaryMatches is not null)
            rules.Add(Rule(plan.ServiceMatches, plan.Filters, plan.Timeouts, Backend(primary, port, 100)));

        var spec = new JsonObject { ["parentRefs"] = RoutingJson.Node(service.GatewayRefs) };
        if (service.Hosts is { Count: > 0 } hosts) spec["hostnames"] = RoutingJson.Node(hosts);
        spec["rules"] = rules;
        var annotations = RoutingJson.Merge(service.Apex?.Annotations, RoutingJson.FluxOptOut);
        return RoutingJson.Desire(RoutesOf(canary).Type, canary.ServiceName, canary, current, spec, service.Apex?.Labels, annotations);
    }

    private static JsonObject Rule(JsonArray matches, JsonArray filters, JsonObject? timeouts, params JsonObject[] backends)
    {
        var rule = new JsonObject();
        if (matches.Count > 0) rule["matches"] = matches.DeepClone();
        if (filters.Count > 0) rule["filters"] = filters.DeepClone();
        rule["backendRefs"] = RoutingJson.Array(backends);
        if (timeouts is not null) rule["timeouts"] = timeouts.DeepClone();
        return rule;
    }

    // The group is left out rather than written as "" (the core group either way, by the Gateway API's definition):
    // some API servers (1.20) read an empty string in a CRD object as null and reject it.
    private static JsonObject BackendReference(string name, int port) => new()
    {
        ["kind"] = "Service",
        ["name"] = name,
        ["port"] = port,
    };

    private static JsonObject Backend(string name, int port, int weight, string? setCookie = null)
    {
        var backend = BackendReference(name, port);
        backend["weight"] = weight;
        if (setCookie is not null) backend["filters"] = WithSetCookie([], setCookie);
        return backend;
    }

    private const string CookieHeader = "Cookie";
    private const string SetCookieHeader = "Set-Cookie";

    /// <summary>The cookie-matching rules of <paramref name="route"/>: their <c>Cookie</c> regex and whether they expire it.</summary>
    private static IEnumerable<SessionCookies.Route> StickyRules(JsonObject? route) =>
        (route?["spec"]?["rules"] as JsonArray ?? []).OfType<JsonObject>().Select(r => new SessionCookies.Route(
            (r["matches"]?[0]?["headers"] as JsonArray ?? []).OfType<JsonObject>()
                .Where(h => RoutingJson.Text(h["name"]) == CookieHeader && RoutingJson.Text(h["type"]) == "RegularExpression")
                .Select(h => RoutingJson.Text(h["value"])).FirstOrDefault(),
            (r["filters"] as JsonArray ?? []).OfType<JsonObject>()
                .SelectMany(f => f["responseHeaderModifier"]?["add"] as JsonArray ?? [])
                .Any(h => RoutingJson.Text(h?["name"]) == SetCookieHeader && RoutingJson.Text(h?["value"])?.EndsWith("Max-Age=-1", StringComparison.Ordinal) == true)));

    /// <summary>Each service match with a <c>Cookie</c> header match for <paramref name="cookie"/>.</summary>
    private static JsonArray CookieMatches((string Name, string Value) cookie, JsonArray serviceMatches)
    {
        var merged = new JsonArray();
        foreach (var s in serviceMatches.OfType<JsonObject>())
        {
            var m = (JsonObject)s.DeepClone();
            var headers = m["headers"] as JsonArray ?? [];
            headers.Add(new JsonObject { ["type"] = "RegularExpression", ["name"] = CookieHeader, ["value"] = SessionCookies.MatchRegex(cookie) });
            m["headers"] = headers;
            merged.Add(m);
        }
        return merged;
    }

    /// <summary>
    /// <paramref name="filters"/> with a response <c>Set-Cookie</c>: added to its ResponseHeaderModifier when it has one
    /// (the Gateway API allows one per rule; Flagger appends a second).
    /// </summary>
    private static JsonArray WithSetCookie(JsonArray filters, string setCookie)
    {
        var copy = (JsonArray)filters.DeepClone();
        var modifier = copy.OfType<JsonObject>().FirstOrDefault(f => RoutingJson.Text(f["type"]) == "ResponseHeaderModifier");
        if (modifier is null)
        {
            modifier = new JsonObject { ["type"] = "ResponseHeaderModifier", ["responseHeaderModifier"] = new JsonObject() };
            copy.Add(modifier);
        }
        var filter = (JsonObject)modifier["responseHeaderModifier"]!;
        var add = filter["add"] as JsonArray ?? [];
        add.Add(new JsonObject { ["name"] = SetCookieHeader, ["value"] = setCookie });
        filter["add"] = add;
        return copy;
    }

    private static JsonArray Filters(CanaryService service)
    {
        var filters = new JsonArray();
        if (service.Headers?.Request is { } request)
            filters.Add(new JsonObject { ["type"] = "RequestHeaderModifier", ["requestHeaderModifier"] = HeaderFilter(request) });
        if (service.Headers?.Response is { } response)
            filters.Add(new JsonObject { ["type"] = "ResponseHeaderModifier", ["responseHeaderModifier"] = HeaderFilter(response) });
        if (service.Rewrite is { } rewrite)
        {
            var urlRewrite = new JsonObject();
            if (!string.IsNullOrEmpty(rewrite.Authority)) urlRewrite["hostname"] = rewrite.Authority;
            if (!string.IsNullOrEmpty(rewrite.Uri))
            {
                urlRewrite["path"] = rewrite.Type == "ReplacePrefixMatch"
                    ? new JsonObject { ["type"] = "ReplacePrefixMatch", ["replacePrefixMatch"] = rewrite.Uri }
                    : new JsonObject { ["type"] = "ReplaceFullPath", ["replaceFullPath"] = rewrite.Uri };
            }
            filters.Add(new JsonObject { ["type"] = "URLRewrite", ["urlRewrite"] = urlRewrite });
        }
        foreach (var mirror in service.Mirror ?? [])
            filters.Add(new JsonObject { ["type"] = "RequestMirror", ["requestMirror"] = RoutingJson.Node(mirror) });
        return filters;
    }

    private static JsonObject HeaderFilter(HeaderOperations operations)
    {
        static JsonArray Headers(IReadOnlyDictionary<string, string> values) => RoutingJson.Array(values
            .OrderBy(h => h.Key, StringComparer.Ordinal).ThenBy(h => h.Value, StringComparer.Ordinal)
            .Select(h => (JsonNode)new JsonObject { ["name"] = h.Key, ["value"] = h.Value }));
        var filter = new JsonObject();
        if (operations.Add is { Count: > 0 } add) filter["add"] = Headers(add);
        if (operations.Set is { Count: > 0 } set) filter["set"] = Headers(set);
        if (operations.Remove is { Count: > 0 } remove) filter["remove"] = RoutingJson.Node(remove);
        return filter;
    }

    /// <summary>What a GRPCRoute cannot carry of <c>spec.service</c> (it has no rewrites and no timeouts), or null.</summary>
    private static string? GrpcUnsupported(CanaryService service) =>
        service.Rewrite is not null ? "spec.service.rewrite: a GRPCRoute has no URL rewrite"
        : !string.IsNullOrEmpty(service.Timeout) ? "spec.service.timeout: a GRPCRoute has no timeouts"
        : !string.IsNullOrEmpty(service.BackendTimeout) ? "spec.service.backendTimeout: a GRPCRoute has no timeouts"
        : null;

    /// <summary>
    /// <c>service.match</c> as a GRPCRouteMatch: a gRPC call's path is <c>/&lt;service&gt;/&lt;method&gt;</c>, so an exact
    /// uri <c>/pkg.Service/Method</c> is that service and method, a prefix <c>/pkg.Service/</c> the service; headers
    /// match as they are. Anything else is an error naming the field.
    /// </summary>
    private static Outcome<JsonObject> GrpcServiceMatch(HttpMatchRequest m, int index)
    {
        var path = $"spec.service.match[{index}]";
        if (m.QueryParams is { Count: > 0 } || m.Method is not null)
            return Outcome<JsonObject>.Fail($"{path}: a GRPCRoute matches gRPC services, methods and headers only (no query parameters or HTTP methods)");
        var match = new JsonObject();
        if (m.Uri is { } uri)
        {
            var exact = uri.Exact?.Trim('/').Split('/');
            var prefix = uri.Prefix?.Trim('/');
            if (exact is [{ Length: > 0 } service, { Length: > 0 } method])
                match["method"] = new JsonObject { ["type"] = "Exact", ["service"] = service, ["method"] = method };
            else if (string.IsNullOrEmpty(uri.Exact) && prefix is { Length: > 0 } && !prefix.Contains('/', StringComparison.Ordinal))
                match["method"] = new JsonObject { ["type"] = "Exact", ["service"] = prefix };
            else
                return Outcome<JsonObject>.Fail($"{path}.uri: a GRPCRoute matches a gRPC service (prefix /<service>/) or a service's method (exact /<service>/<method>)");
        }
        if (m.Headers is { Count: > 0 } headers)
        {
            var mapped = Values(headers.Select(h => (h.Key, h.Value.Exact, h.Value.Prefix, (string?)null, h.Value.Regex)), "header");
            if (mapped.Error is not null) return Outcome<JsonObject>.Fail(mapped.Error);
            match["headers"] = mapped.Value;
        }
        return match;
    }

    /// <summary><c>service.match</c> (Istio's HTTPMatchRequest) as an HTTPRouteMatch: uri, method, headers and query parameters.</summary>
    private static Outcome<JsonObject> ServiceMatch(HttpMatchRequest m)
    {
        var match = new JsonObject();
        if (m.Uri is { } uri)
        {
            var path = !string.IsNullOrEmpty(uri.Regex) ? ("RegularExpression", uri.Regex)
                : !string.IsNullOrEmpty(uri.Exact) ? ("Exact", uri.Exact)
                : !string.IsNullOrEmpty(uri.Prefix) ? ("PathPrefix", uri.Prefix)
                : default;
            if (path.Item1 is null) return Outcome<JsonObject>.Fail("Gateway API doesn't support an empty path matching selector");
            match["path"] = new JsonObject { ["type"] = path.Item1, ["value"] = path.Item2 };
        }
        if (m.Method is { } method)
        {
            if (string.IsNullOrEmpty(method.Exact)) return Outcome<JsonObject>.Fail("Gateway API matches a method exactly only");
            match["method"] = method.Exact;
        }
        if (m.Headers is { Count: > 0 } headers)
        {
            var mapped = Values(headers.Select(h => (h.Key, h.Value.Exact, h.Value.Prefix, (string?)null, h.Value.Regex)), "header");
            if (mapped.Error is not null) return Outcome<JsonObject>.Fail(mapped.Error);
            match["headers"] = mapped.Value;
        }
        if (m.QueryParams is { Count: > 0 } query)
        {
            var mapped = Values(query.Select(q => (q.Key, q.Value.Exact, q.Value.Prefix, (string?)null, q.Value.Regex)), "query");
            if (mapped.Error is not null) return Outcome<JsonObject>.Fail(mapped.Error);
            match["queryParams"] = mapped.Value;
        }
        return match;
    }

    /// <summary><c>analysis.match</c> as an HTTPRouteMatch with headers and query parameters.</summary>
    private Outcome<JsonObject> AnalysisMatch(AnalysisMatch a)
    {
        if (a.SourceLabels is { Count: > 0 })
            return Outcome<JsonObject>.Fail($"A/B testing by source labels (analysis.match.sourceLabels) is not supported by the {Provider} router");
        var match = new JsonObject();
        if (a.Headers is { Count: > 0 } headers)
        {
            var mapped = Values(headers.Select(h => (h.Key, h.Value.Exact, h.Value.Prefix, h.Value.Suffix, h.Value.Regex)), "header");
            if (mapped.Error is not null) return Outcome<JsonObject>.Fail(mapped.Error);
            match["headers"] = mapped.Value;
        }
        if (a.QueryParams is { Count: > 0 } query)
        {
            var mapped = Values(query.Select(q => (q.Key, q.Value.Exact, q.Value.Prefix, (string?)null, q.Value.Regex)), "query");
            if (mapped.Error is not null) return Outcome<JsonObject>.Fail(mapped.Error);
            match["queryParams"] = mapped.Value;
        }
        return match;
    }

    /// <summary>Header or query parameter matches, by name: Exact, or RegularExpression (prefix and suffix become one).</summary>
    private static Outcome<JsonArray> Values(IEnumerable<(string Name, string? Exact, string? Prefix, string? Suffix, string? Regex)> values, string what)
    {
        var list = new JsonArray();
        foreach (var (name, exact, prefix, suffix, regex) in values.OrderBy(v => v.Name, StringComparer.Ordinal))
        {
            var (type, value) = !string.IsNullOrEmpty(exact) ? ("Exact", exact)
                : !string.IsNullOrEmpty(regex) ? ("RegularExpression", regex)
                : !string.IsNullOrEmpty(prefix) ? ("RegularExpression", RoutingJson.PrefixRegex(prefix))
                : !string.IsNullOrEmpty(suffix) ? ("RegularExpression", RoutingJson.SuffixRegex(suffix))
                : (null, null);
            if (type is null) return Outcome<JsonArray>.Fail($"Gateway API doesn't support the {what} matching selector of '{name}' (no exact, prefix, suffix or regex)");
            list.Add(new JsonObject { ["type"] = type, ["name"] = name, ["value"] = value });
        }
        return list;
    }

    private Outcome<RouteWeights> ReadWeights(CanaryPolicy canary, JsonObject route, bool checkParents)
    {
        string primary = canary.ServiceName + "-primary", canaryName = canary.ServiceName + "-canary";
        var id = $"{canary.ServiceName}.{canary.Namespace}";
        var kind = RoutesOf(canary).Kind;
        if (checkParents && ParentNotReady(route, kind, id) is { } notReady) return Outcome<RouteWeights>.Fail(notReady);
        int? p = null, c = null;
        var mirrored = false;
        foreach (var rule in (route["spec"]?["rules"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var backends = (rule["backendRefs"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            // The weighted rule has both backends; A/B's default rule has the primary alone.
            if (backends.Count == 2)
            {
                foreach (var b in backends)
                {
                    var name = RoutingJson.Text(b["name"]);
                    var weight = b.ContainsKey("weight") ? RoutingJson.Integer(b["weight"]) : 1;
                    if (name == primary) p = weight;
                    else if (name == canaryName) c = weight;
                }
            }
            foreach (var filter in (rule["filters"] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (RoutingJson.Text(filter["type"]) == "RequestMirror" && RoutingJson.Text(filter["requestMirror"]?["backendRef"]?["name"]) == canaryName)
                    mirrored = true;
            }
        }
        if (p is null || c is null)
            return Outcome<RouteWeights>.Fail($"{kind} {id} does not contain routes for {primary} and {canaryName}");
        return new RouteWeights(p.Value, c.Value, mirrored);
    }

    /// <summary>Gateway API v1: a parent that has not accepted the current generation of the route (when the status says so).</summary>
    private static string? ParentNotReady(JsonObject route, string kind, string id)
    {
        var generation = route["metadata"]?["generation"]?.GetValue<long>() ?? 0;
        var parents = route["spec"]?["parentRefs"] as JsonArray ?? [];
        foreach (var status in (route["status"]?["parents"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var parentRef = status["parentRef"];
            if (!parents.Any(p => RoutingJson.Contains(parentRef, p) && RoutingJson.Contains(p, parentRef))) continue;
            foreach (var condition in (status["conditions"] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (RoutingJson.Text(condition["type"]) != "Accepted") continue;
                var state = RoutingJson.Text(condition["status"]);
                var observed = condition["observedGeneration"]?.GetValue<long>() ?? 0;
                if (state != "True" || observed < generation)
                    return $"{kind} {id} parent {RoutingJson.Text(parentRef?["name"])} is not ready (status: {state}, observed generation: {observed}, current generation: {generation})";
            }
        }
        return null;
    }
}
