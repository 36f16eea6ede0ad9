using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Tests.Workloads;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>SmiRouter (linkerd, osm, smi:v1alpha1|2|3) against the real API server with the SMI TrafficSplit CRD.</summary>
[Collection(KubeCollection.Name)]
public sealed class SmiRouterTests(KubeApiServerFixture fixture)
{
    private const string V1Alpha2 = "split.smi-spec.io/v1alpha2";

    private KubeApiServer Server => fixture.Server;

    [Fact]
    public async Task ReconcileAsync_Linkerd_CreatesTrafficSplitOwnedByCanaryWithEverythingOnPrimary()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-new");
        var canary = await bed.CanaryAsync("linkerd");
        var router = bed.Router("linkerd");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        var split = await bed.RequireAsync(V1Alpha2, "trafficsplits/podinfo");
        RouterTestBed.AssertJson("""
            {"service":"podinfo","backends":[{"service":"podinfo-canary","weight":0},{"service":"podinfo-primary","weight":100}]}
            """, split["spec"]);
        Assert.Equal(V1Alpha2, split["apiVersion"]!.GetValue<string>());
        DeploymentWorkloadTests.AssertOwnedBy(split, canary);
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task ReconcileAsync_Hosts_FirstHostIsTheSplitService()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-hosts");
        var canary = await bed.CanaryAsync("osm", service: "{port: 9898, hosts: [podinfo.example.com, other.example.com]}");

        RouterTestBed.Succeeded(await bed.Router("osm").ReconcileAsync(canary, default));

