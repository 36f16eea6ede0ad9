using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Tests.Workloads;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// ApisixRouter (provider <c>apisix</c>) against the real API server with APISIX's ApisixRoute CRD: the exact canary
/// route it writes at each step of the seeds' scenario, as Flagger's APISIX router writes it.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class ApisixRouterTests(KubeApiServerFixture fixture)
{
    private const string Version = "apisix.apache.org/v2";
    private const string RouteRef = "routeRef: {apiVersion: apisix.apache.org/v2, kind: ApisixRoute, name: podinfo}";

    private KubeApiServer Server => fixture.Server;

    private static Task UserRouteAsync(RouterTestBed bed) => bed.Server.ApplyAsync($"""
        apiVersion: apisix.apache.org/v2
        kind: ApisixRoute
        metadata:
          name: podinfo
          namespace: {bed.Namespace}
          labels: {"{"}team: web{"}"}
        spec:
          http:
          - name: main
            match:
              hosts: [app.example.com]
              paths: ["/*"]
            backends:
            - serviceName: podinfo
              servicePort: 9898
              resolveGranularity: service
        """);

    private static string Backends(int primary, int canary) =>
        $$"""[{"serviceName":"podinfo-primary","servicePort":9898,"resolveGranularity":"service","weight":{{primary}}},""" +
        $$"""{"serviceName":"podinfo-canary","servicePort":9898,"resolveGranularity":"service","weight":{{canary}}}]""";

    [Fact]
    public async Task Scenario_CanaryTenToFiftyThenBack_ExactCanaryRouteAtEachStep()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "apisix-golden");
        await UserRouteAsync(bed);
        var canary = await bed.CanaryAsync("apisix", extraSpec: RouteRef);
        var router = bed.Router("apisix");
        var user = await bed.RequireAsync(Version, "apisixroutes/podinfo");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var created = await bed.RequireAsync(Version, "apisixroutes/podinfo-podinfo-canary");
        RouterTestBed.AssertJson("""{"http":[{"name":"main","match":{"hosts":["app.example.com"],"paths":["/*"]},"backends":""" + Backends(100, 0) + ""","priority":10000}]}""",
            created["spec"]);
        Assert.Equal("web", created["metadata"]!["labels"]!["team"]!.GetValue<string>());
        DeploymentWorkloadTests.AssertOwnedBy(created, canary);
        // The user's route is left as it was.
        Assert.Equal(RouterTestBed.ResourceVersion(user), RouterTestBed.ResourceVersion(await bed.RequireAsync(Version, "apisixroutes/podinfo")));
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        foreach (var weight in new[] { 10, 20, 30, 40, 50 })
        {
            RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100 - weight, weight), default));
            var step = await bed.RequireAsync(Version, "apisixroutes/podinfo-podinfo-canary");
            RouterTestBed.AssertJson(Backends(100 - weight, weight), step["spec"]!["http"]![0]!["backends"]);
            Assert.Equal(new RouteWeights(100 - weight, weight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        }

        // A reconcile mid-analysis keeps the weights; promotion or rollback sends everything back to the primary.
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.Equal(new RouteWeights(50, 50), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default));
        RouterTestBed.AssertJson(Backends(100, 0), (await bed.RequireAsync(Version, "apisixroutes/podinfo-podinfo-canary"))["spec"]!["http"]![0]!["backends"]);
    }

    [Fact]
    public async Task ReconcileAsync_Again_WritesNothing_AndAHandEditIsRepairedKeepingTheWeights()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "apisix-repair");
        await UserRouteAsync(bed);
        var canary = await bed.CanaryAsync("apisix", extraSpec: RouteRef);
        var router = bed.Router("apisix");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(70, 30), default));
        var before = await bed.RequireAsync(Version, "apisixroutes/podinfo-podinfo-canary");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(70, 30), default));
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion(await bed.RequireAsync(Version, "apisixroutes/podinfo-podinfo-canary")));

        await bed.PatchAsync(Version, "apisixroutes/podinfo-podinfo-canary", JsonNode.Parse("""{"spec":{"http":[{"name":"main","match":{"paths":["/elsewhere"]},"backends":[{"serviceName":"podinfo-primary","servicePort":9898,"weight":70},{"serviceName":"podinfo-canary","servicePort":9898,"weight":30}]}]}}""")!);
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        var repaired = await bed.RequireAsync(Version, "apisixroutes/podinfo-podinfo-canary");
        RouterTestBed.AssertJson("""{"hosts":["app.example.com"],"paths":["/*"]}""", repaired["spec"]!["http"]![0]!["match"]);
        RouterTestBed.AssertJson(Backends(70, 30), repaired["spec"]!["http"]![0]!["backends"]);
    }

    [Fact]
    public async Task Errors_NoRouteRef_MissingUserRoute_AndUnsupportedFeatures_FailedOutcomesAndNothingWritten()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "apisix-errors");
        var router = bed.Router("apisix");

        var noRef = await router.ReconcileAsync(await bed.CanaryAsync("apisix"), default);
        Assert.False(noRef.Succeeded);
        Assert.Contains("needs spec.routeRef.name", noRef.Error, StringComparison.Ordinal);

        var missing = await router.ReconcileAsync(await bed.CanaryAsync("apisix", extraSpec: RouteRef), default);
        Assert.False(missing.Succeeded);
        Assert.Contains("ApisixRoute podinfo.", missing.Error, StringComparison.Ordinal);

        await UserRouteAsync(bed);
        var ab = await bed.CanaryAsync("apisix", analysis: "iterations: 10\n    match: [{headers: {x-canary: {exact: insider}}}]", extraSpec: RouteRef);
        var refused = await router.ReconcileAsync(ab, default);
        Assert.False(refused.Succeeded);
        Assert.Contains("A/B testing is not supported by the apisix router", refused.Error, StringComparison.Ordinal);
        Assert.Null(await bed.ReadAsync(Version, "apisixroutes/podinfo-podinfo-canary"));
    }
}
