using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Tests.Workloads;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// TraefikRouter (provider <c>traefik</c>) against the real API server with Traefik's TraefikService CRD: the exact
/// object it writes at each step of the seeds' scenario, as Flagger's Traefik router writes it.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class TraefikRouterTests(KubeApiServerFixture fixture)
{
    private const string Version = "traefik.io/v1alpha1";

    private KubeApiServer Server => fixture.Server;

    private static string Services(string ns, int primary, int? canary) =>
        $$"""[{"name":"podinfo-primary","namespace":"{{ns}}","port":9898,"weight":{{primary}}}""" +
        (canary is { } c ? $$""",{"name":"podinfo-canary","namespace":"{{ns}}","port":9898,"weight":{{c}}}""" : "") + "]";

    [Fact]
    public async Task Scenario_CanaryTenToFiftyThenPromotionAndRollback_ExactObjectAtEachStep()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "traefik-golden");
        var canary = await bed.CanaryAsync("traefik", service: "{port: 9898, apex: {labels: {team: web}, annotations: {example.com/owner: web}}}");
        var router = bed.Router("traefik");

        // Initialization: everything on the primary, the canary not listed (Flagger lists it only while it takes traffic).
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var created = await bed.RequireAsync(Version, "traefikservices/podinfo");
        RouterTestBed.AssertJson("""{"weighted":{"services":""" + Services(bed.Namespace, 100, null) + "}}", created["spec"]);
        Assert.Equal(Version, created["apiVersion"]!.GetValue<string>());
        Assert.Equal("web", created["metadata"]!["labels"]!["team"]!.GetValue<string>());
        Assert.Equal("web", created["metadata"]!["annotations"]!["example.com/owner"]!.GetValue<string>());
        DeploymentWorkloadTests.AssertOwnedBy(created, canary);
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        // Analysis: 10 → 50 in steps of 10, each written and read back.
        foreach (var weight in new[] { 10, 20, 30, 40, 50 })
        {
            RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100 - weight, weight), default));
            var step = await bed.RequireAsync(Version, "traefikservices/podinfo");
            RouterTestBed.AssertJson(Services(bed.Namespace, 100 - weight, weight), step["spec"]!["weighted"]!["services"]);
            Assert.Equal(new RouteWeights(100 - weight, weight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        }

        // A reconcile mid-analysis keeps the weights.
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.Equal(new RouteWeights(50, 50), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        // Promotion (or rollback): traffic back to the primary, the canary dropped from the list.
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default));
        var back = await bed.RequireAsync(Version, "traefikservices/podinfo");
        RouterTestBed.AssertJson(Services(bed.Namespace, 100, null), back["spec"]!["weighted"]!["services"]);

        // Everything on the canary (the last step of a promotion through maxWeight 100): the primary stays listed at 0.
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));
        var all = await bed.RequireAsync(Version, "traefikservices/podinfo");
        RouterTestBed.AssertJson(Services(bed.Namespace, 0, 100), all["spec"]!["weighted"]!["services"]);
    }

    [Fact]
    public async Task ReconcileAsync_Again_WritesNothing_AndAHandEditIsRepairedKeepingTheWeights()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "traefik-repair");
        var canary = await bed.CanaryAsync("traefik");
        var router = bed.Router("traefik");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(70, 30), default));
        var before = await bed.RequireAsync(Version, "traefikservices/podinfo");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion(await bed.RequireAsync(Version, "traefikservices/podinfo")));

        var edited = """[{"name":"podinfo-primary","namespace":"NS","port":9898,"weight":70},{"name":"stranger","port":80,"weight":30}]""".Replace("NS", bed.Namespace, StringComparison.Ordinal);
        await bed.PatchAsync(Version, "traefikservices/podinfo", JsonNode.Parse("""{"metadata":{"labels":{"team":"web"}},"spec":{"weighted":{"services":""" + edited + "}}}")!);
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        var repaired = await bed.RequireAsync(Version, "traefikservices/podinfo");
        RouterTestBed.AssertJson(Services(bed.Namespace, 70, 30), repaired["spec"]!["weighted"]!["services"]);
        Assert.Equal("web", repaired["metadata"]!["labels"]!["team"]!.GetValue<string>());
    }

    [Fact]
    public async Task Unsupported_MatchMirrorSessionAffinity_RefusedAndNothingWritten()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "traefik-unsupported");
        var router = bed.Router("traefik");
        var ab = await bed.CanaryAsync("traefik", analysis: "iterations: 10\n    match: [{headers: {x-canary: {exact: insider}}}]");
        var plain = await bed.CanaryAsync("traefik");

        var refused = await router.ReconcileAsync(ab, default);
        Assert.False(refused.Succeeded);
        Assert.Contains("A/B testing is not supported by the traefik router", refused.Error, StringComparison.Ordinal);
        Assert.Null(await bed.ReadAsync(Version, "traefikservices/podinfo"));

        RouterTestBed.Succeeded(await router.ReconcileAsync(plain, default));
        var mirrored = await router.SetRoutesAsync(plain, new RouteWeights(100, 0, Mirrored: true), default);
        Assert.False(mirrored.Succeeded);
        Assert.Contains("mirroring is not supported by the traefik router", mirrored.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetRoutesAsync_MissingObjectOrPrimary_FailedOutcomesNamingIt()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "traefik-errors");
        var canary = await bed.CanaryAsync("traefik");
        var router = bed.Router("traefik");

        var missing = await router.GetRoutesAsync(canary, default);
        Assert.False(missing.Succeeded);
        Assert.Contains("TraefikService podinfo.", missing.Error, StringComparison.Ordinal);

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        await bed.PatchAsync(Version, "traefikservices/podinfo", JsonNode.Parse("""{"spec":{"weighted":{"services":[{"name":"stranger","port":80,"weight":100}]}}}""")!);
        var noPrimary = await router.GetRoutesAsync(canary, default);
        Assert.False(noPrimary.Succeeded);
        Assert.Contains("does not contain a route for podinfo-primary", noPrimary.Error, StringComparison.Ordinal);
    }
}