        var split = await bed.RequireAsync(V1Alpha2, "trafficsplits/podinfo");
        Assert.Equal("podinfo.example.com", split["spec"]!["service"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(100, 0)]
    [InlineData(0, 100)]
    [InlineData(90, 10)]
    [InlineData(37, 63)]
    public async Task SetRoutesAsync_Weights_WrittenAndReadBack(int primary, int canaryWeight)
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-set");
        var canary = await bed.CanaryAsync("linkerd");
        var router = bed.Router("linkerd");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(primary, canaryWeight), default));

        Assert.Equal(new RouteWeights(primary, canaryWeight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        var split = await bed.RequireAsync(V1Alpha2, "trafficsplits/podinfo");
        RouterTestBed.AssertJson($$"""
            [{"service":"podinfo-canary","weight":{{canaryWeight}}},{"service":"podinfo-primary","weight":{{primary}}}]
            """, split["spec"]!["backends"]);
    }

    [Fact]
    public async Task ReconcileAsync_Again_WritesNothingAndKeepsWeights()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-idem");
        var canary = await bed.CanaryAsync("linkerd");
        var router = bed.Router("linkerd");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(70, 30), default));
        var before = await bed.RequireAsync(V1Alpha2, "trafficsplits/podinfo");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(70, 30), default));

        var after = await bed.RequireAsync(V1Alpha2, "trafficsplits/podinfo");
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion(after));
        Assert.Equal(new RouteWeights(70, 30), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task ReconcileAsync_BackendsEditedByHand_RepairedKeepingTheWeightsAndUserMetadata()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-repair");
        var canary = await bed.CanaryAsync("linkerd");
        var router = bed.Router("linkerd");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(80, 20), default));
        await bed.PatchAsync(V1Alpha2, "trafficsplits/podinfo", JsonNode.Parse("""
            {"metadata":{"labels":{"team":"web"}},"spec":{"service":"elsewhere","backends":[{"service":"podinfo-primary","weight":80},{"service":"podinfo-canary","weight":20},{"service":"stranger","weight":5}]}}
            """)!);

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        var split = await bed.RequireAsync(V1Alpha2, "trafficsplits/podinfo");
        RouterTestBed.AssertJson("""
            {"service":"podinfo","backends":[{"service":"podinfo-canary","weight":20},{"service":"podinfo-primary","weight":80}]}
            """, split["spec"]);
        Assert.Equal("web", split["metadata"]!["labels"]!["team"]!.GetValue<string>());
    }

    [Fact]
    public async Task SmiV1Alpha1_WeightsAreQuantityStrings_ReadBackAsNumbers()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-v1a1");
        var canary = await bed.CanaryAsync("smi:v1alpha1");
        var router = bed.Router("smi:v1alpha1");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(90, 10), default));

        var split = await bed.RequireAsync("split.smi-spec.io/v1alpha1", "trafficsplits/podinfo");
        RouterTestBed.AssertJson("""
            {"service":"podinfo","backends":[{"service":"podinfo-canary","weight":"10"},{"service":"podinfo-primary","weight":"90"}]}
            """, split["spec"]);
        DeploymentWorkloadTests.AssertOwnedBy(split, canary);
        Assert.Equal(new RouteWeights(90, 10), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        // The same object read through v1alpha2 (as linkerd's router reads one Flagger wrote through v1alpha1).
        var linkerd = bed.Router("linkerd");
        Assert.Equal(new RouteWeights(90, 10), RouterTestBed.Weights(await linkerd.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task SmiV1Alpha3_IntegerWeights()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-v1a3");
        await bed.EnsureSmiV1Alpha3Async();
        var canary = await bed.CanaryAsync("smi:v1alpha3");
        // Flagger's smi:<version>:<mesh> spelling (the CRD's enum only takes smi:<version>; the operator passes the name on).
        var router = bed.Router("smi:v1alpha3:linkerd");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(40, 60), default));

        var split = await bed.RequireAsync("split.smi-spec.io/v1alpha3", "trafficsplits/podinfo");
        Assert.Equal("split.smi-spec.io/v1alpha3", split["apiVersion"]!.GetValue<string>());
        RouterTestBed.AssertJson("""
            {"service":"podinfo","backends":[{"service":"podinfo-canary","weight":60},{"service":"podinfo-primary","weight":40}]}
            """, split["spec"]);
        DeploymentWorkloadTests.AssertOwnedBy(split, canary);
        Assert.Equal(new RouteWeights(40, 60), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task SmiIstio_Gateways_WrittenAsTheAdapterAnnotation()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-istio");
        var canary = await bed.CanaryAsync("smi:v1alpha2", service: "{port: 9898, gateways: [public-gateway.istio-system.svc.cluster.local]}");

        RouterTestBed.Succeeded(await bed.Router("smi:v1alpha2:istio").ReconcileAsync(canary, default));

        var split = await bed.RequireAsync(V1Alpha2, "trafficsplits/podinfo");
        Assert.Equal("""["public-gateway.istio-system.svc.cluster.local"]""",
            split["metadata"]!["annotations"]!["VirtualService.v1alpha3.networking.istio.io/spec.gateways"]!.GetValue<string>());
    }

    [Fact]
    public async Task Match_Mirror_SessionAffinity_FailedOutcomeAndNothingWritten()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-unsupported");
        var plain = await bed.CanaryAsync("linkerd");
        var router = bed.Router("linkerd");
        RouterTestBed.Succeeded(await router.ReconcileAsync(plain, default));
        var before = await bed.RequireAsync(V1Alpha2, "trafficsplits/podinfo");

        var ab = await bed.CanaryAsync("linkerd", analysis: "iterations: 10\n    match: [{headers: {x-canary: {exact: insider}}}]");
        var ablyReconciled = await router.ReconcileAsync(ab, default);
        var abSet = await router.SetRoutesAsync(ab, new RouteWeights(0, 100), default);
        var mirror = await bed.CanaryAsync("linkerd", analysis: "iterations: 10\n    mirror: true");
        var mirrorSet = await router.SetRoutesAsync(mirror, new RouteWeights(100, 0, Mirrored: true), default);
        var plainMirrored = await router.SetRoutesAsync(plain, new RouteWeights(100, 0, Mirrored: true), default);
        var sticky = await bed.CanaryAsync("linkerd", analysis: "stepWeight: 10\n    maxWeight: 50\n    sessionAffinity: {cookieName: canary}");
        var stickyReconciled = await router.ReconcileAsync(sticky, default);

        foreach (var (outcome, words) in new[]
                 {
                     (ablyReconciled, "A/B testing"), (abSet, "A/B testing"), (mirrorSet, "mirroring is not supported"),
                     (plainMirrored, "mirroring is not supported"), (stickyReconciled, "session affinity"),
                 })
        {
            Assert.False(outcome.Succeeded);
            Assert.Contains(words, outcome.Error, StringComparison.Ordinal);
            Assert.Contains("not supported by the linkerd router", outcome.Error, StringComparison.Ordinal);
        }
        var after = await bed.RequireAsync(V1Alpha2, "trafficsplits/podinfo");
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion(after));
    }

    [Fact]
    public async Task Errors_MissingSplitAndBadWeights_FailedOutcomes()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-errors");
        var canary = await bed.CanaryAsync("linkerd");
        var router = bed.Router("linkerd");

        var get = await router.GetRoutesAsync(canary, default);
        var set = await router.SetRoutesAsync(canary, new RouteWeights(50, 50), default);
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var bad = await router.SetRoutesAsync(canary, new RouteWeights(60, 60), default);

        Assert.False(get.Succeeded);
        Assert.Contains($"TrafficSplit podinfo.{bed.Namespace} get query error", get.Error, StringComparison.Ordinal);
        Assert.False(set.Succeeded);
        Assert.Contains("not found", set.Error, StringComparison.Ordinal);
        Assert.False(bad.Succeeded);
        Assert.Contains("do not add up to 100", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FinalizeAsync_RoutesEverythingToPrimary()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "smi-final");
        var canary = await bed.CanaryAsync("linkerd");
        var router = bed.Router("linkerd");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));

        RouterTestBed.Succeeded(await router.FinalizeAsync(canary, default));

        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }
}
