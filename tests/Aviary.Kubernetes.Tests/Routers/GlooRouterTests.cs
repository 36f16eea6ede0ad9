using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Tests.Workloads;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// GlooRouter (provider <c>gloo</c>) against the real API server with Gloo Edge's RouteTable and Upstream CRDs: the exact
/// Upstreams and RouteTable at each step of the seeds' scenario, as Flagger's Gloo router writes them, the settings taken
/// from <c>spec.upstreamRef</c>, and A/B testing read back through the test mesh as Gloo routes it.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class GlooRouterTests(KubeApiServerFixture fixture)
{
    private const string Gateway = "gateway.solo.io/v1";
    private const string Gloo = "gloo.solo.io/v1";

    private KubeApiServer Server => fixture.Server;

    private static async Task ServicesAsync(RouterTestBed bed)
    {
        foreach (var role in new[] { "primary", "canary" })
        {
            await bed.Server.ApplyAsync($"""
                apiVersion: v1
                kind: Service
                metadata:
                  name: podinfo-{role}
                  namespace: {bed.Namespace}
                spec:
                  selector:
                    app: podinfo-{role}
                  ports:
                  - port: 9898
                """);
        }
    }

    private static string Destinations(string ns, int primary, int canary) =>
        $$$$"""[{"destination":{"upstream":{"name":"{{{{ns}}}}-podinfo-primaryupstream-9898","namespace":"{{{{ns}}}}"}},"weight":{{{{primary}}}}},""" +
        $$$$"""{"destination":{"upstream":{"name":"{{{{ns}}}}-podinfo-canaryupstream-9898","namespace":"{{{{ns}}}}"}},"weight":{{{{canary}}}}}]""";

    [Fact]
    public async Task Scenario_CanaryTenToFiftyThenPromotion_ExactObjectsAtEachStep()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gloo-golden");
        await ServicesAsync(bed);
        var canary = await bed.CanaryAsync("gloo", service: "{port: 9898, apex: {labels: {team: web}}}");
        var router = bed.Router("gloo");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var ns = bed.Namespace;
        foreach (var role in new[] { "primary", "canary" })
        {
            var upstream = await bed.RequireAsync(Gloo, $"upstreams/{ns}-podinfo-{role}upstream-9898");
            RouterTestBed.AssertJson($$$$"""{"kube":{"serviceName":"podinfo-{{{{role}}}}","serviceNamespace":"{{{{ns}}}}","servicePort":9898,"selector":{"app":"podinfo-{{{{role}}}}"}}}""",
                upstream["spec"]);
            DeploymentWorkloadTests.AssertOwnedBy(upstream, canary);
        }
        var table = await bed.RequireAsync(Gateway, "routetables/podinfo");
        RouterTestBed.AssertJson("""{"routes":[{"inheritablePathMatchers":true,"routeAction":{"multi":{"destinations":""" + Destinations(ns, 100, 0) + "}}}]}", table["spec"]);
        Assert.Equal("web", table["metadata"]!["labels"]!["team"]!.GetValue<string>());
        DeploymentWorkloadTests.AssertOwnedBy(table, canary);
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        foreach (var weight in new[] { 10, 20, 30, 40, 50 })
        {
            RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100 - weight, weight), default));
            var step = await bed.RequireAsync(Gateway, "routetables/podinfo");
            RouterTestBed.AssertJson(Destinations(ns, 100 - weight, weight), step["spec"]!["routes"]![0]!["routeAction"]!["multi"]!["destinations"]);
            Assert.Equal(new RouteWeights(100 - weight, weight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        }

        // A reconcile mid-analysis writes nothing and keeps the weights.
        var before = await bed.RequireAsync(Gateway, "routetables/podinfo");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion(await bed.RequireAsync(Gateway, "routetables/podinfo")));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default));
        var back = await bed.RequireAsync(Gateway, "routetables/podinfo");
        RouterTestBed.AssertJson(Destinations(ns, 100, 0), back["spec"]!["routes"]![0]!["routeAction"]!["multi"]!["destinations"]);
    }

    [Fact]
    public async Task UpstreamRef_SettingsCopiedIntoBothUpstreams()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gloo-config");
        await ServicesAsync(bed);
        await bed.Server.ApplyAsync($"""
            apiVersion: gloo.solo.io/v1
            kind: Upstream
            metadata:
              name: podinfo-config
              namespace: {bed.Namespace}
            spec:
              loadBalancerConfig:
                roundRobin: {"{}"}
              connectionConfig:
                maxRequestsPerConnection: 10
              kube:
                serviceName: elsewhere
                serviceNamespace: other
                servicePort: 80
            """);
        var canary = await bed.CanaryAsync("gloo", extraSpec: "upstreamRef: {apiVersion: gloo.solo.io/v1, kind: Upstream, name: podinfo-config}");
        var router = bed.Router("gloo");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var upstream = await bed.RequireAsync(Gloo, $"upstreams/{bed.Namespace}-podinfo-canaryupstream-9898");
        RouterTestBed.AssertJson($$$$"""
            {"connectionConfig":{"maxRequestsPerConnection":10},"loadBalancerConfig":{"roundRobin":{}},
             "kube":{"serviceName":"podinfo-canary","serviceNamespace":"{{{{bed.Namespace}}}}","servicePort":9898,"selector":{"app":"podinfo-canary"}}}
            """, upstream["spec"]);
    }

    [Fact]
    public async Task AbTesting_OneMatcherPerEntryAndADefaultRoute_RoutedAsGlooWould()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gloo-ab");
        await ServicesAsync(bed);
        var canary = await bed.CanaryAsync("gloo", analysis: """
            iterations: 10
                match:
                - headers:
                    x-canary: {exact: insider}
                - headers:
                    user-agent: {regex: ".*Firefox.*"}
                  queryParams:
                    beta: {exact: "on"}
            """);
        var router = bed.Router("gloo");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));
        var table = await bed.RequireAsync(Gateway, "routetables/podinfo");
        var ns = bed.Namespace;
        RouterTestBed.AssertJson($$$$"""
            {"routes":[
              {"matchers":[{"headers":[{"name":"x-canary","value":"insider"}]},
                           {"headers":[{"name":"user-agent","value":".*Firefox.*","regex":true}],"queryParameters":[{"name":"beta","value":"on"}]}],
               "inheritablePathMatchers":true,"routeAction":{"multi":{"destinations":{{{{Destinations(ns, 0, 100)}}}}}}},
              {"inheritablePathMatchers":true,"routeAction":{"multi":{"destinations":{{{{Destinations(ns, 100, 0)}}}}}}}]}
            """, table["spec"]);
        Assert.Equal(new RouteWeights(0, 100), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        var services = new Dictionary<string, string>
        {
            [$"{ns}-podinfo-primaryupstream-9898"] = "podinfo-primary",
            [$"{ns}-podinfo-canaryupstream-9898"] = "podinfo-canary",
        };
        var routes = TestMeshRouteReader.RouteTable(table, TestMeshTarget.ForProvider("gloo", ns, "podinfo"), services);
        Assert.Equal("podinfo-canary", Chosen(routes, TestMeshRequest.Get("/", new Dictionary<string, string> { ["x-canary"] = "insider" })));
        Assert.Equal("podinfo-primary", Chosen(routes, TestMeshRequest.Get("/", new Dictionary<string, string> { ["user-agent"] = "Mozilla/5.0 Firefox/120" })));
        Assert.Equal("podinfo-primary", Chosen(routes, TestMeshRequest.Get("/")));
    }

    private static string? Chosen(TestMeshRoutes routes, TestMeshRequest request) =>
        routes.Select(request)?.Destinations.Where(d => d.Weight > 0).Select(d => d.Service).Single();

    [Fact]
    public async Task MissingServiceOrConfigUpstream_FailedOutcomesNamingThemAndNoRouteTable()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "gloo-errors");
        var router = bed.Router("gloo");
        var canary = await bed.CanaryAsync("gloo");

        var noService = await router.ReconcileAsync(canary, default);
        Assert.False(noService.Succeeded);
        Assert.Contains("podinfo-primary", noService.Error, StringComparison.Ordinal);
        Assert.Null(await bed.ReadAsync(Gateway, "routetables/podinfo"));

        await ServicesAsync(bed);
        var withRef = await bed.CanaryAsync("gloo", extraSpec: "upstreamRef: {apiVersion: gloo.solo.io/v1, kind: Upstream, name: absent}");
        var noConfig = await router.ReconcileAsync(withRef, default);
        Assert.False(noConfig.Succeeded);
        Assert.Contains("spec.upstreamRef", noConfig.Error, StringComparison.Ordinal);
        Assert.Contains("absent", noConfig.Error, StringComparison.Ordinal);

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        await bed.PatchAsync(Gateway, "routetables/podinfo", JsonNode.Parse("""
            {"spec":{"routes":[{"routeAction":{"multi":{"destinations":[{"destination":{"upstream":{"name":"a"}},"weight":50},{"destination":{"upstream":{"name":"b"}},"weight":50}]}}}]}}
            """)!);
        var noPrimary = await router.GetRoutesAsync(canary, default);
        Assert.False(noPrimary.Succeeded);
        Assert.Contains("does not contain a destination for", noPrimary.Error, StringComparison.Ordinal);
    }
}
