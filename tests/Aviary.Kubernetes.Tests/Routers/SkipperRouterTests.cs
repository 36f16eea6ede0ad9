using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Tests.Workloads;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// SkipperRouter (provider <c>skipper</c>) against the real API server: the exact <c>&lt;ingress&gt;-canary</c> copy at each
/// step of the seeds' scenario, as Flagger's Skipper router writes it (paths doubled, backend weights, the predicate that
/// prefers or disables the copy in front of the user's own).
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class SkipperRouterTests(KubeApiServerFixture fixture)
{
    private const string Version = "networking.k8s.io/v1";

    private KubeApiServer Server => fixture.Server;

    private static async Task MainIngressAsync(RouterTestBed bed) => await bed.Server.ApplyAsync($"""
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: podinfo
          namespace: {bed.Namespace}
          labels:
            team: web
          annotations:
            kubernetes.io/ingress.class: skipper
            zalando.org/skipper-predicate: Header("X-Region", "eu")
        spec:
          rules:
          - host: app.example.com
            http:
              paths:
              - path: /
                pathType: Prefix
                backend:
                  service:
                    name: podinfo
                    port:
                      number: 9898
              - path: /static
                pathType: Prefix
                backend:
                  service:
                    name: assets
                    port:
                      number: 80
        """);

    private const string IngressRef = "ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}";

    private static string Weights(int primary, int canary) => $$"""{"podinfo-canary":{{canary}},"podinfo-primary":{{primary}}}""";

    [Fact]
    public async Task Scenario_CanaryTenToFiftyThenPromotionAndFinalize_ExactObjectAtEachStep()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "skipper-golden");
        await MainIngressAsync(bed);
        var canary = await bed.CanaryAsync("skipper", extraSpec: IngressRef);
        var router = bed.Router("skipper");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var created = await bed.RequireAsync(Version, "ingresses/podinfo-canary");
        RouterTestBed.AssertJson("""
            {"rules":[{"host":"app.example.com","http":{"paths":[
              {"path":"/","pathType":"Prefix","backend":{"service":{"name":"podinfo-primary","port":{"number":9898}}}},
              {"path":"/static","pathType":"Prefix","backend":{"service":{"name":"assets","port":{"number":80}}}},
              {"path":"/","pathType":"Prefix","backend":{"service":{"name":"podinfo-canary","port":{"number":9898}}}}]}}]}
            """, created["spec"]);
        var annotations = created["metadata"]!["annotations"]!;
        Assert.Equal(Weights(100, 0), annotations["zalando.org/backend-weights"]!.GetValue<string>());
        Assert.Equal("Weight(100) && Header(\"X-Region\", \"eu\")", annotations["zalando.org/skipper-predicate"]!.GetValue<string>());
        Assert.Equal("skipper", annotations["kubernetes.io/ingress.class"]!.GetValue<string>());
        Assert.Equal("web", created["metadata"]!["labels"]!["team"]!.GetValue<string>());
        DeploymentWorkloadTests.AssertOwnedBy(created, canary);
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        // With nothing on the canary the copy is off; the user's route (the apex) serves.
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default));
        var off = await bed.RequireAsync(Version, "ingresses/podinfo-canary");
        Assert.Equal("False() && Header(\"X-Region\", \"eu\")", off["metadata"]!["annotations"]!["zalando.org/skipper-predicate"]!.GetValue<string>());

        foreach (var weight in new[] { 10, 20, 30, 40, 50 })
        {
            RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100 - weight, weight), default));
            var step = (await bed.RequireAsync(Version, "ingresses/podinfo-canary"))["metadata"]!["annotations"]!;
            Assert.Equal(Weights(100 - weight, weight), step["zalando.org/backend-weights"]!.GetValue<string>());
            Assert.Equal("Weight(100) && Header(\"X-Region\", \"eu\")", step["zalando.org/skipper-predicate"]!.GetValue<string>());
            Assert.Equal(new RouteWeights(100 - weight, weight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        }

        // A reconcile mid-analysis writes nothing and keeps the weights.
        var before = await bed.RequireAsync(Version, "ingresses/podinfo-canary");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion(await bed.RequireAsync(Version, "ingresses/podinfo-canary")));

        // The test mesh reads the copy as Skipper routes it.
        var routes = TestMeshRouteReader.SkipperIngress(before, TestMeshTarget.ForProvider("skipper", bed.Namespace, "podinfo", ingress: "podinfo"));
        Assert.Equal(new RouteWeights(50, 50), routes.Weights);

        // Finalizing (revertOnDeletion) turns the copy off with everything on the primary; it goes with the Canary.
        RouterTestBed.Succeeded(await router.FinalizeAsync(canary, default));
        var final = (await bed.RequireAsync(Version, "ingresses/podinfo-canary"))["metadata"]!["annotations"]!;
        Assert.Equal(Weights(100, 0), final["zalando.org/backend-weights"]!.GetValue<string>());
        Assert.StartsWith("False()", final["zalando.org/skipper-predicate"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingIngressRefOrApexBackend_FailedOutcomesNamingThem()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "skipper-errors");
        var router = bed.Router("skipper");

        var unnamed = await router.ReconcileAsync(await bed.CanaryAsync("skipper"), default);
        Assert.False(unnamed.Succeeded);
        Assert.Contains("spec.ingressRef", unnamed.Error, StringComparison.Ordinal);

        await MainIngressAsync(bed);
        var other = await bed.CanaryAsync("skipper", service: "{name: elsewhere, port: 9898}", extraSpec: IngressRef);
        var noBackend = await router.ReconcileAsync(other, default);
        Assert.False(noBackend.Succeeded);
        Assert.Contains("backend elsewhere not found in ingress podinfo", noBackend.Error, StringComparison.Ordinal);
        Assert.Null(await bed.ReadAsync(Version, "ingresses/podinfo-canary"));
    }

    [Fact]
    public async Task Unsupported_MatchAndMirror_Refused()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "skipper-unsupported");
        await MainIngressAsync(bed);
        var router = bed.Router("skipper");
        var ab = await bed.CanaryAsync("skipper", analysis: "iterations: 10\n    match: [{headers: {x-canary: {exact: insider}}}]", extraSpec: IngressRef);

        var refused = await router.ReconcileAsync(ab, default);
        Assert.False(refused.Succeeded);
        Assert.Contains("A/B testing is not supported by the skipper router", refused.Error, StringComparison.Ordinal);

        var plain = await bed.CanaryAsync("skipper", extraSpec: IngressRef);
        RouterTestBed.Succeeded(await router.ReconcileAsync(plain, default));
        var mirrored = await router.SetRoutesAsync(plain, new RouteWeights(100, 0, Mirrored: true), default);
        Assert.False(mirrored.Succeeded);
        Assert.Contains("mirroring is not supported by the skipper router", mirrored.Error, StringComparison.Ordinal);
    }
}
