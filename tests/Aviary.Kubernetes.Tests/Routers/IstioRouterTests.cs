using System.Net;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Tests.Workloads;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>IstioRouter (VirtualService and two DestinationRules) against the real API server with Istio's CRDs.</summary>
[Collection(KubeCollection.Name)]
public sealed class IstioRouterTests(KubeApiServerFixture fixture)
{
    private const string Api = "networking.istio.io/v1beta1";

    private KubeApiServer Server => fixture.Server;

    [Fact]
    public async Task ReconcileAsync_CreatesVirtualServiceAndDestinationRulesAsFlaggerDoes()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-new");
        var canary = await bed.CanaryAsync("istio", service: """
            {port: 9898, hosts: [app.example.com], gateways: [public-gateway.istio-system.svc.cluster.local, mesh], timeout: 5s, retries: {attempts: 3, perTryTimeout: 1s, retryOn: "gateway-error,connect-failure"}, headers: {request: {add: {x-envoy-upstream-rq-timeout-ms: "15000"}}, response: {remove: [x-internal]}}, corsPolicy: {allowOrigins: [{exact: "https://example.com"}], allowMethods: [GET, POST], allowCredentials: false, allowHeaders: [x-some-header], maxAge: 24h}, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}, loadBalancer: {simple: LEAST_CONN}}, match: [{uri: {prefix: /api}}], apex: {labels: {tier: edge}, annotations: {note: apex}}}
            """);
        var router = bed.Router("istio");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        foreach (var name in new[] { "podinfo-primary", "podinfo-canary" })
        {
            var rule = await bed.RequireAsync(Api, $"destinationrules/{name}");
            RouterTestBed.AssertJson("""
                {"host":"NAME","trafficPolicy":{"tls":{"mode":"ISTIO_MUTUAL"},"loadBalancer":{"simple":"LEAST_CONN"}}}
                """.Replace("NAME", name, StringComparison.Ordinal), rule["spec"]);
            DeploymentWorkloadTests.AssertOwnedBy(rule, canary);
        }
        var vs = await bed.RequireAsync(Api, "virtualservices/podinfo");
        DeploymentWorkloadTests.AssertOwnedBy(vs, canary);
        RouterTestBed.AssertJson("""
            {
              "hosts": ["app.example.com","podinfo"],
              "gateways": ["public-gateway.istio-system.svc.cluster.local","mesh"],
              "http": [{
                "match": [{"uri":{"prefix":"/api"}}],
                "timeout": "5s",
                "retries": {"attempts":3,"perTryTimeout":"1s","retryOn":"gateway-error,connect-failure"},
                "corsPolicy": {"allowOrigins":[{"exact":"https://example.com"}],"allowMethods":["GET","POST"],"allowHeaders":["x-some-header"],"maxAge":"24h","allowCredentials":false},
                "headers": {"request":{"add":{"x-envoy-upstream-rq-timeout-ms":"15000"}},"response":{"remove":["x-internal"]}},
                "route": [{"destination":{"host":"podinfo-primary"},"weight":100},{"destination":{"host":"podinfo-canary"},"weight":0}]
              }]
            }
            """, vs["spec"]);
        Assert.Equal("edge", vs["metadata"]!["labels"]!["tier"]!.GetValue<string>());
        Assert.Equal("apex", vs["metadata"]!["annotations"]!["note"]!.GetValue<string>());
        Assert.Equal("disabled", vs["metadata"]!["annotations"]!["kustomize.toolkit.fluxcd.io/reconcile"]!.GetValue<string>());
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task ReconcileAsync_NoGateways_MeshAndTheApexHost()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-mesh");
        var canary = await bed.CanaryAsync("istio");

        RouterTestBed.Succeeded(await bed.Router("istio").ReconcileAsync(canary, default));

