using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Aviary.Routing.Tests.Proxy;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// A/B routing by cookie, which the router contract does not cover: the real router writes the object, the test mesh
/// routes real requests by it as NGINX (<c>canary-by-cookie</c>: <c>always</c>/<c>never</c>) and Istio (a regex on the
/// <c>cookie</c> header) would.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class TestMeshProxyTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    [Fact]
    public async Task Nginx_CanaryByCookie_AlwaysToCanaryNeverAndOthersToPrimary()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "proxy-nginx");
        await Server.ApplyAsync($"""
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: podinfo
              namespace: {bed.Namespace}
            spec:
              rules:
              - http:
                  paths:
                  - path: /
                    pathType: Prefix
                    backend:
                      service:
                        name: podinfo
                        port:
                          number: 9898
            """);
        var canary = await bed.CanaryAsync("nginx", extraSpec: "ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}",
            analysis: "iterations: 10\n    match: [{headers: {cookie: {exact: canary}}}]");

        var answers = await RouteAsync(bed, canary, TestMeshTarget.ForProvider("nginx", bed.Namespace, "podinfo", ingress: "podinfo"),
            "canary=always", "canary=never", "other=always", null);

        Assert.Equal(["canary", "primary", "primary", "primary"], answers);
    }

    [Fact]
    public async Task Istio_CookieRegexMatch_OnlyThatCookieToCanary()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "proxy-istio");
        var canary = await bed.CanaryAsync("istio",
            analysis: "iterations: 10\n    match: [{headers: {cookie: {regex: \"^(.*?;)?(canary=always)(;.*)?$\"}}}]");

        var answers = await RouteAsync(bed, canary, TestMeshTarget.ForProvider("istio", bed.Namespace, "podinfo"),
            "canary=always", "session=1;canary=always;theme=dark", "canary=never", null);

        Assert.Equal(["canary", "canary", "primary", "primary"], answers);
    }

    /// <summary>Reconciles, starts A/B testing (everything matched to the canary), and sends one GET per cookie header (null: none).</summary>
    private async Task<List<string>> RouteAsync(RouterTestBed bed, CanaryPolicy canary, TestMeshTarget target, params string?[] cookies)
    {
        var router = bed.Router(canary.Provider);
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(0, 100), default));
        await using var mesh = TestMesh.Start(Server, target);
        await mesh.RefreshAsync();
        await using var proxy = await mesh.StartProxyAsync();
        await using var primary = await TestBackend.StartAsync("primary");
        await using var canaryBackend = await TestBackend.StartAsync("canary");
        proxy.SetEndpoints(target.EffectiveRegistryKey, BackendRole.Primary, [primary.Endpoint()]);
        proxy.SetEndpoints(target.EffectiveRegistryKey, BackendRole.Canary, [canaryBackend.Endpoint()]);
        using var client = ProxyFixture.NewClient(proxy.Address);
        var answers = new List<string>();
        foreach (var cookie in cookies)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            if (cookie is not null) request.Headers.TryAddWithoutValidation("Cookie", cookie);
            using var response = await client.SendAsync(request);
            answers.Add(await response.Content.ReadAsStringAsync());
        }
        return answers;
    }
}
