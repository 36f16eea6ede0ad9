using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Routers;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Tests.Workloads;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// ContourRouter (provider <c>contour</c>) against the real API server with Contour's HTTPProxy CRD (its schema validates
/// every object written): the exact object at each step of the seeds' scenario, as Flagger's Contour router writes it,
/// and A/B testing where Aviary writes what Contour accepts (one prefix condition per route, a route per match entry).
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class ContourRouterTests(KubeApiServerFixture fixture)
{
    private const string Version = "projectcontour.io/v1";

    private KubeApiServer Server => fixture.Server;

    private static string Services(string ns, int primary, int canary) =>
        "[" + Service(ns, "podinfo-primary", primary) + "," + Service(ns, "podinfo-canary", canary) + "]";

    private static string Service(string ns, string name, int weight) =>
        $$$"""{"name":"{{{name}}}","port":9898,"weight":{{{weight}}},"requestHeadersPolicy":{"set":[{"name":"l5d-dst-override","value":"{{{name}}}.{{{ns}}}.svc.cluster.local:9898"}]}}""";

    [Fact]
    public async Task Scenario_CanaryTenToFiftyThenPromotion_ExactObjectAtEachStep()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "contour-golden");
        var canary = await bed.CanaryAsync("contour",
            service: "{port: 9898, timeout: 15s, retries: {attempts: 3, perTryTimeout: 5s}, match: [{uri: {prefix: /api}}], apex: {labels: {team: web}}}");
        var router = bed.Router("contour");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var created = await bed.RequireAsync(Version, "httpproxies/podinfo");
        RouterTestBed.AssertJson($$"""
            {"routes":[{"conditions":[{"prefix":"/api"}],"timeoutPolicy":{"response":"15s","idle":"5m"},"retryPolicy":{"count":3,"perTryTimeout":"5s"},
              "services":{{Services(bed.Namespace, 100, 0)}}}]}
            """, created["spec"]);
        Assert.Equal("web", created["metadata"]!["labels"]!["team"]!.GetValue<string>());
        DeploymentWorkloadTests.AssertOwnedBy(created, canary);
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        foreach (var weight in new[] { 10, 20, 30, 40, 50 })
        {
            RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100 - weight, weight), default));
            var step = await bed.RequireAsync(Version, "httpproxies/podinfo");
            RouterTestBed.AssertJson(Services(bed.Namespace, 100 - weight, weight), step["spec"]!["routes"]![0]!["services"]);
            Assert.Equal(new RouteWeights(100 - weight, weight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        }

        // A reconcile mid-analysis writes nothing and keeps the weights.
        var before = await bed.RequireAsync(Version, "httpproxies/podinfo");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion(await bed.RequireAsync(Version, "httpproxies/podinfo")));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default));
        var back = await bed.RequireAsync(Version, "httpproxies/podinfo");
        RouterTestBed.AssertJson(Services(bed.Namespace, 100, 0), back["spec"]!["routes"]![0]!["services"]);
    }

    [Fact]
    public async Task AbTesting_EachMatchEntryARouteAheadOfTheDefault_HeadersAndQueryAsContourConditions()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "contour-ab");
        var canary = await bed.CanaryAsync("contour", analysis: """
            iterations: 10
                match:
                - headers:
                    x-canary: {exact: insider}
                    user-agent: {prefix: Mozilla}
                - headers:
                    cookie: {regex: "^(.*?;)?(canary=always)(;.*)?$"}
                - queryParams:
                    beta: {exact: "on"}
            """);
        var router = bed.Router("contour");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));
        var proxy = await bed.RequireAsync(Version, "httpproxies/podinfo");
        var all = Services(bed.Namespace, 0, 100);
        RouterTestBed.AssertJson($$$"""
            {"routes":[
              {"conditions":[{"prefix":"/"},{"header":{"name":"user-agent","regex":"Mozilla.*"}},{"header":{"name":"x-canary","exact":"insider"}}],"services":{{{all}}}},
              {"conditions":[{"prefix":"/"},{"header":{"name":"cookie","regex":"^(.*?;)?(canary=always)(;.*)?$"}}],"services":{{{all}}}},
              {"conditions":[{"prefix":"/"},{"queryParameter":{"name":"beta","exact":"on"}}],"services":{{{all}}}},
              {"conditions":[{"prefix":"/"}],"services":{{{Services(bed.Namespace, 100, 0)}}}}]}
            """, proxy["spec"]);
        Assert.Equal(new RouteWeights(0, 100), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        // The routes send what the manifest says where: the test mesh reads the HTTPProxy as Envoy would.
        var routes = TestMeshRouteReader.HttpProxy(proxy, TestMeshTarget.ForProvider("contour", bed.Namespace, "podinfo"));
        Assert.Equal("podinfo-canary", Chosen(routes, TestMeshRequest.Get("/", Headers(("x-canary", "insider"), ("user-agent", "Mozilla/5.0")))));
        Assert.Equal("podinfo-primary", Chosen(routes, TestMeshRequest.Get("/", Headers(("x-canary", "insider"), ("user-agent", "curl/8")))));
        Assert.Equal("podinfo-canary", Chosen(routes, TestMeshRequest.Get("/", Headers(("cookie", "canary=always; theme=dark")))));
        Assert.Equal("podinfo-primary", Chosen(routes, TestMeshRequest.Get("/")));
    }

    private static Dictionary<string, string> Headers(params (string Name, string Value)[] values) =>
        values.ToDictionary(v => v.Name, v => v.Value, StringComparer.OrdinalIgnoreCase);

    private static string? Chosen(TestMeshRoutes routes, TestMeshRequest request) =>
        routes.Select(request)?.Destinations.Where(d => d.Weight > 0).Select(d => d.Service).Single();

    [Fact]
    public async Task IngressClass_NamedInTheAnnotation()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "contour-class");
        var canary = await bed.CanaryAsync("contour");
        var router = new KubeRouterFactory(bed.Client, new KubeRouterOptions { IngressClass = "contour-internal" }).Create("contour").Value!;

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var proxy = await bed.RequireAsync(Version, "httpproxies/podinfo");
        Assert.Equal("contour-internal", proxy["metadata"]!["annotations"]![ContourRouter.IngressClassAnnotation]!.GetValue<string>());
    }

    [Fact]
    public async Task Unsupported_MirrorAndSourceLabels_RefusedWithTheFieldAndNothingWritten()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "contour-unsupported");
        var router = bed.Router("contour");
        var bySource = await bed.CanaryAsync("contour", analysis: "iterations: 10\n    match: [{sourceLabels: {app: frontend}}]");

        var refused = await router.ReconcileAsync(bySource, default);
        Assert.False(refused.Succeeded);
        Assert.Contains("spec.analysis.match[0].sourceLabels", refused.Error, StringComparison.Ordinal);
        Assert.Null(await bed.ReadAsync(Version, "httpproxies/podinfo"));

        var plain = await bed.CanaryAsync("contour");
        RouterTestBed.Succeeded(await router.ReconcileAsync(plain, default));
        var mirrored = await router.SetRoutesAsync(plain, new RouteWeights(100, 0, Mirrored: true), default);
        Assert.False(mirrored.Succeeded);
        Assert.Contains("mirroring is not supported by the contour router", mirrored.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetRoutesAsync_MissingObjectOrPrimary_FailedOutcomesNamingIt()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "contour-errors");
        var canary = await bed.CanaryAsync("contour");
        var router = bed.Router("contour");

        var missing = await router.GetRoutesAsync(canary, default);
        Assert.False(missing.Succeeded);
        Assert.Contains("HTTPProxy podinfo.", missing.Error, StringComparison.Ordinal);

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        await bed.PatchAsync(Version, "httpproxies/podinfo",
            JsonNode.Parse("""{"spec":{"routes":[{"conditions":[{"prefix":"/"}],"services":[{"name":"a","port":80,"weight":50},{"name":"b","port":80,"weight":50}]}]}}""")!);
        var noPrimary = await router.GetRoutesAsync(canary, default);
        Assert.False(noPrimary.Succeeded);
        Assert.Contains("does not contain a route for podinfo-primary", noPrimary.Error, StringComparison.Ordinal);
    }
}
