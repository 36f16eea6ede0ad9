using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Tests.Workloads;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>GatewayApiRouter (gatewayapi:v1beta1 and gatewayapi:v1) against the real API server with the Gateway API CRDs.</summary>
[Collection(KubeCollection.Name)]
public sealed class GatewayApiRouterTests(KubeApiServerFixture fixture)
{
    private const string Service = "{port: 9898, hosts: [app.example.com], gatewayRefs: [{name: public, namespace: edge}]}";

    private KubeApiServer Server => fixture.Server;

    private static string Api(string provider) => provider == "gatewayapi:v1" ? "gateway.networking.k8s.io/v1" : "gateway.networking.k8s.io/v1beta1";

    [Theory]
    [InlineData("gatewayapi:v1beta1")]
    [InlineData("gatewayapi:v1")]
    public async Task ReconcileAsync_CreatesHttpRouteAsFlaggerDoes(string provider)
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-new");
        var canary = await bed.CanaryAsync(provider,
            service: "{port: 9898, hosts: [app.example.com, www.example.com], gatewayRefs: [{name: public, namespace: edge, sectionName: https}],"
                + " timeout: 15s, apex: {labels: {tier: edge}, annotations: {note: apex}}}");
        var router = bed.Router(provider);

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        var route = await bed.RequireAsync(Api(provider), "httproutes/podinfo");
        Assert.Equal(Api(provider), route["apiVersion"]!.GetValue<string>());
        DeploymentWorkloadTests.AssertOwnedBy(route, canary);
        RouterTestBed.AssertShape("""
            {
              "parentRefs": [{"name":"public","namespace":"edge","sectionName":"https"}],
              "hostnames": ["app.example.com","www.example.com"],
              "rules": [{
                "matches": [{"path":{"type":"PathPrefix","value":"/"}}],
                "backendRefs": [
                  {"kind":"Service","name":"podinfo-primary","port":9898,"weight":100},
                  {"kind":"Service","name":"podinfo-canary","port":9898,"weight":0}
                ],
                "timeouts": {"request":"15s"}
              }]
            }
            """, route["spec"]);
        Assert.Equal("edge", route["metadata"]!["labels"]!["tier"]!.GetValue<string>());
        var annotations = route["metadata"]!["annotations"]!;
        Assert.Equal("apex", annotations["note"]!.GetValue<string>());
        Assert.Equal("disabled", annotations["kustomize.toolkit.fluxcd.io/reconcile"]!.GetValue<string>());
        Assert.Equal("disabled", annotations["helm.toolkit.fluxcd.io/driftDetection"]!.GetValue<string>());
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Theory]
    [InlineData("gatewayapi:v1beta1", 100, 0)]
    [InlineData("gatewayapi:v1beta1", 0, 100)]
    [InlineData("gatewayapi:v1beta1", 90, 10)]
    [InlineData("gatewayapi:v1", 100, 0)]
    [InlineData("gatewayapi:v1", 0, 100)]
    [InlineData("gatewayapi:v1", 90, 10)]
    public async Task SetRoutesAsync_Weights_WrittenAndReadBack(string provider, int primary, int canaryWeight)
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-set");
        var canary = await bed.CanaryAsync(provider, service: Service);
        var router = bed.Router(provider);
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(primary, canaryWeight), default));

        Assert.Equal(new RouteWeights(primary, canaryWeight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        var route = await bed.RequireAsync(Api(provider), "httproutes/podinfo");
        var backends = route["spec"]!["rules"]![0]!["backendRefs"]!;
        Assert.Equal(primary, backends[0]!["weight"]!.GetValue<int>());
        Assert.Equal(canaryWeight, backends[1]!["weight"]!.GetValue<int>());
    }

    [Fact]
    public async Task ReconcileAsync_Again_WritesNothing()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-idem");
        var canary = await bed.CanaryAsync("gatewayapi:v1", service: Service, analysis: "stepWeight: 10\n    maxWeight: 50\n    mirror: false");
        var router = bed.Router("gatewayapi:v1");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(75, 25), default));
        var before = await bed.RequireAsync(Api("gatewayapi:v1"), "httproutes/podinfo");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(75, 25), default));
        // The same object through the other served version.
        RouterTestBed.Succeeded(await bed.Router("gatewayapi:v1beta1").ReconcileAsync(canary, default));

        var after = await bed.RequireAsync(Api("gatewayapi:v1"), "httproutes/podinfo");
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion(after));
        Assert.Equal(new RouteWeights(75, 25), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task ReconcileAsync_SpecChanged_RewritesRouteKeepingWeightsAndOtherAnnotations()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-change");
        var canary = await bed.CanaryAsync("gatewayapi:v1beta1", service: Service);
        var router = bed.Router("gatewayapi:v1beta1");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(60, 40), default));
        await bed.PatchAsync(Api("gatewayapi:v1beta1"), "httproutes/podinfo", JsonNode.Parse("""{"metadata":{"annotations":{"owner":"team-web"}}}""")!);

        var changed = await bed.CanaryAsync("gatewayapi:v1beta1",
            service: "{port: 9898, hosts: [new.example.com], gatewayRefs: [{name: internal, namespace: edge}], match: [{uri: {prefix: /api}}]}");
        RouterTestBed.Succeeded(await router.ReconcileAsync(changed, default));

        var route = await bed.RequireAsync(Api("gatewayapi:v1beta1"), "httproutes/podinfo");
        RouterTestBed.AssertShape("""
            {
              "parentRefs": [{"name":"internal","namespace":"edge"}],
              "hostnames": ["new.example.com"],
              "rules": [{
                "matches": [{"path":{"type":"PathPrefix","value":"/api"}}],
                "backendRefs": [{"name":"podinfo-primary","weight":60},{"name":"podinfo-canary","weight":40}]
              }]
            }
            """, route["spec"]);
        Assert.Equal("team-web", route["metadata"]!["annotations"]!["owner"]!.GetValue<string>());
    }

    [Fact]
    public async Task SetRoutesAsync_ABTesting_MatchedRequestsSplitOthersToPrimary()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-ab");
        var canary = await bed.CanaryAsync("gatewayapi:v1", service: "{port: 9898, gatewayRefs: [{name: public, namespace: edge}], match: [{uri: {prefix: /api}}]}",
            analysis: "iterations: 10\n    match: [{headers: {x-canary: {exact: insider}, x-user: {prefix: beta}}, queryParams: {ring: {regex: \"[0-9]+\"}}}]");
        var router = bed.Router("gatewayapi:v1");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));

        var route = await bed.RequireAsync(Api("gatewayapi:v1"), "httproutes/podinfo");
        RouterTestBed.AssertShape("""
            [
              {
                "matches": [{
                  "path": {"type":"PathPrefix","value":"/api"},
                  "headers": [{"type":"Exact","name":"x-canary","value":"insider"},{"type":"RegularExpression","name":"x-user","value":"beta.*"}],
                  "queryParams": [{"type":"RegularExpression","name":"ring","value":"[0-9]+"}]
                }],
                "backendRefs": [{"name":"podinfo-primary","weight":0},{"name":"podinfo-canary","weight":100}]
              },
              {
                "matches": [{"path":{"type":"PathPrefix","value":"/api"}}],
                "backendRefs": [{"name":"podinfo-primary","weight":100}]
              }
            ]
            """, route["spec"]!["rules"]);
        Assert.Equal(new RouteWeights(0, 100), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task SetRoutesAsync_Mirror_RequestMirrorFilterWithPercent()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-mirror");
        var canary = await bed.CanaryAsync("gatewayapi:v1beta1", service: Service, analysis: "iterations: 10\n    mirror: true\n    mirrorWeight: 40");
        var router = bed.Router("gatewayapi:v1beta1");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100, 0, Mirrored: true), default));

        var route = await bed.RequireAsync(Api("gatewayapi:v1beta1"), "httproutes/podinfo");
        RouterTestBed.AssertShape("""
            [{"type":"RequestMirror","requestMirror":{"backendRef":{"kind":"Service","name":"podinfo-canary","port":9898},"percent":40}}]
            """, route["spec"]!["rules"]![0]!["filters"]);
        Assert.Equal(new RouteWeights(100, 0, Mirrored: true), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        // A reconcile in the middle of mirroring keeps it; turning it off removes the filter.
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.True(RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)).Mirrored);
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100, 0), default));
        route = await bed.RequireAsync(Api("gatewayapi:v1beta1"), "httproutes/podinfo");
        Assert.Null(route["spec"]!["rules"]![0]!["filters"]);
    }

    [Fact]
    public async Task ServiceOptions_HeadersRewriteTimeoutsAndMirrors_BecomeFilters()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-filters");
        var canary = await bed.CanaryAsync("gatewayapi:v1", service: """
            {port: 9898, gatewayRefs: [{name: public, namespace: edge}], timeout: 30s, backendTimeout: 10s, headers: {request: {add: {x-env: prod}, remove: [x-debug]}, response: {set: {x-served-by: aviary}}}, rewrite: {uri: /v2, type: ReplacePrefixMatch}, match: [{uri: {exact: /v1}, method: {exact: GET}}]}
            """);
        var router = bed.Router("gatewayapi:v1");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        var rule = (await bed.RequireAsync(Api("gatewayapi:v1"), "httproutes/podinfo"))["spec"]!["rules"]![0]!;
        RouterTestBed.AssertShape("""
            {
              "matches": [{"path":{"type":"Exact","value":"/v1"},"method":"GET"}],
              "filters": [
                {"type":"RequestHeaderModifier","requestHeaderModifier":{"add":[{"name":"x-env","value":"prod"}],"remove":["x-debug"]}},
                {"type":"ResponseHeaderModifier","responseHeaderModifier":{"set":[{"name":"x-served-by","value":"aviary"}]}},
                {"type":"URLRewrite","urlRewrite":{"path":{"type":"ReplacePrefixMatch","replacePrefixMatch":"/v2"}}}
              ],
              "timeouts": {"request":"30s","backendRequest":"10s"}
            }
            """, rule);
    }

    [Fact]
    public async Task GetRoutesAsync_V1ParentNotAccepted_FailsUntilTheParentAcceptsTheCurrentGeneration()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-parent");
        var canary = await bed.CanaryAsync("gatewayapi:v1", service: Service);
        var router = bed.Router("gatewayapi:v1");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var path = $"/apis/gateway.networking.k8s.io/v1/namespaces/{bed.Namespace}/httproutes/podinfo";
        var generation = (await bed.RequireAsync(Api("gatewayapi:v1"), "httproutes/podinfo"))["metadata"]!["generation"]!.GetValue<long>();

        await Server.PatchStatusAsync(path, ParentStatus("False", generation));
        var rejected = await router.GetRoutesAsync(canary, default);
        await Server.PatchStatusAsync(path, ParentStatus("True", generation));
        var accepted = await router.GetRoutesAsync(canary, default);
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(50, 50), default));
        var stale = await router.GetRoutesAsync(canary, default);

        Assert.False(rejected.Succeeded);
        Assert.Contains($"HTTPRoute podinfo.{bed.Namespace} parent public is not ready (status: False", rejected.Error, StringComparison.Ordinal);
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(accepted));
        Assert.False(stale.Succeeded);
        Assert.Contains($"observed generation: {generation}, current generation: {generation + 1}", stale.Error, StringComparison.Ordinal);
        // v1beta1 reads do not check the parents (as Flagger's v1beta1 router).
        Assert.Equal(new RouteWeights(50, 50), RouterTestBed.Weights(await bed.Router("gatewayapi:v1beta1").GetRoutesAsync(canary, default)));
    }

    private static JsonNode ParentStatus(string accepted, long generation) => JsonNode.Parse($$$"""
        {"status":{"parents":[{"parentRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"public","namespace":"edge"},
          "controllerName":"example.com/gateway",
          "conditions":[{"type":"Accepted","status":"{{{accepted}}}","observedGeneration":{{{generation}}},"lastTransitionTime":"2024-01-01T00:00:00Z","reason":"Test","message":"test"}]}]}}
        """)!;

    [Fact]
    public async Task Errors_NoGatewayRefsSourceLabels_FailedOutcomes()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-errors");
        var router = bed.Router("gatewayapi:v1beta1");

        var noRefs = await router.ReconcileAsync(await bed.CanaryAsync("gatewayapi:v1beta1"), default);
        var labels = await router.ReconcileAsync(await bed.CanaryAsync("gatewayapi:v1beta1", service: Service,
            analysis: "iterations: 10\n    match: [{sourceLabels: {app: frontend}}]"), default);

        Assert.False(noRefs.Succeeded);
        Assert.Contains("GatewayRefs must be specified when using Gateway API as a provider", noRefs.Error, StringComparison.Ordinal);
        Assert.False(labels.Succeeded);
        Assert.Contains("source labels", labels.Error, StringComparison.Ordinal);
        Assert.Null(await bed.ReadAsync(Api("gatewayapi:v1beta1"), "httproutes/podinfo"));
    }

    /// <summary>The cookie (<c>name=value</c>) a rule's first match requires in the Cookie header.</summary>
    private static string CookieOf(JsonNode? rule)
    {
        var header = rule!["matches"]![0]!["headers"]!.AsArray().Single(h => h!["name"]!.GetValue<string>() == "Cookie")!;
        Assert.Equal("RegularExpression", header["type"]!.GetValue<string>());
        var parts = header["value"]!.GetValue<string>().Split(".*");
        return parts[1] + "=" + parts[2];
    }

    private static string CookieMatch(string cookie) =>
        $$"""{"path":{"type":"PathPrefix","value":"/"},"headers":[{"type":"RegularExpression","name":"Cookie","value":".*{{cookie.Split('=')[0]}}.*{{cookie.Split('=')[1]}}.*"}]}""";

    [Theory]
    [InlineData("gatewayapi:v1beta1")]
    [InlineData("gatewayapi:v1")]
    public async Task SessionAffinity_CanaryStepsThenPromotion_ExactRulesAsFlaggerWritesThem(string provider)
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-sticky");
        var canary = await bed.CanaryAsync(provider,
            service: "{port: 9898, gatewayRefs: [{name: public, namespace: edge}], headers: {response: {add: {x-served-by: aviary}}}}",
            analysis: "stepWeight: 10\n    maxWeight: 50\n    sessionAffinity: {cookieName: flagger-cookie, primaryCookieName: primary-cookie, maxAge: 7200, httpOnly: true}");
        var router = bed.Router(provider);
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        const string Served = """{"type":"ResponseHeaderModifier","responseHeaderModifier":{"add":[{"name":"x-served-by","value":"aviary"}]}}""";

        string? canaryCookie = null;
        foreach (var weight in new[] { 10, 30, 50 })
        {
            RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100 - weight, weight), default));
            var rules = (await bed.RequireAsync(Api(provider), "httproutes/podinfo"))["spec"]!["rules"]!;
            var c = CookieOf(rules[0]);
            var p = CookieOf(rules[1]);
            Assert.Matches("^flagger-cookie=[a-zA-Z]{10}$", c);
            Assert.Matches("^primary-cookie=[a-zA-Z]{10}$", p);
            Assert.Equal(canaryCookie ?? c, c);
            canaryCookie = c;
            RouterTestBed.AssertShape($$$"""
                [{"matches":[{{{CookieMatch(c)}}}],"filters":[{{{Served}}}],
                  "backendRefs":[{"kind":"Service","name":"podinfo-primary","port":9898,"weight":0},{"kind":"Service","name":"podinfo-canary","port":9898,"weight":100}]},
                 {"matches":[{{{CookieMatch(p)}}}],"filters":[{{{Served}}}],
                  "backendRefs":[{"kind":"Service","name":"podinfo-primary","port":9898,"weight":100},{"kind":"Service","name":"podinfo-canary","port":9898,"weight":0}]},
                 {"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"filters":[{{{Served}}}],
                  "backendRefs":[
                    {"kind":"Service","name":"podinfo-primary","port":9898,"weight":{{{100 - weight}}},
                     "filters":[{"type":"ResponseHeaderModifier","responseHeaderModifier":{"add":[{"name":"Set-Cookie","value":"{{{p}}}; Max-Age=60; HttpOnly"}]}}]},
                    {"kind":"Service","name":"podinfo-canary","port":9898,"weight":{{{weight}}},
                     "filters":[{"type":"ResponseHeaderModifier","responseHeaderModifier":{"add":[{"name":"Set-Cookie","value":"{{{c}}}; Max-Age=7200; HttpOnly"}]}}]}]}]
                """, rules);
            Assert.Equal(new RouteWeights(100 - weight, weight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        }

        // Promotion: the canary cookie's holders follow the weights and get the cookie expired, in the rule's one
        // ResponseHeaderModifier (Flagger adds a second one, which the Gateway API forbids).
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default));
        var ended = (await bed.RequireAsync(Api(provider), "httproutes/podinfo"))["spec"]!["rules"]!;
        RouterTestBed.AssertShape($$$"""
            [{"matches":[{{{CookieMatch(canaryCookie!)}}}],
              "filters":[{"type":"ResponseHeaderModifier","responseHeaderModifier":{"add":[{"name":"x-served-by","value":"aviary"},{"name":"Set-Cookie","value":"{{{canaryCookie}}}; Max-Age=-1"}]}}],
              "backendRefs":[{"kind":"Service","name":"podinfo-primary","port":9898,"weight":100},{"kind":"Service","name":"podinfo-canary","port":9898,"weight":0}]},
             {"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"filters":[{{{Served}}}],
              "backendRefs":[{"kind":"Service","name":"podinfo-primary","port":9898,"weight":100},{"kind":"Service","name":"podinfo-canary","port":9898,"weight":0}]}]
            """, ended);
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    /// <summary>
    /// A canary of the test server whose policy asks for a GRPCRoute: the server has Flagger's Canary CRD, which does
    /// not know Aviary's <c>spec.service.routeKind</c>, so the extension is added to the compiled policy.
    /// </summary>
    private static async Task<Core.Policy.CanaryPolicy> GrpcCanaryAsync(RouterTestBed bed, string provider, string service, string? analysis = null)
    {
        var policy = analysis is null ? await bed.CanaryAsync(provider, service: service) : await bed.CanaryAsync(provider, service: service, analysis: analysis);
        var spec = policy.Manifest.Spec;
        return policy with { Manifest = policy.Manifest with { Spec = spec with { Service = spec.Service! with { RouteKind = "GRPCRoute" } } } };
    }

    private static string GrpcBackends(int primary, int canary) =>
        $$"""[{"kind":"Service","name":"podinfo-primary","port":9898,"weight":{{primary}}},{"kind":"Service","name":"podinfo-canary","port":9898,"weight":{{canary}}}]""";

    [Theory]
    [InlineData("gatewayapi:v1beta1")]
    [InlineData("gatewayapi:v1")]
    public async Task GrpcRoute_CanaryStepsThenAbTest_ExactGrpcRouteWithServiceAndMethodMatches(string provider)
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-grpc");
        const string GrpcService = "{port: 9898, hosts: [grpc.example.com], gatewayRefs: [{name: public, namespace: edge}],"
            + " match: [{uri: {prefix: /podinfo.Echo/}}, {uri: {exact: /grpc.health.v1.Health/Check}, headers: {x-tenant: {exact: blue}}}],"
            + " headers: {request: {set: {x-routed-by: aviary}}}}";
        var canary = await GrpcCanaryAsync(bed, provider, GrpcService);
        var router = bed.Router(provider);

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.Null(await bed.ReadAsync(Api(provider), "httproutes/podinfo"));
        const string Matches = """
            [{"method":{"type":"Exact","service":"podinfo.Echo"}},
             {"method":{"type":"Exact","service":"grpc.health.v1.Health","method":"Check"},"headers":[{"type":"Exact","name":"x-tenant","value":"blue"}]}]
            """;
        const string Filters = """[{"type":"RequestHeaderModifier","requestHeaderModifier":{"set":[{"name":"x-routed-by","value":"aviary"}]}}]""";
        foreach (var weight in new[] { 0, 10, 50 })
        {
            if (weight > 0) RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100 - weight, weight), default));
            var route = await bed.RequireAsync("gateway.networking.k8s.io/v1", "grpcroutes/podinfo");
            Assert.Equal("GRPCRoute", route["kind"]!.GetValue<string>());
            DeploymentWorkloadTests.AssertOwnedBy(route, canary);
            RouterTestBed.AssertShape($$"""
                {"parentRefs":[{"name":"public","namespace":"edge"}],"hostnames":["grpc.example.com"],
                 "rules":[{"matches":{{Matches}},"filters":{{Filters}},"backendRefs":{{GrpcBackends(100 - weight, weight)}}}]}
                """, route["spec"]);
            Assert.Null(route["spec"]!["rules"]![0]!["timeouts"]);
            Assert.Equal(new RouteWeights(100 - weight, weight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        }

        // A/B testing: the analysis headers in each service match, then the service's rule to the primary alone.
        var ab = await GrpcCanaryAsync(bed, provider, "{port: 9898, gatewayRefs: [{name: public, namespace: edge}]}",
            analysis: "iterations: 10\n    match: [{headers: {x-canary: {exact: insider}}}, {headers: {user-agent: {prefix: grpc-go}}}]");
        RouterTestBed.Succeeded(await router.SetRoutesAsync(ab, new RouteWeights(0, 100), default));
        RouterTestBed.AssertShape($$"""
            {"rules":[
              {"matches":[{"headers":[{"type":"Exact","name":"x-canary","value":"insider"}]},{"headers":[{"type":"RegularExpression","name":"user-agent","value":"grpc-go.*"}]}],
               "backendRefs":{{GrpcBackends(0, 100)}}},
              {"backendRefs":[{"kind":"Service","name":"podinfo-primary","port":9898,"weight":100}]}]}
            """, (await bed.RequireAsync("gateway.networking.k8s.io/v1", "grpcroutes/podinfo"))["spec"]);
        Assert.Equal(new RouteWeights(0, 100), RouterTestBed.Weights(await router.GetRoutesAsync(ab, default)));
    }

    [Theory]
    [InlineData("{port: 9898, gatewayRefs: [{name: public}], timeout: 10s}", "", "spec.service.timeout: a GRPCRoute has no timeouts")]
    [InlineData("{port: 9898, gatewayRefs: [{name: public}], rewrite: {uri: /v2}}", "", "spec.service.rewrite: a GRPCRoute has no URL rewrite")]
    [InlineData("{port: 9898, gatewayRefs: [{name: public}], match: [{uri: {regex: /api.*}}]}", "", "spec.service.match[0].uri: a GRPCRoute matches a gRPC service")]
    [InlineData("{port: 9898, gatewayRefs: [{name: public}]}", "iterations: 10\n    match: [{queryParams: {beta: {exact: yes-please}}}]", "spec.analysis.match[0].queryParams: a GRPCRoute matches gRPC headers")]
    [InlineData("{port: 9898, gatewayRefs: [{name: public}]}", "stepWeight: 10\n    maxWeight: 50\n    sessionAffinity: {cookieName: c}", "spec.analysis.sessionAffinity: session affinity is not supported by the gatewayapi:v1 router for a GRPCRoute")]
    public async Task GrpcRoute_WhatItCannotCarry_RefusedWithTheFieldAndNothingWritten(string service, string analysis, string error)
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-grpc-refused");
        var canary = await GrpcCanaryAsync(bed, "gatewayapi:v1", service, analysis.Length == 0 ? null : analysis);

        var refused = await bed.Router("gatewayapi:v1").ReconcileAsync(canary, default);

        Assert.False(refused.Succeeded);
        Assert.Contains(error, refused.Error, StringComparison.Ordinal);
        Assert.Null(await bed.ReadAsync("gateway.networking.k8s.io/v1", "grpcroutes/podinfo"));
    }

    [Fact]
    public async Task FinalizeAsync_RoutesEverythingToPrimaryWithoutMirror()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gw-final");
        var canary = await bed.CanaryAsync("gatewayapi:v1beta1", service: Service, analysis: "iterations: 10\n    mirror: true");
        var router = bed.Router("gatewayapi:v1beta1");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100, Mirrored: true), default));

        RouterTestBed.Succeeded(await router.FinalizeAsync(canary, default));

        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }
}
