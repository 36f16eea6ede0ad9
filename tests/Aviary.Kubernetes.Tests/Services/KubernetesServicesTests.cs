using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Services;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Tests.Workloads;
using Aviary.Kubernetes.Workloads;
using Aviary.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Tests.Services;

[Collection(KubeCollection.Name)]
public sealed class KubernetesServicesTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    private async Task<(KubeTestBed Bed, CanaryPolicy Canary)> PodinfoAsync(string prefix, string service = "port: 9898", string provider = "linkerd",
        string kind = "Deployment")
    {
        var bed = await KubeTestBed.CreateAsync(Server, prefix);
        await bed.ApplyConfigsAsync();
        await bed.ApplyPodinfoAsync(kind: kind);
        var canary = await bed.CreateCanaryAsync(kind: kind, provider: provider, service: service);
        return (bed, canary);
    }

    private static KubernetesServices Services(KubeTestBed bed) => new(bed.Client, NullLogger.Instance);

    private static string Selector(JsonObject service) => service["spec"]!["selector"]!.ToJsonString();

    [Fact]
    public async Task ReconcileAsync_Seed1_CreatesApexPrimaryAndCanaryWithTheirSelectorsPortsAndOwner()
    {
        var (bed, canary) = await PodinfoAsync("svc-seed");
        using var _ = bed;

        var result = await Services(bed).ReconcileAsync(canary, default);

        Assert.True(result.Succeeded, result.Error);
        var apex = await bed.GetAsync(bed.Services, "podinfo");
        var primary = await bed.GetAsync(bed.Services, "podinfo-primary");
        var canarySvc = await bed.GetAsync(bed.Services, "podinfo-canary");
        Assert.Equal("""{"app":"podinfo-primary"}""", Selector(apex));
        Assert.Equal("""{"app":"podinfo-primary"}""", Selector(primary));
        Assert.Equal("""{"app":"podinfo"}""", Selector(canarySvc));
        foreach (var (service, name) in new[] { (apex, "podinfo"), (primary, "podinfo-primary"), (canarySvc, "podinfo-canary") })
        {
            Assert.Equal("ClusterIP", service["spec"]!["type"]!.GetValue<string>());
            var port = Assert.Single(service["spec"]!["ports"]!.AsArray())!;
            Assert.Equal("""{"name":"http","protocol":"TCP","port":9898,"targetPort":9898}""", port.ToJsonString());
            Assert.Equal(name, service["metadata"]!["labels"]!["app"]!.GetValue<string>());
            DeploymentWorkloadTests.AssertOwnedBy(service, canary);
        }
    }

    [Fact]
    public async Task ReconcileAsync_ServiceOptions_PortNameTargetPortAppProtocolDiscoveryAndMetadata()
    {
        var (bed, canary) = await PodinfoAsync("svc-options", service: """
            {name: frontend, port: 80, portName: web, targetPort: http, appProtocol: http, portDiscovery: true, apex: {labels: {tier: edge}, annotations: {note: apex, kustomize.toolkit.fluxcd.io/name: x}}, primary: {labels: {tier: stable}}, canary: {annotations: {note: canary}}}
            """);
        using var _ = bed;

        Assert.True((await Services(bed).ReconcileAsync(canary, default)).Succeeded);

        var apex = await bed.GetAsync(bed.Services, "frontend");
        Assert.Equal(
            """[{"name":"web","protocol":"TCP","appProtocol":"http","port":80,"targetPort":"http"},"""
            + """{"name":"http-metrics","protocol":"TCP","port":9797,"targetPort":9797},{"name":"tcp-podinfod-2","protocol":"TCP","port":9999,"targetPort":9999}]""",
            apex["spec"]!["ports"]!.ToJsonString());
        Assert.Equal("""{"app":"frontend","tier":"edge"}""", apex["metadata"]!["labels"]!.ToJsonString());
        Assert.Equal("""{"note":"apex"}""", apex["metadata"]!["annotations"]!.ToJsonString());
        var primary = await bed.GetAsync(bed.Services, "frontend-primary");
        Assert.Equal("""{"app":"frontend-primary","tier":"stable"}""", primary["metadata"]!["labels"]!.ToJsonString());
        Assert.Equal("""{"app":"podinfo-primary"}""", Selector(primary));
        var canarySvc = await bed.GetAsync(bed.Services, "frontend-canary");
        Assert.Equal("""{"note":"canary"}""", canarySvc["metadata"]!["annotations"]!.ToJsonString());
        Assert.Equal(3, canarySvc["spec"]!["ports"]!.AsArray().Count);
    }

    [Fact]
    public async Task ReconcileAsync_PortChanged_UpdatesInPlaceKeepingClusterIpAndIsIdempotent()
    {
        var (bed, canary) = await PodinfoAsync("svc-update");
        using var _ = bed;
        var services = Services(bed);
        Assert.True((await services.ReconcileAsync(canary, default)).Succeeded);
        var before = await bed.GetAsync(bed.Services, "podinfo");
        var clusterIp = before["spec"]!["clusterIP"]!.GetValue<string>();

        Assert.True((await services.ReconcileAsync(canary, default)).Succeeded);
        Assert.Equal(KubeJson.ResourceVersion(before), KubeJson.ResourceVersion(await bed.GetAsync(bed.Services, "podinfo")));

        var moved = canary with { ServicePort = 8080 };
        Assert.True((await services.ReconcileAsync(moved, default)).Succeeded);

        var after = await bed.GetAsync(bed.Services, "podinfo");
        Assert.Equal(clusterIp, after["spec"]!["clusterIP"]!.GetValue<string>());
        Assert.Equal(8080, after["spec"]!["ports"]![0]!["port"]!.GetValue<int>());
        Assert.Equal(8080, after["spec"]!["ports"]![0]!["targetPort"]!.GetValue<int>());
    }

    [Fact]
    public async Task ReconcileAsync_OwnedService_ReplacesManagedMetadataButKeepsUnmanagedKeys()
    {
        var (bed, canary) = await PodinfoAsync("svc-unmanaged", service: """
            {port: 9898, apex: {annotations: {managed: "1"}}, unmanagedMetadata: {annotations: [external-dns.alpha.kubernetes.io/hostname]}}
            """);
        using var _ = bed;
        var services = Services(bed);
        Assert.True((await services.ReconcileAsync(canary, default)).Succeeded);
        await Server.KubectlAsync("annotate", "service", "podinfo", "-n", bed.Namespace, "external-dns.alpha.kubernetes.io/hostname=podinfo.example", "stray=x");

        Assert.True((await services.ReconcileAsync(canary, default)).Succeeded);

        Assert.Equal("""{"external-dns.alpha.kubernetes.io/hostname":"podinfo.example","managed":"1"}""",
            (await bed.GetAsync(bed.Services, "podinfo"))["metadata"]!["annotations"]!.ToJsonString());
    }

    [Fact]
    public async Task ReconcileAndFinalize_UsersOwnApex_SwitchedToThePrimaryThenBackToItsAppliedSelector()
    {
        var (bed, canary) = await PodinfoAsync("svc-user");
        using var _ = bed;
        await Server.ApplyAsync($$$"""
            apiVersion: v1
            kind: Service
            metadata: {name: podinfo, namespace: {{{bed.Namespace}}}, labels: {owner: me}}
            spec:
              selector: {app: podinfo}
              ports: [{name: http, port: 9898, targetPort: 9898}]
            """);
        var services = Services(bed);

        Assert.True((await services.ReconcileAsync(canary, default)).Succeeded);

        var switched = await bed.GetAsync(bed.Services, "podinfo");
        Assert.Equal("""{"app":"podinfo-primary"}""", Selector(switched));
        Assert.Equal("""{"owner":"me"}""", switched["metadata"]!["labels"]!.ToJsonString());
        Assert.Null(switched["metadata"]!["ownerReferences"]);

        Assert.True((await services.FinalizeAsync(canary, default)).Succeeded);
        Assert.Equal("""{"app":"podinfo"}""", Selector(await bed.GetAsync(bed.Services, "podinfo")));
    }

    [Fact]
    public async Task FinalizeAsync_ApexCreatedByTheCanary_SelectsTheTargetAndOutlivesTheCanary()
    {
        var (bed, canary) = await PodinfoAsync("svc-finalize");
        using var _ = bed;
        var services = Services(bed);
        Assert.True((await services.ReconcileAsync(canary, default)).Succeeded);

        Assert.True((await services.FinalizeAsync(canary, default)).Succeeded);

        var apex = await bed.GetAsync(bed.Services, "podinfo");
        Assert.Equal("""{"app":"podinfo"}""", Selector(apex));
        Assert.Null(apex["metadata"]!["ownerReferences"]);
        // The primary and canary Services stay owned: they go with the Canary.
        DeploymentWorkloadTests.AssertOwnedBy(await bed.GetAsync(bed.Services, "podinfo-primary"), canary);
        var rv = KubeJson.ResourceVersion(apex);
        Assert.True((await services.FinalizeAsync(canary, default)).Succeeded);
        Assert.Equal(rv, KubeJson.ResourceVersion(await bed.GetAsync(bed.Services, "podinfo")));
    }

    [Fact]
    public async Task ReconcileAsync_DaemonSetTarget_SelectsByItsLabel()
    {
        var (bed, canary) = await PodinfoAsync("svc-ds", kind: "DaemonSet");
        using var _ = bed;

        Assert.True((await Services(bed).ReconcileAsync(canary, default)).Succeeded);

        Assert.Equal("""{"app":"podinfo"}""", Selector(await bed.GetAsync(bed.Services, "podinfo-canary")));
        Assert.Equal("""{"app":"podinfo-primary"}""", Selector(await bed.GetAsync(bed.Services, "podinfo")));
    }

    [Fact]
    public async Task ReconcileAsync_WithoutServicePort_FailsClearly()
    {
        var (bed, canary) = await PodinfoAsync("svc-noport");
        using var _ = bed;

        var result = await Services(bed).ReconcileAsync(canary with { ServicePort = null }, default);

        Assert.Equal($"canary podinfo.{bed.Namespace}: spec.service.port is required to create its Services", result.Error);
    }

    [Fact]
    public async Task KubernetesRouter_BlueGreen_AllOrNothingThroughTheApexSelector()
    {
        var (bed, canary) = await PodinfoAsync("svc-router", provider: "kubernetes");
        using var _ = bed;
        var router = new KubernetesServiceRouter(bed.Client, NullLogger.Instance);
        var workload = new DeploymentWorkload(bed.Client, bed.Clock, NullLogger.Instance);
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);

        Assert.True((await router.ReconcileAsync(canary, default)).Succeeded);
        Assert.Equal(RouteWeights.AllPrimary, (await router.GetRoutesAsync(canary, default)).Value);
        Assert.True((await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default)).Succeeded);

        Assert.Equal("the kubernetes provider routes all traffic to the primary or to the canary (100/0 or 0/100), not 90/10",
            (await router.SetRoutesAsync(canary, new RouteWeights(90, 10), default)).Error);
        Assert.Equal("traffic mirroring is not supported by the kubernetes provider",
            (await router.SetRoutesAsync(canary, new RouteWeights(100, 0, Mirrored: true), default)).Error);

        // A failed promotion: the primary is broken, the canary takes all traffic.
        Assert.True((await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default)).Succeeded);
        Assert.Equal("""{"app":"podinfo"}""", Selector(await bed.GetAsync(bed.Services, "podinfo")));
        Assert.Equal(new RouteWeights(0, 100), (await router.GetRoutesAsync(canary, default)).Value);

        // Reconciling keeps it there while the primary is not ready...
        Assert.True((await router.ReconcileAsync(canary, default)).Succeeded);
        Assert.Equal(new RouteWeights(0, 100), (await router.GetRoutesAsync(canary, default)).Value);

        // ...and hands the apex back to the primary once it is.
        await bed.MarkReadyAsync("podinfo-primary");
        Assert.True((await router.ReconcileAsync(canary, default)).Succeeded);
        Assert.Equal(RouteWeights.AllPrimary, (await router.GetRoutesAsync(canary, default)).Value);
        var apex = await bed.GetAsync(bed.Services, "podinfo");
        Assert.False(apex["metadata"]!["annotations"]?.AsObject().ContainsKey(KubernetesServices.RouteAnnotation) ?? false);

        Assert.True((await router.FinalizeAsync(canary, default)).Succeeded);
        Assert.Equal(new RouteWeights(0, 100), (await router.GetRoutesAsync(canary, default)).Value);
    }
}
