using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Tests.Workloads;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>NginxRouter (the <c>&lt;ingress&gt;-canary</c> clone with canary annotations) against the real API server.</summary>
[Collection(KubeCollection.Name)]
public sealed class NginxRouterTests(KubeApiServerFixture fixture)
{
    private const string Api = "networking.k8s.io/v1";
    private const string IngressRef = "ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}";
    private const string Prefix = "nginx.ingress.kubernetes.io/";

    private KubeApiServer Server => fixture.Server;

    /// <summary>The main Ingress, applied with kubectl (so it carries kubectl's annotation).</summary>
    private Task ApplyIngressAsync(RouterTestBed bed, string host = "app.example.com", string backend = "podinfo") => Server.ApplyAsync($$"""
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: podinfo
          namespace: {{bed.Namespace}}
          labels: {app: podinfo}
          annotations:
            kubernetes.io/ingress.class: nginx
            nginx.ingress.kubernetes.io/proxy-body-size: 8m
        spec:
          rules:
          - host: {{host}}
            http:
              paths:
              - path: /
                pathType: Prefix
                backend:
                  service:
                    name: {{backend}}
                    port: {number: 9898}
              - path: /static
                pathType: Prefix
                backend:
                  service:
                    name: static-files
                    port: {number: 80}
        """);

    private async Task<(RouterTestBed Bed, CanaryPolicy Canary)> PodinfoAsync(string prefix, string analysis = "stepWeight: 10\n    maxWeight: 50")
    {
        var bed = await RouterTestBed.CreateAsync(Server, prefix);
        await ApplyIngressAsync(bed);
        return (bed, await bed.CanaryAsync("nginx", analysis: analysis, extraSpec: IngressRef));
    }

    private static string? Annotation(JsonObject ingress, string suffix) => ingress["metadata"]?["annotations"]?[Prefix + suffix]?.GetValue<string>();

