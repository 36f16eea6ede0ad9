using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Aviary.Core.Abstractions;
using Aviary.Routing;
using Aviary.Routing.Proxy;

namespace Aviary.TestKit;

/// <summary>How a <see cref="TestMeshValueMatch"/> compares a header, query parameter, cookie or path.</summary>
public enum TestMeshMatchKind
{
    Exact,
    Prefix,

    /// <summary>A regular expression that must match the whole value (RE2's full match, as Envoy uses it).</summary>
    Regex,

    /// <summary>A regular expression found anywhere in the value (PCRE's search, as NGINX's <c>canary-by-header-pattern</c>).</summary>
    Search,
}

/// <summary>One condition on a named value of a request (a header, query parameter or cookie; the name is empty for the path).</summary>
public sealed record TestMeshValueMatch(string Name, TestMeshMatchKind Kind, string Value)
{
    public bool Matches(string? actual) => actual is not null && Kind switch
    {
        TestMeshMatchKind.Exact => actual == Value,
        TestMeshMatchKind.Prefix => actual.StartsWith(Value, StringComparison.Ordinal),
        TestMeshMatchKind.Search => Regex.IsMatch(actual, Value, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)),
        _ => Regex.IsMatch(actual, "^(?:" + Value + ")$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)),
    };

    public override string ToString() => $"{Name} {Kind} {Value}";
}

/// <summary>A request's conditions: all of them must hold. No condition at all matches every request.</summary>
public sealed record TestMeshMatch
{
    public TestMeshValueMatch? Path { get; init; }
    public string? Method { get; init; }
    public IReadOnlyList<TestMeshValueMatch> Headers { get; init; } = [];
    public IReadOnlyList<TestMeshValueMatch> QueryParams { get; init; } = [];
    public IReadOnlyList<TestMeshValueMatch> Cookies { get; init; } = [];

    /// <summary>True when the match selects requests by header, query parameter or cookie (A/B testing), not only by path or method.</summary>
    public bool Selective => Headers.Count > 0 || QueryParams.Count > 0 || Cookies.Count > 0;

    public bool Matches(TestMeshRequest request) =>
        (Path is null || Path.Matches(request.Path))
        && (Method is null || string.Equals(Method, request.Method, StringComparison.OrdinalIgnoreCase))
        && Headers.All(h => h.Matches(request.Header(h.Name)))
        && QueryParams.All(q => q.Matches(request.Query(q.Name)))
        && Cookies.All(c => c.Matches(request.Cookie(c.Name)));
}

/// <summary>A backend of a rule: a service, the role it plays (null when it is neither the primary nor the canary service) and its weight.</summary>
/// <param name="ResponseHeaders">Headers the mesh adds to this destination's responses (e.g. a session-affinity <c>Set-Cookie</c>).</param>
public sealed record TestMeshDestination(string Service, BackendRole? Role, int Weight, IReadOnlyList<KeyValuePair<string, string>>? ResponseHeaders = null);

/// <summary>Requests copied to a service (its role as in <see cref="TestMeshDestination"/>), <see cref="Percent"/> of them.</summary>
public sealed record TestMeshMirror(string Service, BackendRole? Role, double Percent);

/// <summary>One routing rule: requests matching any of <see cref="Matches"/> (every request when empty) go to one of the destinations by weight.</summary>
/// <param name="ResponseHeaders">Headers the mesh adds to every response of the rule.</param>
public sealed record TestMeshRule(IReadOnlyList<TestMeshMatch> Matches, IReadOnlyList<TestMeshDestination> Destinations, TestMeshMirror? Mirror = null,
    IReadOnlyList<KeyValuePair<string, string>>? ResponseHeaders = null)
{
    /// <summary>True when the rule takes only some requests by header, query parameter or cookie.</summary>
    public bool Selective => Matches.Count > 0 && Matches.All(m => m.Selective);

    public bool Takes(TestMeshRequest request) => Matches.Count == 0 || Matches.Any(m => m.Matches(request));
}

