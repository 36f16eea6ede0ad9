using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// KumaRouter (provider <c>kuma</c>) against the real API server with Kuma's cluster-scoped TrafficRoute CRD: the exact
/// object at each step of the seeds' scenario, as Flagger's Kuma router writes it, and the refusal to take over another
/// namespace's TrafficRoute of the same name. Each test uses its own apex name (TrafficRoutes are cluster-scoped).
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class KumaRouterTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    private static async Task<JsonObject?> ReadAsync(RouterTestBed bed, string name)
    {
        var got = await bed.Client.Resource(KubeResources.TrafficRoutes).GetAsync(null, name, default);
        return got.Succeeded ? got.Value : null;
    }

    private static string Split(string name, string ns, int primary, int canary) =>
        $$$"""[{"weight":{{{primary}}},"destination":{"kuma.io/service":"{{{name}}}-primary_{{{ns}}}_svc_9898"}},""" +
        $$$"""{"weight":{{{canary}}},"destination":{"kuma.io/service":"{{{name}}}-canary_{{{ns}}}_svc_9898"}}]""";

    [Fact]
    public async Task Scenario_CanaryTenToFiftyThenPromotion_ExactObjectAtEachStep()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "kuma-golden");
        const string name = "kuma-golden";
        var canary = await bed.CanaryAsync("kuma", service: $"{{name: {name}, port: 9898, apex: {{labels: {{team: web}}}}}}");
        var router = bed.Router("kuma");
        var ns = bed.Namespace;

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var created = (await ReadAsync(bed, name))!;
        RouterTestBed.AssertJson($$$"""
            {"sources":[{"match":{"kuma.io/service":"*"}}],"destinations":[{"match":{"kuma.io/service":"{{{name}}}_{{{ns}}}_svc_9898"}}],
             "conf":{"split":{{{Split(name, ns, 100, 0)}}}}}
            """, created["spec"]);
        Assert.Equal("default", created["mesh"]!.GetValue<string>());
        Assert.Equal("web", created["metadata"]!["labels"]!["team"]!.GetValue<string>());
        Assert.Null(created["metadata"]!["ownerReferences"]);
        Assert.Null(created["metadata"]!["namespace"]);
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        foreach (var weight in new[] { 10, 20, 30, 40, 50 })
        {
            RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100 - weight, weight), default));
            RouterTestBed.AssertJson(Split(name, ns, 100 - weight, weight), (await ReadAsync(bed, name))!["spec"]!["conf"]!["split"]);
            Assert.Equal(new RouteWeights(100 - weight, weight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        }

        var before = (await ReadAsync(bed, name))!;
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion((await ReadAsync(bed, name))!));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default));
        RouterTestBed.AssertJson(Split(name, ns, 100, 0), (await ReadAsync(bed, name))!["spec"]!["conf"]!["split"]);
    }

    [Fact]
    public async Task MeshAnnotation_ChoosesTheMesh()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "kuma-mesh");
        const string name = "kuma-mesh";
        var canary = await bed.CanaryAsync("kuma", service: $"{{name: {name}, port: 9898}}");
        var policy = canary with
        {
            Manifest = canary.Manifest with
            {
                Metadata = canary.Manifest.Metadata with { Annotations = new Dictionary<string, string> { ["kuma.io/mesh"] = "payments" } },
            },
        };

        RouterTestBed.Succeeded(await bed.Router("kuma").ReconcileAsync(policy, default));
        Assert.Equal("payments", (await ReadAsync(bed, name))!["mesh"]!.GetValue<string>());
    }

    [Fact]
    public async Task SameApexInAnotherNamespace_RefusedNamingTheOtherService_AndItsRouteUntouched()
    {
        using var first = await RouterTestBed.CreateAsync(Server, "kuma-first");
        using var second = await RouterTestBed.CreateAsync(Server, "kuma-second");
        const string name = "kuma-shared";
        var one = await first.CanaryAsync("kuma", service: $"{{name: {name}, port: 9898}}");
        var two = await second.CanaryAsync("kuma", service: $"{{name: {name}, port: 9898}}");
        var router = first.Router("kuma");
        RouterTestBed.Succeeded(await router.ReconcileAsync(one, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(one, new RouteWeights(70, 30), default));

        var refused = await router.ReconcileAsync(two, default);
        Assert.False(refused.Succeeded);
        Assert.Contains($"routes {name}_{first.Namespace}_svc_9898, not {name}_{second.Namespace}_svc_9898", refused.Error, StringComparison.Ordinal);
        Assert.Equal(new RouteWeights(70, 30), RouterTestBed.Weights(await router.GetRoutesAsync(one, default)));
    }

    [Fact]
    public async Task Unsupported_MatchAndMirror_Refused()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "kuma-unsupported");
        const string name = "kuma-unsupported";
        var router = bed.Router("kuma");
        var ab = await bed.CanaryAsync("kuma", service: $"{{name: {name}, port: 9898}}", analysis: "iterations: 10\n    match: [{headers: {x-canary: {exact: insider}}}]");

        var refused = await router.ReconcileAsync(ab, default);
        Assert.False(refused.Succeeded);
        Assert.Contains("A/B testing is not supported by the kuma router", refused.Error, StringComparison.Ordinal);
        Assert.Null(await ReadAsync(bed, name));

        var plain = await bed.CanaryAsync("kuma", service: $"{{name: {name}, port: 9898}}");
        RouterTestBed.Succeeded(await router.ReconcileAsync(plain, default));
        var mirrored = await router.SetRoutesAsync(plain, new RouteWeights(100, 0, Mirrored: true), default);
        Assert.False(mirrored.Succeeded);
        Assert.Contains("mirroring is not supported by the kuma router", mirrored.Error, StringComparison.Ordinal);
    }
}