    [Fact]
    public async Task ReconcileAsync_ClonesTheIngressToCanaryWithCanaryAnnotations_MainUntouched()
    {
        var (bed, canary) = await PodinfoAsync("nginx-new");
        using var _ = bed;
        var router = bed.Router("nginx");
        var mainBefore = await bed.RequireAsync(Api, "ingresses/podinfo");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        var clone = await bed.RequireAsync(Api, "ingresses/podinfo-canary");
        DeploymentWorkloadTests.AssertOwnedBy(clone, canary);
        RouterTestBed.AssertJson("""
            {"rules":[{"host":"app.example.com","http":{"paths":[
              {"path":"/","pathType":"Prefix","backend":{"service":{"name":"podinfo-canary","port":{"number":9898}}}},
              {"path":"/static","pathType":"Prefix","backend":{"service":{"name":"static-files","port":{"number":80}}}}]}}]}
            """, clone["spec"]);
        var annotations = clone["metadata"]!["annotations"]!.AsObject();
        Assert.Equal("true", Annotation(clone, "canary"));
        Assert.Equal("0", Annotation(clone, "canary-weight"));
        Assert.Equal("nginx", annotations["kubernetes.io/ingress.class"]!.GetValue<string>());
        Assert.Equal("8m", Annotation(clone, "proxy-body-size"));
        Assert.Equal("disabled", annotations["kustomize.toolkit.fluxcd.io/reconcile"]!.GetValue<string>());
        Assert.False(annotations.ContainsKey("kubectl.kubernetes.io/last-applied-configuration"));
        Assert.Equal("podinfo", clone["metadata"]!["labels"]!["app"]!.GetValue<string>());
        var mainAfter = await bed.RequireAsync(Api, "ingresses/podinfo");
        Assert.Equal(RouterTestBed.ResourceVersion(mainBefore), RouterTestBed.ResourceVersion(mainAfter));
        Assert.Equal("podinfo", mainAfter["spec"]!["rules"]![0]!["http"]!["paths"]![0]!["backend"]!["service"]!["name"]!.GetValue<string>());
        Assert.Null(mainAfter["metadata"]!["ownerReferences"]);
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Theory]
    [InlineData(100, 0)]
    [InlineData(0, 100)]
    [InlineData(90, 10)]
    public async Task SetRoutesAsync_Weights_CanaryWeightAnnotationReadBack(int primary, int canaryWeight)
    {
        var (bed, canary) = await PodinfoAsync("nginx-set");
        using var _ = bed;
        var router = bed.Router("nginx");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(primary, canaryWeight), default));

        var clone = await bed.RequireAsync(Api, "ingresses/podinfo-canary");
        Assert.Equal(canaryWeight.ToString(System.Globalization.CultureInfo.InvariantCulture), Annotation(clone, "canary-weight"));
        Assert.Equal("true", Annotation(clone, "canary"));
        Assert.Equal(new RouteWeights(primary, canaryWeight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task ReconcileAsync_Again_WritesNothingAndKeepsTheWeight()
    {
        var (bed, canary) = await PodinfoAsync("nginx-idem");
        using var _ = bed;
        var router = bed.Router("nginx");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(70, 30), default));
        var before = await bed.RequireAsync(Api, "ingresses/podinfo-canary");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(70, 30), default));

        var after = await bed.RequireAsync(Api, "ingresses/podinfo-canary");
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion(after));
        Assert.Equal(new RouteWeights(70, 30), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task ReconcileAsync_MainIngressChanged_CloneFollowsKeepingItsWeight()
    {
        var (bed, canary) = await PodinfoAsync("nginx-follow");
        using var _ = bed;
        var router = bed.Router("nginx");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(80, 20), default));

        await ApplyIngressAsync(bed, host: "new.example.com");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        var clone = await bed.RequireAsync(Api, "ingresses/podinfo-canary");
        Assert.Equal("new.example.com", clone["spec"]!["rules"]![0]!["host"]!.GetValue<string>());
        Assert.Equal("podinfo-canary", clone["spec"]!["rules"]![0]!["http"]!["paths"]![0]!["backend"]!["service"]!["name"]!.GetValue<string>());
        Assert.Equal("20", Annotation(clone, "canary-weight"));
    }

    [Fact]
    public async Task SetRoutesAsync_ABTestingByHeader_HeaderAnnotationsThenBackToWeights()
    {
        var (bed, canary) = await PodinfoAsync("nginx-ab", analysis: "iterations: 10\n    match: [{headers: {x-canary: {exact: insider}}}]");
        using var _ = bed;
        var router = bed.Router("nginx");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));
        var testing = await bed.RequireAsync(Api, "ingresses/podinfo-canary");
        var during = RouterTestBed.Weights(await router.GetRoutesAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, RouteWeights.AllPrimary, default));
        var done = await bed.RequireAsync(Api, "ingresses/podinfo-canary");

        Assert.Equal("x-canary", Annotation(testing, "canary-by-header"));
        Assert.Equal("insider", Annotation(testing, "canary-by-header-value"));
        Assert.Equal("0", Annotation(testing, "canary-weight"));
        Assert.Equal(new RouteWeights(0, 100), during);
        Assert.Null(Annotation(done, "canary-by-header"));
        Assert.Null(Annotation(done, "canary-by-header-value"));
        Assert.Equal("true", Annotation(done, "canary"));
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }

    [Fact]
    public async Task SetRoutesAsync_ABTestingByCookieAndHeaderPattern_CookieAndPatternAnnotations()
    {
        var (bed, canary) = await PodinfoAsync("nginx-cookie",
            analysis: "iterations: 10\n    match: [{headers: {cookie: {exact: canary}}}, {headers: {x-user: {regex: \"^(alice|bob)$\"}}}]");
        using var _ = bed;
        var router = bed.Router("nginx");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));

        var clone = await bed.RequireAsync(Api, "ingresses/podinfo-canary");
        Assert.Equal("canary", Annotation(clone, "canary-by-cookie"));
        Assert.Equal("x-user", Annotation(clone, "canary-by-header"));
        Assert.Equal("^(alice|bob)$", Annotation(clone, "canary-by-header-pattern"));
        Assert.Null(Annotation(clone, "canary-by-header-value"));
    }

    [Fact]
    public async Task Unsupported_MirrorQueryParamsTwoHeaders_FailedOutcomesAndNothingWritten()
    {
        var (bed, plain) = await PodinfoAsync("nginx-unsupported");
        using var _ = bed;
        var router = bed.Router("nginx");
        RouterTestBed.Succeeded(await router.ReconcileAsync(plain, default));
        var before = await bed.RequireAsync(Api, "ingresses/podinfo-canary");

        var mirror = await router.SetRoutesAsync(plain, new RouteWeights(100, 0, Mirrored: true), default);
        var query = await router.SetRoutesAsync(await bed.CanaryAsync("nginx", extraSpec: IngressRef,
            analysis: "iterations: 10\n    match: [{queryParams: {ring: {exact: beta}}}]"), new RouteWeights(0, 100), default);
        var twoHeaders = await router.ReconcileAsync(await bed.CanaryAsync("nginx", extraSpec: IngressRef,
            analysis: "iterations: 10\n    match: [{headers: {x-a: {exact: \"1\"}, x-b: {exact: \"2\"}}}]"), default);

        Assert.False(mirror.Succeeded);
        Assert.Contains("mirroring is not supported by the nginx router", mirror.Error, StringComparison.Ordinal);
        Assert.False(query.Succeeded);
        Assert.Contains("query parameters", query.Error, StringComparison.Ordinal);
        Assert.False(twoHeaders.Succeeded);
        Assert.Contains("more than one header", twoHeaders.Error, StringComparison.Ordinal);
        Assert.Equal(RouterTestBed.ResourceVersion(before), RouterTestBed.ResourceVersion(await bed.RequireAsync(Api, "ingresses/podinfo-canary")));
    }

    [Fact]
    public async Task Errors_NoIngressRefMissingIngressOrBackend_FailedOutcomes()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "nginx-errors");
        var router = bed.Router("nginx");

        var noRef = await router.ReconcileAsync(await bed.CanaryAsync("nginx"), default);
        var missing = await router.ReconcileAsync(await bed.CanaryAsync("nginx", extraSpec: IngressRef), default);
        await ApplyIngressAsync(bed, backend: "someone-else");
        var noBackend = await router.ReconcileAsync(await bed.CanaryAsync("nginx", extraSpec: IngressRef), default);

        Assert.False(noRef.Succeeded);
        Assert.Contains("ingress selector is empty", noRef.Error, StringComparison.Ordinal);
        Assert.False(missing.Succeeded);
        Assert.Contains($"podinfo.{bed.Namespace} get query error", missing.Error, StringComparison.Ordinal);
        Assert.False(noBackend.Succeeded);
        Assert.Equal("backend podinfo not found in ingress podinfo", noBackend.Error);
        Assert.Null(await bed.ReadAsync(Api, "ingresses/podinfo-canary"));
    }

    [Fact]
    public async Task FinalizeAsync_WeightZero()
    {
        var (bed, canary) = await PodinfoAsync("nginx-final");
        using var _ = bed;
        var router = bed.Router("nginx");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));

        RouterTestBed.Succeeded(await router.FinalizeAsync(canary, default));

        Assert.Equal("0", Annotation(await bed.RequireAsync(Api, "ingresses/podinfo-canary"), "canary-weight"));
    }

    [Fact]
    public async Task AnnotationsPrefix_FromOptions()
    {
        var (bed, canary) = await PodinfoAsync("nginx-prefix");
        using var _ = bed;
        var factory = new Aviary.Kubernetes.Routers.KubeRouterFactory(bed.Client, new Aviary.Kubernetes.Routers.KubeRouterOptions { IngressAnnotationsPrefix = "custom.nginx.org" });
        var router = factory.Create("nginx").Value!;
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));

        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(75, 25), default));

        var clone = await bed.RequireAsync(Api, "ingresses/podinfo-canary");
        Assert.Equal("25", clone["metadata"]!["annotations"]!["custom.nginx.org/canary-weight"]!.GetValue<string>());
        Assert.Equal(new RouteWeights(75, 25), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
    }
}