/// <summary>What the mesh knows of a request to route it.</summary>
public sealed record TestMeshRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, IReadOnlyDictionary<string, string> QueryParams,
    IReadOnlyDictionary<string, string> Cookies)
{
    public static TestMeshRequest Get(string path = "/", IReadOnlyDictionary<string, string>? headers = null) => new("GET", path,
        new Dictionary<string, string>(headers ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase),
        new Dictionary<string, string>(), new Dictionary<string, string>());

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;

    public string? Query(string name) => QueryParams.TryGetValue(name, out var v) ? v : null;

    public string? Cookie(string name) => Cookies.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// The routing the mesh read from one object (a snapshot, replaced as a whole): ordered rules, the first that
/// matches a request routes it. <see cref="Weights"/> is what Aviary's routers read back: the weights of the rule
/// with the canary (the last one, as Flagger reads it) and whether it mirrors.
/// </summary>
public sealed record TestMeshRoutes(IReadOnlyList<TestMeshRule> Rules, string Source, string? ResourceVersion = null, string? Error = null)
{
    /// <summary>No routing object (yet): nothing is routed.</summary>
    public static TestMeshRoutes None(string source, string? error = null) => new([], source, null, error);

    public bool Exists => Rules.Count > 0;

    public RouteWeights Weights
    {
        get
        {
            var rule = Rules.LastOrDefault(r => r.Destinations.Count > 1 && r.Destinations.Any(d => d.Role == BackendRole.Canary))
                ?? Rules.LastOrDefault(r => r.Destinations.Any(d => d.Role == BackendRole.Canary))
                ?? Rules.FirstOrDefault();
            if (rule is null) return new RouteWeights(0, 0);
            var p = rule.Destinations.Where(d => d.Role == BackendRole.Primary).Sum(d => d.Weight);
            var c = rule.Destinations.Where(d => d.Role == BackendRole.Canary).Sum(d => d.Weight);
            if (rule.Destinations.Count == 1) (p, c) = rule.Destinations[0].Role == BackendRole.Canary ? (0, 100) : (100, 0);
            return new RouteWeights(p, c, rule.Mirror?.Role == BackendRole.Canary);
        }
    }

    /// <summary>The first rule that takes <paramref name="request"/>, or null (no route: the mesh answers 404).</summary>
    public TestMeshRule? Select(TestMeshRequest request) => Rules.FirstOrDefault(r => r.Takes(request));

    /// <summary>
    /// The rule a synthetic request takes: a request that carries the A/B headers (<paramref name="matching"/>) takes the
    /// first rule; another takes the first rule that does not select by header, query parameter or cookie.
    /// </summary>
    public TestMeshRule? SelectSynthetic(bool matching) => matching ? Rules.FirstOrDefault() : Rules.FirstOrDefault(r => !r.Selective);

    public override string ToString() => Error is not null ? $"{Source}: {Error}" : $"{Source}@{ResourceVersion}: {Weights}";
}

/// <summary>Reads the routing objects Aviary writes into <see cref="TestMeshRoutes"/>, the way each mesh interprets them.</summary>
public static class TestMeshRouteReader
{
    /// <summary>An SMI TrafficSplit: one rule with its backends.</summary>
    public static TestMeshRoutes TrafficSplit(JsonObject split, TestMeshTarget target)
    {
        var destinations = new List<TestMeshDestination>();
        foreach (var b in (split["spec"]?["backends"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var service = Text(b["service"]) ?? "";
            destinations.Add(new TestMeshDestination(service, target.RoleOf(service), Integer(b["weight"]) ?? 0));
        }
        return new TestMeshRoutes([new TestMeshRule([], destinations)], Describe(split), ResourceVersion(split));
    }

    /// <summary>A Traefik TraefikService: one weighted round robin over its services (Traefik's <c>spec.weighted.services</c>).</summary>
    public static TestMeshRoutes TraefikService(JsonObject service, TestMeshTarget target)
    {
        var destinations = new List<TestMeshDestination>();
        foreach (var s in (service["spec"]?["weighted"]?["services"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var name = Text(s["name"]) ?? "";
            // Traefik's default weight is 1.
            destinations.Add(new TestMeshDestination(name, target.RoleOf(name), Integer(s["weight"]) ?? 1));
        }
        return new TestMeshRoutes([new TestMeshRule([], destinations)], Describe(service), ResourceVersion(service));
    }

    /// <summary>
    /// An APISIX ApisixRoute: its HTTP rules in order (APISIX prefers the higher <c>priority</c>), each matching its
    /// <c>match.paths</c> (a trailing <c>*</c> is a prefix) and splitting by its backends' weights (default 100).
    /// </summary>
    public static TestMeshRoutes ApisixRoute(JsonObject route, TestMeshTarget target)
    {
        var rules = new List<(int Priority, TestMeshRule Rule)>();
        foreach (var http in (route["spec"]?["http"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var matches = (http["match"]?["paths"] as JsonArray ?? []).Select(p => Text(p) ?? "/")
                .Select(p => new TestMeshMatch
                {
                    Path = p.EndsWith('*') ? new TestMeshValueMatch("", TestMeshMatchKind.Prefix, p[..^1]) : new TestMeshValueMatch("", TestMeshMatchKind.Exact, p),
                })
                .ToList();
            var destinations = (http["backends"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(b => new TestMeshDestination(Text(b["serviceName"]) ?? "", target.RoleOf(Text(b["serviceName"])), Integer(b["weight"]) ?? 100))
                .ToList();
            rules.Add((Integer(http["priority"]) ?? 0, new TestMeshRule(matches, destinations)));
        }
        return new TestMeshRoutes([.. rules.OrderByDescending(r => r.Priority).Select(r => r.Rule)], Describe(route), ResourceVersion(route));
    }

    /// <summary>
    /// A Contour HTTPProxy: its routes, each matching all its conditions (a path prefix, headers and query parameters by
    /// exact, regex, contains or presence) and splitting by its services' weights. Envoy, as Contour programs it, tries
    /// the routes with header or query conditions before those of the same prefix without.
    /// </summary>
    public static TestMeshRoutes HttpProxy(JsonObject proxy, TestMeshTarget target)
    {
        var rules = new List<TestMeshRule>();
        foreach (var route in (proxy["spec"]?["routes"] as JsonArray ?? []).OfType<JsonObject>())
        {
            TestMeshValueMatch? path = null;
            var headers = new List<TestMeshValueMatch>();
            var query = new List<TestMeshValueMatch>();
            foreach (var c in (route["conditions"] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (Text(c["prefix"]) is { } prefix) path = new TestMeshValueMatch("", TestMeshMatchKind.Prefix, prefix);
                if (c["header"] is JsonObject h && ContourValue(h) is { } header) headers.Add(header);
                if (c["queryParameter"] is JsonObject q && ContourValue(q) is { } parameter) query.Add(parameter);
            }
            var destinations = (route["services"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(s => new TestMeshDestination(Text(s["name"]) ?? "", target.RoleOf(Text(s["name"])), Integer(s["weight"]) ?? 0))
                .ToList();
            rules.Add(new TestMeshRule([new TestMeshMatch { Path = path, Headers = headers, QueryParams = query }], destinations));
        }
        return new TestMeshRoutes([.. rules.Where(r => r.Selective), .. rules.Where(r => !r.Selective)], Describe(proxy), ResourceVersion(proxy));
    }

    /// <summary>
    /// A Kuma TrafficRoute: one split of the destination service by weight; each split names a Kuma service tag
    /// (<c>&lt;name&gt;_&lt;namespace&gt;_svc_&lt;port&gt;</c>) of a Kubernetes Service in the target's namespace.
    /// </summary>
    public static TestMeshRoutes TrafficRoute(JsonObject route, TestMeshTarget target)
    {
        var destinations = new List<TestMeshDestination>();
        foreach (var split in (route["spec"]?["conf"]?["split"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var tag = (Text(split["destination"]?["kuma.io/service"]) ?? "").Split('_');
            var service = tag.Length == 4 && tag[1] == target.Namespace && tag[2] == "svc" ? tag[0] : "";
            destinations.Add(new TestMeshDestination(service, target.RoleOf(service), Integer(split["weight"]) ?? 0));
        }
        return new TestMeshRoutes([new TestMeshRule([], destinations)], Describe(route), ResourceVersion(route));
    }

    /// <summary>
    /// A Gloo Edge RouteTable: its routes in order, each taken when any of its matchers holds (all headers and query
    /// parameters of a matcher, by value or regex; a matcher without a value asks for presence), splitting by its
    /// destinations' weights. Gloo sends a destination to the Service of its Upstream: <paramref name="upstreamServices"/>
    /// maps each Upstream the mesh found to its <c>spec.kube.serviceName</c> (a missing Upstream routes nowhere).
    /// </summary>
    public static TestMeshRoutes RouteTable(JsonObject table, TestMeshTarget target, IReadOnlyDictionary<string, string> upstreamServices)
    {
        var rules = new List<TestMeshRule>();
        foreach (var route in (table["spec"]?["routes"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var matches = (route["matchers"] as JsonArray ?? []).OfType<JsonObject>().Select(m => new TestMeshMatch
            {
                Headers = [.. (m["headers"] as JsonArray ?? []).OfType<JsonObject>().Select(GlooValue)],
                QueryParams = [.. (m["queryParameters"] as JsonArray ?? []).OfType<JsonObject>().Select(GlooValue)],
            }).ToList();
            var destinations = (route["routeAction"]?["multi"]?["destinations"] as JsonArray ?? []).OfType<JsonObject>().Select(d =>
            {
                var service = upstreamServices.GetValueOrDefault(Text(d["destination"]?["upstream"]?["name"]) ?? "") ?? "";
                return new TestMeshDestination(service, target.RoleOf(service), Integer(d["weight"]) ?? 0);
            }).ToList();
            rules.Add(new TestMeshRule(matches, destinations));
        }
        return new TestMeshRoutes(rules, Describe(table), ResourceVersion(table));
    }

    /// <summary>The Upstreams a RouteTable's destinations name, as (namespace, name).</summary>
    public static IEnumerable<(string Namespace, string Name)> RouteTableUpstreams(JsonObject table, string defaultNamespace) =>
        (table["spec"]?["routes"] as JsonArray ?? []).OfType<JsonObject>()
            .SelectMany(r => (r["routeAction"]?["multi"]?["destinations"] as JsonArray ?? []).OfType<JsonObject>())
            .Select(d => d["destination"]?["upstream"])
            .Select(u => (Text(u?["namespace"]) ?? defaultNamespace, Text(u?["name"]) ?? ""))
            .Distinct();

    private static TestMeshValueMatch GlooValue(JsonObject matcher)
    {
        var name = Text(matcher["name"]) ?? "";
        if (Text(matcher["value"]) is not { Length: > 0 } value) return new TestMeshValueMatch(name, TestMeshMatchKind.Regex, ".*");
        return matcher["regex"] is JsonValue r && r.GetValue<bool>()
            ? new TestMeshValueMatch(name, TestMeshMatchKind.Regex, value)
            : new TestMeshValueMatch(name, TestMeshMatchKind.Exact, value);
    }

    private static TestMeshValueMatch? ContourValue(JsonObject condition)
    {
        var name = Text(condition["name"]) ?? "";
        if (Text(condition["exact"]) is { } exact) return new TestMeshValueMatch(name, TestMeshMatchKind.Exact, exact);
        if (Text(condition["prefix"]) is { } prefix) return new TestMeshValueMatch(name, TestMeshMatchKind.Prefix, prefix);
        if (Text(condition["regex"]) is { } regex) return new TestMeshValueMatch(name, TestMeshMatchKind.Regex, regex);
        if (Text(condition["contains"]) is { } contains) return new TestMeshValueMatch(name, TestMeshMatchKind.Search, Regex.Escape(contains));
        return condition["present"] is JsonValue v && v.GetValue<bool>() ? new TestMeshValueMatch(name, TestMeshMatchKind.Regex, ".*") : null;
    }

    /// <summary>
    /// A Gateway API HTTPRoute or GRPCRoute: its rules in order, matches by path (a GRPCRoute's service and method as the
    /// call's path <c>/&lt;service&gt;/&lt;method&gt;</c>), method, headers and query parameters, RequestMirror filters.
    /// </summary>
    public static TestMeshRoutes HttpRoute(JsonObject route, TestMeshTarget target)
    {
        var rules = new List<TestMeshRule>();
        foreach (var rule in (route["spec"]?["rules"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var matches = new List<TestMeshMatch>();
            foreach (var m in (rule["matches"] as JsonArray ?? []).OfType<JsonObject>())
            {
                matches.Add(new TestMeshMatch
                {
                    Path = m["path"] is JsonObject path ? GatewayValue("", Text(path["type"]) ?? "PathPrefix", Text(path["value"]) ?? "/")
                        : m["method"] is JsonObject grpc ? GrpcMethod(grpc) : null,
                    Method = Text(m["method"]),
                    Headers = GatewayValues(m["headers"]),
                    QueryParams = GatewayValues(m["queryParams"]),
                });
            }
            var destinations = (rule["backendRefs"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(b => new TestMeshDestination(Text(b["name"]) ?? "", target.RoleOf(Text(b["name"])), b.ContainsKey("weight") ? Integer(b["weight"]) ?? 0 : 1,
                    GatewayResponseHeaders(b["filters"])))
                .ToList();
            TestMeshMirror? mirror = null;
            foreach (var f in (rule["filters"] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (Text(f["type"]) != "RequestMirror" || f["requestMirror"] is not JsonObject rm) continue;
                var service = Text(rm["backendRef"]?["name"]) ?? "";
                var percent = rm["percent"] is { } pc ? Number(pc) ?? 100
                    : rm["fraction"] is JsonObject fr ? 100.0 * (Number(fr["numerator"]) ?? 0) / (Number(fr["denominator"]) ?? 100)
                    : 100;
                mirror = new TestMeshMirror(service, target.RoleOf(service), percent);
            }
            rules.Add(new TestMeshRule(matches, destinations, mirror, GatewayResponseHeaders(rule["filters"])));
        }
        return new TestMeshRoutes(rules, Describe(route), ResourceVersion(route));
    }

    /// <summary>An Istio VirtualService: its HTTP routes in order (matches by uri, method, headers, query parameters), mirror and mirrorPercentage.</summary>
    public static TestMeshRoutes VirtualService(JsonObject vs, TestMeshTarget target)
    {
        var rules = new List<TestMeshRule>();
        foreach (var http in (vs["spec"]?["http"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var matches = new List<TestMeshMatch>();
            foreach (var m in (http["match"] as JsonArray ?? []).OfType<JsonObject>())
            {
                matches.Add(new TestMeshMatch
                {
                    Path = m["uri"] is JsonObject uri ? IstioValue("", uri) : null,
                    Method = m["method"] is JsonObject method ? Text(method["exact"]) : null,
                    Headers = IstioValues(m["headers"]),
                    QueryParams = IstioValues(m["queryParams"]),
                });
            }
            var destinations = (http["route"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            var list = destinations.Select(d =>
            {
                var host = ShortHost(Text(d["destination"]?["host"]), target);
                // A single destination takes everything, whatever its weight.
                var weight = destinations.Count == 1 ? 100 : Integer(d["weight"]) ?? 0;
                return new TestMeshDestination(host, target.RoleOf(host), weight, IstioResponseHeaders(d));
            }).ToList();
            TestMeshMirror? mirror = null;
            if (Text(http["mirror"]?["host"]) is { Length: > 0 } mirrorHost)
            {
                var host = ShortHost(mirrorHost, target);
                mirror = new TestMeshMirror(host, target.RoleOf(host), Number(http["mirrorPercentage"]?["value"]) ?? 100);
            }
            rules.Add(new TestMeshRule(matches, list, mirror, IstioResponseHeaders(http)));
        }
        return new TestMeshRoutes(rules, Describe(vs), ResourceVersion(vs));
    }

    /// <summary>
    /// The NGINX ingress controller's canary rules: with <c>&lt;ingress&gt;-canary</c> annotated <c>canary: "true"</c>,
    /// a matching <c>canary-by-header</c> (value, pattern, or <c>always</c>/<c>never</c>) decides first, then
    /// <c>canary-by-cookie</c> (<c>always</c>/<c>never</c>), then <c>canary-weight</c>; otherwise everything goes to the
    /// main ingress's backend (the apex service, counted as the primary).
    /// </summary>
    public static TestMeshRoutes Ingress(JsonObject? canaryIngress, TestMeshTarget target)
    {
        var source = canaryIngress is null ? $"Ingress {target.Ingress}-canary.{target.Namespace} (missing)" : Describe(canaryIngress);
        var primary = new TestMeshDestination(target.PrimaryService, BackendRole.Primary, 100);
        var canary = new TestMeshDestination(target.CanaryService, BackendRole.Canary, 100);
        var annotations = canaryIngress?["metadata"]?["annotations"] as JsonObject;
        string? Annotation(string suffix) => Text(annotations?[target.IngressAnnotationsPrefix + "/" + suffix]);
        if (canaryIngress is null || Annotation("canary") != "true")
            return new TestMeshRoutes([new TestMeshRule([], [primary])], source, ResourceVersion(canaryIngress));
        var rules = new List<TestMeshRule>();
        if (Annotation("canary-by-header") is { Length: > 0 } header)
        {
            if (Annotation("canary-by-header-value") is { Length: > 0 } value)
            {
                rules.Add(new TestMeshRule([new TestMeshMatch { Headers = [new(header, TestMeshMatchKind.Exact, value)] }], [canary]));
            }
            else if (Annotation("canary-by-header-pattern") is { Length: > 0 } pattern)
            {
                rules.Add(new TestMeshRule([new TestMeshMatch { Headers = [new(header, TestMeshMatchKind.Search, pattern)] }], [canary]));
            }
            else
            {
                rules.Add(new TestMeshRule([new TestMeshMatch { Headers = [new(header, TestMeshMatchKind.Exact, "always")] }], [canary]));
                rules.Add(new TestMeshRule([new TestMeshMatch { Headers = [new(header, TestMeshMatchKind.Exact, "never")] }], [primary]));
            }
        }
        if (Annotation("canary-by-cookie") is { Length: > 0 } cookie)
        {
            rules.Add(new TestMeshRule([new TestMeshMatch { Cookies = [new(cookie, TestMeshMatchKind.Exact, "always")] }], [canary]));
            rules.Add(new TestMeshRule([new TestMeshMatch { Cookies = [new(cookie, TestMeshMatchKind.Exact, "never")] }], [primary]));
        }
        var weight = int.TryParse(Annotation("canary-weight"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var w) ? Math.Clamp(w, 0, 100) : 0;
        rules.Add(new TestMeshRule([], [primary with { Weight = 100 - weight }, canary with { Weight = weight }]));
        return new TestMeshRoutes(rules, source, ResourceVersion(canaryIngress));
    }

    /// <summary>
    /// Skipper's <c>&lt;ingress&gt;-canary</c> copy: while it exists and its <c>zalando.org/skipper-predicate</c> does not
    /// hold <c>False()</c>, its paths win and split by <c>zalando.org/backend-weights</c>; otherwise the main Ingress routes
    /// to the apex service, which selects the primary.
    /// </summary>
    public static TestMeshRoutes SkipperIngress(JsonObject? canaryIngress, TestMeshTarget target)
    {
        var source = canaryIngress is null ? $"Ingress {target.Ingress}-canary.{target.Namespace} (missing)" : Describe(canaryIngress);
        var annotations = canaryIngress?["metadata"]?["annotations"] as JsonObject;
        var predicate = Text(annotations?["zalando.org/skipper-predicate"]) ?? "";
        var weights = Text(annotations?["zalando.org/backend-weights"]) is { } json ? JsonNode.Parse(json) as JsonObject : null;
        if (canaryIngress is null || predicate.Contains("False()", StringComparison.Ordinal) || weights is null)
            return new TestMeshRoutes([new TestMeshRule([], [new TestMeshDestination(target.PrimaryService, BackendRole.Primary, 100)])], source, ResourceVersion(canaryIngress));
        var destinations = weights.Select(kv => new TestMeshDestination(kv.Key, target.RoleOf(kv.Key), Integer(kv.Value) ?? 0)).ToList();
        return new TestMeshRoutes([new TestMeshRule([], destinations)], source, ResourceVersion(canaryIngress));
    }

    /// <summary>
    /// A Knative Service: one split by <c>status.traffic</c> (what Knative applied), the revision named by
    /// <c>flagger.app/primary-revision</c> standing for the primary and the latest revision for the canary; a destination
    /// is named by its revision.
    /// </summary>
    public static TestMeshRoutes KnativeService(JsonObject service, TestMeshTarget target)
    {
        var primary = Text(service["metadata"]?["annotations"]?["flagger.app/primary-revision"]);
        var destinations = new List<TestMeshDestination>();
        foreach (var t in (service["status"]?["traffic"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var latest = t["latestRevision"] is JsonValue v && v.GetValue<bool>();
            var revision = Text(t["revisionName"]);
            var (name, role) = latest ? (revision ?? target.CanaryService, BackendRole.Canary)
                : revision == primary ? (revision ?? target.PrimaryService, BackendRole.Primary) : (revision ?? "", (BackendRole?)null);
            destinations.Add(new TestMeshDestination(name, role, Integer(t["percent"]) ?? 0));
        }
        return new TestMeshRoutes([new TestMeshRule([], destinations)], Describe(service), ResourceVersion(service));
    }

    /// <summary>A GRPCRouteMatch's <c>method</c> as a match of the call's path.</summary>
    private static TestMeshValueMatch GrpcMethod(JsonObject method)
    {
        var (service, name) = (Text(method["service"]), Text(method["method"]));
        if (Text(method["type"]) == "RegularExpression") return new("", TestMeshMatchKind.Regex, $"/{service ?? "[^/]+"}/{name ?? "[^/]+"}");
        return name is null ? new("", TestMeshMatchKind.Prefix, $"/{service}/")
            : service is null ? new("", TestMeshMatchKind.Regex, "/[^/]+/" + Regex.Escape(name))
            : new("", TestMeshMatchKind.Exact, $"/{service}/{name}");
    }

    /// <summary>The <c>add</c> and <c>set</c> headers of Gateway API ResponseHeaderModifier filters.</summary>
    private static IReadOnlyList<KeyValuePair<string, string>>? GatewayResponseHeaders(JsonNode? filters)
    {
        var headers = (filters as JsonArray ?? []).OfType<JsonObject>()
            .Where(f => Text(f["type"]) == "ResponseHeaderModifier")
            .SelectMany(f => new[] { f["responseHeaderModifier"]?["add"], f["responseHeaderModifier"]?["set"] })
            .SelectMany(list => (list as JsonArray ?? []).OfType<JsonObject>())
            .Select(h => KeyValuePair.Create(Text(h["name"]) ?? "", Text(h["value"]) ?? ""))
            .ToList();
        return headers.Count > 0 ? headers : null;
    }

    /// <summary>The <c>headers.response.add</c> and <c>set</c> of an Istio route or destination.</summary>
    private static IReadOnlyList<KeyValuePair<string, string>>? IstioResponseHeaders(JsonObject routeOrDestination)
    {
        var response = routeOrDestination["headers"]?["response"];
        var headers = new[] { response?["add"], response?["set"] }
            .SelectMany(map => map as JsonObject ?? [])
            .Select(kv => KeyValuePair.Create(kv.Key, Text(kv.Value) ?? ""))
            .ToList();
        return headers.Count > 0 ? headers : null;
    }

    private static TestMeshValueMatch GatewayValue(string name, string type, string value) => type switch
    {
        "Exact" => new(name, TestMeshMatchKind.Exact, value),
        "PathPrefix" => new(name, TestMeshMatchKind.Prefix, value),
        _ => new(name, TestMeshMatchKind.Regex, value),
    };

    private static IReadOnlyList<TestMeshValueMatch> GatewayValues(JsonNode? list) => (list as JsonArray ?? []).OfType<JsonObject>()
        .Select(h => GatewayValue(Text(h["name"]) ?? "", Text(h["type"]) ?? "Exact", Text(h["value"]) ?? ""))
        .ToList();

    private static TestMeshValueMatch? IstioValue(string name, JsonObject match) =>
        Text(match["exact"]) is { } exact ? new(name, TestMeshMatchKind.Exact, exact)
        : Text(match["prefix"]) is { } prefix ? new(name, TestMeshMatchKind.Prefix, prefix)
        : Text(match["regex"]) is { } regex ? new(name, TestMeshMatchKind.Regex, regex)
        : null;

    private static IReadOnlyList<TestMeshValueMatch> IstioValues(JsonNode? map) => (map as JsonObject ?? [])
        .Select(kv => kv.Value is JsonObject m ? IstioValue(kv.Key, m) : null)
        .OfType<TestMeshValueMatch>()
        .ToList();

    // Istio hosts may be short names or FQDNs (podinfo-canary.test.svc.cluster.local).
    private static string ShortHost(string? host, TestMeshTarget target)
    {
        if (host is null) return "";
        var suffix = "." + target.Namespace;
        var dot = host.IndexOf(suffix + ".", StringComparison.Ordinal);
        if (dot > 0) return host[..dot];
        return host.EndsWith(suffix, StringComparison.Ordinal) ? host[..^suffix.Length] : host;
    }

    private static string Describe(JsonObject value) =>
        $"{Text(value["kind"])} {Text(value["metadata"]?["name"])}.{Text(value["metadata"]?["namespace"])}";

    private static string? ResourceVersion(JsonObject? value) => Text(value?["metadata"]?["resourceVersion"]);

    internal static string? Text(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    private static double? Number(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;

    private static int? Integer(JsonNode? node) => node is not JsonValue v ? null
        : v.GetValueKind() == JsonValueKind.Number ? (int)v.GetValue<double>()
        : v.GetValueKind() == JsonValueKind.String && int.TryParse(v.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
        : null;
}

/// <summary>
/// Picks a rule's destinations by a smooth weighted round robin (as NGINX's upstreams do): every cycle of the total
/// weight follows the weights exactly, spread evenly. Also paces its mirror: a copy whenever the percentages add up
/// to 100. Not thread-safe; the data planes lock around it.
/// </summary>
internal sealed class TestMeshPicker(TestMeshRule rule)
{
    private readonly int[] _current = new int[rule.Destinations.Count];
    private double _mirrorCredit;

    /// <summary>The next destination; null when every weight is 0 (and there are several).</summary>
    public TestMeshDestination? Next()
    {
        var total = 0;
        var best = -1;
        for (var i = 0; i < _current.Length; i++)
        {
            var weight = Math.Max(0, rule.Destinations[i].Weight);
            total += weight;
            _current[i] += weight;
            if (weight > 0 && (best < 0 || _current[i] > _current[best])) best = i;
        }
        if (best < 0) return rule.Destinations.Count == 1 ? rule.Destinations[0] : null;
        _current[best] -= total;
        return rule.Destinations[best];
    }

    /// <summary>Whether this request is copied to the rule's mirror.</summary>
    public bool TakeMirror()
    {
        if (rule.Mirror is null) return false;
        _mirrorCredit += rule.Mirror.Percent;
        if (_mirrorCredit < 100) return false;
        _mirrorCredit -= 100;
        return true;
    }
}