        var vs = await bed.RequireAsync(Api, "virtualservices/podinfo");
        RouterTestBed.AssertJson("""
            {"hosts":["podinfo"],"gateways":["mesh"],"http":[{"route":[{"destination":{"host":"podinfo-primary"},"weight":100},{"destination":{"host":"podinfo-canary"},"weight":0}]}]}
            """, vs["spec"]);
        RouterTestBed.AssertJson("""{"host":"podinfo-canary"}""", (await bed.RequireAsync(Api, "destinationrules/podinfo-canary"))["spec"]);
    }

    [Fact]
    public async Task ReconcileAsync_GatewayWithPortDiscovery_DestinationsCarryThePort()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-port");
        var canary = await bed.CanaryAsync("istio", service: "{port: 9898, portDiscovery: true, hosts: ['*'], gateways: [public-gateway]}");

        RouterTestBed.Succeeded(await bed.Router("istio").ReconcileAsync(canary, default));

        var vs = await bed.RequireAsync(Api, "virtualservices/podinfo");
        RouterTestBed.AssertJson("""
            {"hosts":["*"],"gateways":["public-gateway"],"http":[{"route":[
              {"destination":{"host":"podinfo-primary","port":{"number":9898}},"weight":100},
              {"destination":{"host":"podinfo-canary","port":{"number":9898}},"weight":0}]}]}
            """, vs["spec"]);
    }

    [Fact]
    public async Task Delegation_EmptyHostsAndGateways_OrAnErrorWithThem()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-deleg");
        var router = bed.Router("istio");
        var delegated = await bed.CanaryAsync("istio", service: "{port: 9898, delegation: true, portDiscovery: true}");
        RouterTestBed.Succeeded(await router.ReconcileAsync(delegated, default));
        var vs = await bed.RequireAsync(Api, "virtualservices/podinfo");

        var withHosts = await router.ReconcileAsync(await bed.CanaryAsync("istio", service: "{port: 9898, delegation: true, hosts: [app.example.com]}"), default);

        Assert.Null(vs["spec"]!["hosts"]?.AsArray().FirstOrDefault());
        Assert.Null(vs["spec"]!["gateways"]?.AsArray().FirstOrDefault());
        Assert.Equal(9898, vs["spec"]!["http"]![0]!["route"]![0]!["destination"]!["port"]!["number"]!.GetValue<int>());
        Assert.False(withHosts.Succeeded);
        Assert.Equal($"VirtualService podinfo.{bed.Namespace} cannot have hosts and gateways when delegation enabled", withHosts.Error);
    }

    [Theory]
    [InlineData(100, 0)]
    [InlineData(0, 100)]
    [InlineData(90, 10)]
    public async Task SetRoutesAsync_Weights_WrittenAndReadBack(int primary, int canaryWeight)
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-set");
        var canary = await bed.CanaryAsync("istio");
        var router = bed.Router("istio");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(primary, canaryWeight), default));

        Assert.Equal(new RouteWeights(primary, canaryWeight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        var vs = await bed.RequireAsync(Api, "virtualservices/podinfo");
        RouterTestBed.AssertJson($$"""
            [{"destination":{"host":"podinfo-primary"},"weight":{{primary}}},{"destination":{"host":"podinfo-canary"},"weight":{{canaryWeight}}}]
            """, vs["spec"]!["http"]![0]!["route"]);
    }

    [Fact]
    public async Task ReconcileAsync_Again_WritesNothingToAnyObject()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-idem");
        var canary = await bed.CanaryAsync("istio", service: "{port: 9898, trafficPolicy: {tls: {mode: DISABLE}}, retries: {attempts: 2}}");
        var router = bed.Router("istio");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(80, 20), default));
        var before = await VersionsAsync(bed);

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(80, 20), default));

        Assert.Equal(before, await VersionsAsync(bed));
        Assert.Equal(new RouteWeights(80, 20), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    private static async Task<string> VersionsAsync(RouterTestBed bed) => string.Join(",",
        RouterTestBed.ResourceVersion(await bed.RequireAsync(Api, "virtualservices/podinfo")),
        RouterTestBed.ResourceVersion(await bed.RequireAsync(Api, "destinationrules/podinfo-primary")),
        RouterTestBed.ResourceVersion(await bed.RequireAsync(Api, "destinationrules/podinfo-canary")));

    [Fact]
    public async Task ReconcileAsync_TrafficPolicyChanged_BothDestinationRulesUpdatedAndWeightsKept()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-policy");
        var router = bed.Router("istio");
        var canary = await bed.CanaryAsync("istio", service: "{port: 9898, trafficPolicy: {tls: {mode: DISABLE}}}");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(70, 30), default));

        var changed = await bed.CanaryAsync("istio", service: "{port: 9898, timeout: 3s, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}");
        RouterTestBed.Succeeded(await router.ReconcileAsync(changed, default));

        foreach (var name in new[] { "podinfo-primary", "podinfo-canary" })
        {
            RouterTestBed.AssertJson("""{"host":"NAME","trafficPolicy":{"loadBalancer":{"simple":"ROUND_ROBIN"}}}""".Replace("NAME", name, StringComparison.Ordinal),
                (await bed.RequireAsync(Api, $"destinationrules/{name}"))["spec"]);
        }
        var http = (await bed.RequireAsync(Api, "virtualservices/podinfo"))["spec"]!["http"]![0]!;
        Assert.Equal("3s", http["timeout"]!.GetValue<string>());
        Assert.Equal(new RouteWeights(70, 30), RouterTestBed.Weights(await router.GetRoutesAsync(changed, default)));
    }

    [Fact]
    public async Task SetRoutesAsync_ABTesting_MatchRouteFirstThenPrimary()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-ab");
        var canary = await bed.CanaryAsync("istio", service: "{port: 9898, match: [{uri: {prefix: /api}}], timeout: 5s}",
            analysis: "iterations: 10\n    match: [{headers: {x-canary: {exact: insider}}}, {headers: {cookie: {regex: \"^(.*?;)?(canary=always)(;.*)?$\"}}}]");
        var router = bed.Router("istio");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));

        var vs = await bed.RequireAsync(Api, "virtualservices/podinfo");
        RouterTestBed.AssertJson("""
            [
              {
                "match": [
                  {"uri":{"prefix":"/api"},"headers":{"x-canary":{"exact":"insider"}}},
                  {"uri":{"prefix":"/api"},"headers":{"cookie":{"regex":"^(.*?;)?(canary=always)(;.*)?$"}}}
                ],
                "timeout": "5s",
                "route": [{"destination":{"host":"podinfo-primary"},"weight":0},{"destination":{"host":"podinfo-canary"},"weight":100}]
              },
              {
                "match": [{"uri":{"prefix":"/api"}}],
                "timeout": "5s",
                "route": [{"destination":{"host":"podinfo-primary"},"weight":100}]
              }
            ]
            """, vs["spec"]!["http"]);
        Assert.Equal(new RouteWeights(0, 100), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        // Promotion: back to the primary, the match route stays.
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default));
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task SetRoutesAsync_Mirror_MirrorAndPercentage()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-mirror");
        var canary = await bed.CanaryAsync("istio", analysis: "iterations: 10\n    mirror: true\n    mirrorWeight: 30");
        var router = bed.Router("istio");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100, 0, Mirrored: true), default));

        var http = (await bed.RequireAsync(Api, "virtualservices/podinfo"))["spec"]!["http"]![0]!;
        RouterTestBed.AssertJson("""{"host":"podinfo-canary"}""", http["mirror"]);
        RouterTestBed.AssertJson("""{"value":30}""", http["mirrorPercentage"]);
        Assert.Equal(new RouteWeights(100, 0, Mirrored: true), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        // A reconcile keeps mirroring while the canary mirrors; plain weights end it.
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.True(RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)).Mirrored);
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100, 0), default));
        http = (await bed.RequireAsync(Api, "virtualservices/podinfo"))["spec"]!["http"]![0]!;
        Assert.Null(http["mirror"]);
        Assert.Null(http["mirrorPercentage"]);
    }

    [Fact]
    public async Task Tcp_WeightsOnTheTcpRoute_MatchAndMirrorUnsupported()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-tcp");
        var canary = await bed.CanaryAsync("istio", service: "{port: 9898, appProtocol: tcp}");
        var router = bed.Router("istio");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(60, 40), default));
        var mirrored = await router.SetRoutesAsync(canary, new RouteWeights(60, 40, Mirrored: true), default);
        var ab = await router.ReconcileAsync(await bed.CanaryAsync("istio", service: "{port: 9898, appProtocol: tcp}",
            analysis: "iterations: 10\n    match: [{headers: {x-canary: {exact: insider}}}]"), default);

        var vs = await bed.RequireAsync(Api, "virtualservices/podinfo");
        Assert.Null(vs["spec"]!["http"]);
        RouterTestBed.AssertJson("""
            [{"route":[{"destination":{"host":"podinfo-primary"},"weight":60},{"destination":{"host":"podinfo-canary"},"weight":40}]}]
            """, vs["spec"]!["tcp"]);
        Assert.Equal(new RouteWeights(60, 40), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        Assert.False(mirrored.Succeeded);
        Assert.Contains("mirroring is not supported", mirrored.Error, StringComparison.Ordinal);
        Assert.False(ab.Succeeded);
        Assert.Contains("A/B testing (analysis.match) is not supported", ab.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TakeOver_VirtualServiceWrittenByHand_OriginalKeptAndRestoredOnFinalize()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-own");
        var original = JsonNode.Parse($$$"""
            {"apiVersion":"{{{Api}}}","kind":"VirtualService","metadata":{"name":"podinfo","namespace":"{{{bed.Namespace}}}","annotations":{"team":"web"}},
             "spec":{"hosts":["podinfo"],"http":[{"route":[{"destination":{"host":"podinfo-v1"}}]}]}}
            """)!;
        var (status, body) = await Server.RequestAsync(HttpMethod.Post, $"/apis/{Api}/namespaces/{bed.Namespace}/virtualservices", original);
        Assert.True(status == HttpStatusCode.Created, body);
        var canary = await bed.CanaryAsync("istio");
        var router = bed.Router("istio");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var taken = await bed.RequireAsync(Api, "virtualservices/podinfo");
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(50, 50), default));
        RouterTestBed.Succeeded(await router.FinalizeAsync(canary, default));
        var restored = await bed.RequireAsync(Api, "virtualservices/podinfo");

        Assert.Equal("web", taken["metadata"]!["annotations"]!["team"]!.GetValue<string>());
        RouterTestBed.AssertJson(original["spec"]!.ToJsonString(),
            JsonNode.Parse(taken["metadata"]!["annotations"]!["flagger.kubernetes.io/original-configuration"]!.GetValue<string>()));
        Assert.Equal("podinfo-primary", taken["spec"]!["http"]![0]!["route"]![0]!["destination"]!["host"]!.GetValue<string>());
        RouterTestBed.AssertJson(original["spec"]!.ToJsonString(), restored["spec"]);
    }

    [Fact]
    public async Task TakeOver_VirtualServiceAppliedWithKubectl_RestoredFromItsAnnotation()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-kubectl");
        await Server.ApplyAsync($"""
            apiVersion: {Api}
            kind: VirtualService
            metadata:
              name: podinfo
              namespace: {bed.Namespace}
            spec:
              hosts: [podinfo]
              http:
              - route:
                - destination: {"{"}host: podinfo-v1{"}"}
            """);
        var canary = await bed.CanaryAsync("istio");
        var router = bed.Router("istio");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var taken = await bed.RequireAsync(Api, "virtualservices/podinfo");
        RouterTestBed.Succeeded(await router.FinalizeAsync(canary, default));
        var restored = await bed.RequireAsync(Api, "virtualservices/podinfo");

        Assert.Null(taken["metadata"]!["annotations"]!["flagger.kubernetes.io/original-configuration"]);
        RouterTestBed.AssertJson("""{"hosts":["podinfo"],"http":[{"route":[{"destination":{"host":"podinfo-v1"}}]}]}""", restored["spec"]);
    }

    [Fact]
    public async Task FinalizeAsync_CreatedByAviary_RoutesEverythingToPrimary()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-final");
        var canary = await bed.CanaryAsync("istio");
        var router = bed.Router("istio");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));

        RouterTestBed.Succeeded(await router.FinalizeAsync(canary, default));

        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task Errors_MissingVirtualServiceAndTcpSessionAffinity_FailedOutcomes()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-errors");
        var router = bed.Router("istio");
        var canary = await bed.CanaryAsync("istio");

        var get = await router.GetRoutesAsync(canary, default);
        var set = await router.SetRoutesAsync(canary, new RouteWeights(90, 10), default);
        var sticky = await router.ReconcileAsync(await bed.CanaryAsync("istio", service: "{port: 9898, appProtocol: tcp}",
            analysis: "stepWeight: 10\n    maxWeight: 50\n    sessionAffinity: {cookieName: canary}"), default);

        Assert.False(get.Succeeded);
        Assert.Contains($"VirtualService podinfo.{bed.Namespace} get query error", get.Error, StringComparison.Ordinal);
        Assert.False(set.Succeeded);
        Assert.False(sticky.Succeeded);
        Assert.Contains("session affinity (analysis.sessionAffinity) is not supported by the istio router for TCP services", sticky.Error, StringComparison.Ordinal);
        Assert.Null(await bed.ReadAsync(Api, "virtualservices/podinfo"));
    }

    private const string StickyAnalysis =
        "stepWeight: 10\n    maxWeight: 50\n    sessionAffinity: {cookieName: flagger-cookie, primaryCookieName: primary-cookie, maxAge: 7200, path: /, sameSite: Strict, secure: true}";

    /// <summary>The cookie (<c>name=value</c>) a route's first match requires in the Cookie header.</summary>
    private static string CookieOf(JsonNode? route)
    {
        var regex = route!["match"]![0]!["headers"]!["Cookie"]!["regex"]!.GetValue<string>();
        var parts = regex.Split(".*");
        return parts[1] + "=" + parts[2];
    }

    [Fact]
    public async Task SessionAffinity_CanaryStepsThenPromotion_ExactRoutesAsFlaggerWritesThem()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "istio-sticky");
        var canary = await bed.CanaryAsync("istio", service: "{port: 9898, match: [{uri: {prefix: /api}}]}", analysis: StickyAnalysis);
        var router = bed.Router("istio");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.AssertJson("""
            [{"match":[{"uri":{"prefix":"/api"}}],"route":[{"destination":{"host":"podinfo-primary"},"weight":100},{"destination":{"host":"podinfo-canary"},"weight":0}]}]
            """, (await bed.RequireAsync(Api, "virtualservices/podinfo"))["spec"]!["http"]);

        string? canaryCookie = null, primaryCookie = null;
        foreach (var weight in new[] { 10, 30, 50 })
        {
            RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100 - weight, weight), default));
            var http = (await bed.RequireAsync(Api, "virtualservices/podinfo"))["spec"]!["http"]!;
            var c = CookieOf(http[0]);
            var p = CookieOf(http[1]);
            Assert.Matches("^flagger-cookie=[a-zA-Z]{10}$", c);
            Assert.Matches("^primary-cookie=[a-zA-Z]{10}$", p);
            // The same cookies at every step of one rollout.
            Assert.Equal(canaryCookie ?? c, c);
            Assert.Equal(primaryCookie ?? p, p);
            (canaryCookie, primaryCookie) = (c, p);
            var (cName, cValue) = (c.Split('=')[0], c.Split('=')[1]);
            var (pName, pValue) = (p.Split('=')[0], p.Split('=')[1]);
            RouterTestBed.AssertJson($$$$$"""
                [{"match":[{"uri":{"prefix":"/api"},"headers":{"Cookie":{"regex":".*{{{{{cName}}}}}.*{{{{{cValue}}}}}.*"}}}],
                  "route":[{"destination":{"host":"podinfo-primary"},"weight":0},{"destination":{"host":"podinfo-canary"},"weight":100}]},
                 {"match":[{"uri":{"prefix":"/api"},"headers":{"Cookie":{"regex":".*{{{{{pName}}}}}.*{{{{{pValue}}}}}.*"}}}],
                  "route":[{"destination":{"host":"podinfo-primary"},"weight":100},{"destination":{"host":"podinfo-canary"},"weight":0}]},
                 {"match":[{"uri":{"prefix":"/api"}}],
                  "route":[{"destination":{"host":"podinfo-primary"},"weight":{{{{{100 - weight}}}}},"headers":{"response":{"add":{"Set-Cookie":"{{{{{p}}}}}; Max-Age=60; Path=/; SameSite=Strict; Secure"}}}},
                           {"destination":{"host":"podinfo-canary"},"weight":{{{{{weight}}}}},"headers":{"response":{"add":{"Set-Cookie":"{{{{{c}}}}}; Max-Age=7200; Path=/; SameSite=Strict; Secure"}}}}]}]
                """, http);
            Assert.Equal(new RouteWeights(100 - weight, weight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        }

        // A reconcile mid-rollout keeps the cookies (the object is the state: a restarted operator keeps them too).
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.Equal(canaryCookie, CookieOf((await bed.RequireAsync(Api, "virtualservices/podinfo"))["spec"]!["http"]![0]));

        // Promotion ends with everything on the primary: the canary cookie's holders are routed by the weights and
        // their cookie is expired; the primary cookie is not handed out any more.
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default));
        var ended = (await bed.RequireAsync(Api, "virtualservices/podinfo"))["spec"]!["http"]!;
        var (name, value) = (canaryCookie!.Split('=')[0], canaryCookie.Split('=')[1]);
        RouterTestBed.AssertJson($$$$$"""
            [{"match":[{"uri":{"prefix":"/api"},"headers":{"Cookie":{"regex":".*{{{{{name}}}}}.*{{{{{value}}}}}.*"}}}],
              "headers":{"response":{"add":{"Set-Cookie":"{{{{{canaryCookie}}}}}; Max-Age=-1"}}},
              "route":[{"destination":{"host":"podinfo-primary"},"weight":100},{"destination":{"host":"podinfo-canary"},"weight":0}]},
             {"match":[{"uri":{"prefix":"/api"}}],"route":[{"destination":{"host":"podinfo-primary"},"weight":100},{"destination":{"host":"podinfo-canary"},"weight":0}]}]
            """, ended);
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        // The next rollout gets a new canary cookie.
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(90, 10), default));
        var next = CookieOf((await bed.RequireAsync(Api, "virtualservices/podinfo"))["spec"]!["http"]![0]);
        Assert.StartsWith("flagger-cookie=", next, StringComparison.Ordinal);
        Assert.NotEqual(canaryCookie, next);
    }
}
