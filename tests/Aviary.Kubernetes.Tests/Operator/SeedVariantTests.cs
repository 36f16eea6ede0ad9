using System.Text.Json.Nodes;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// Seed 1's rollout through the other routing objects: Gateway API (an HTTPRoute with <c>gatewayRefs</c> and Linkerd's
/// MetricTemplates, as Linkerd's current docs set it up) and the NGINX ingress controller (a cloned canary Ingress with
/// the canary annotations).
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class SeedVariantTests(OperatorCluster cluster)
{
    /// <summary>Linkerd's MetricTemplates for Gateway API canaries (its docs' success-rate and latency), on the test's Prometheus.</summary>
    private static string LinkerdTemplatesYaml(Uri prometheus) => $$$"""
        apiVersion: flagger.app/v1beta1
        kind: MetricTemplate
        metadata:
          name: success-rate
        spec:
          provider:
            type: prometheus
            address: {{{prometheus}}}
          query: |
            sum(rate(response_total{namespace="{{ namespace }}", deployment=~"{{ target }}", classification!="failure", direction="inbound"}[{{ interval }}]))
            /
            sum(rate(response_total{namespace="{{ namespace }}", deployment=~"{{ target }}", direction="inbound"}[{{ interval }}]))
            * 100
        ---
        apiVersion: flagger.app/v1beta1
        kind: MetricTemplate
        metadata:
          name: latency
        spec:
          provider:
            type: prometheus
            address: {{{prometheus}}}
          query: |
            histogram_quantile(0.99, sum(rate(response_latency_ms_bucket{namespace="{{ namespace }}", deployment=~"{{ target }}", direction="inbound"}[{{ interval }}])) by (le))
        """;

    private const string GatewayCanaryYaml = """
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
        spec:
          provider: gatewayapi:v1beta1
          targetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: podinfo
          service:
            port: 9898
            gatewayRefs:
            - name: podinfo
              kind: Service
              group: core
              port: 9898
          analysis:
            interval: 2s
            threshold: 5
            stepWeight: 20
            maxWeight: 60
            metrics:
            - name: success-rate
              templateRef:
                name: success-rate
              thresholdRange:
                min: 99
              interval: 1m
            - name: latency
              templateRef:
                name: latency
              thresholdRange:
                max: 500
              interval: 1m
        """;

    [Fact]
    public async Task GatewayApi_SetImage_HttpRouteAdvancesToPromotion()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "gatewayapi:v1beta1" });
        await bed.ApplyAsync(SeedTests.PodinfoYaml());
        await bed.ApplyAsync(LinkerdTemplatesYaml(bed.Prometheus.Url));
        await bed.ApplyAsync(GatewayCanaryYaml);
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        var route = await bed.RequireAsync("gateway.networking.k8s.io/v1beta1", "httproutes/podinfo");
        var parent = route["spec"]!["parentRefs"]!.AsArray().Single()!;
        Assert.Equal(("podinfo", "Service"), (parent["name"]!.GetValue<string>(), parent["kind"]!.GetValue<string>()));
        await bed.WaitForWeightsAsync(100, 0);

        using var sampling = new CancellationTokenSource();
        var seen = new List<int>();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                var routes = bed.Mesh!.Routes;
                if (routes.Exists && (seen.Count == 0 || seen[^1] != routes.Weights.Canary)) seen.Add(routes.Weights.Canary);
                await Task.Delay(100);
            }
        });
        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:1.7.1");
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(90));
        await sampling.CancelAsync();
        await sampler;

        Assert.Equal([0, 20, 40, 60, 0], seen);
        var primary = await bed.RequireAsync("apps/v1", "deployments/podinfo-primary");
        Assert.Equal("ghcr.io/stefanprodan/podinfo:1.7.1", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        var id = $"podinfo.{bed.Namespace}";
        Assert.True(SeedTests.IsSubsequence([$"Advance {id} canary weight 60", $"Copying {id} template spec to podinfo-primary.{bed.Namespace}",
            $"Promotion completed! Scaling down {id}"], bed.EventMessages()), string.Join("\n", bed.EventMessages()));
        // The analysis ran on the templates' queries: at most a halt for no data yet (the canary's first seconds of
        // traffic), never a value out of range.
        Assert.All(bed.EventMessages().Where(m => m.StartsWith("Halt", StringComparison.Ordinal)),
            m => Assert.Contains("no values found for custom metric", m, StringComparison.Ordinal));
        bed.AssertNothingForbidden();
    }

    private const string IngressYaml = """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: podinfo
          labels: {app: podinfo}
          annotations:
            kubernetes.io/ingress.class: nginx
        spec:
          rules:
          - host: app.example.com
            http:
              paths:
              - pathType: Prefix
                path: /
                backend:
                  service:
                    name: podinfo
                    port:
                      number: 9898
        """;

    private const string NginxCanaryYaml = """
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
        spec:
          provider: nginx
          targetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: podinfo
          ingressRef:
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            name: podinfo
          service:
            port: 9898
          analysis:
            interval: 2s
            threshold: 5
            stepWeight: 25
            maxWeight: 50
        """;

    [Fact]
    public async Task Nginx_SetImage_CanaryIngressCarriesTheCanaryAnnotations()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "nginx", Ingress = "podinfo" });
        await bed.ApplyAsync(SeedTests.PodinfoYaml());
        await bed.ApplyAsync(IngressYaml);
        await bed.ApplyAsync(NginxCanaryYaml);
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        var clone = await bed.RequireAsync("networking.k8s.io/v1", "ingresses/podinfo-canary");
        Assert.Equal("true", Annotation(clone, "nginx.ingress.kubernetes.io/canary"));
        Assert.Equal("0", Annotation(clone, "nginx.ingress.kubernetes.io/canary-weight"));
        var backend = clone["spec"]!["rules"]![0]!["http"]!["paths"]![0]!["backend"]!["service"]!;
        Assert.Equal(("podinfo-canary", 9898), (backend["name"]!.GetValue<string>(), backend["port"]!["number"]!.GetValue<int>()));
        Assert.Equal("app.example.com", clone["spec"]!["rules"]![0]!["host"]!.GetValue<string>());
        // The user's Ingress is left as it was.
        var main = await bed.RequireAsync("networking.k8s.io/v1", "ingresses/podinfo");
        Assert.Equal("podinfo", main["spec"]!["rules"]![0]!["http"]!["paths"]![0]!["backend"]!["service"]!["name"]!.GetValue<string>());

        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:1.7.1");
        await bed.WaitForWeightsAsync(75, 25);
        clone = await bed.RequireAsync("networking.k8s.io/v1", "ingresses/podinfo-canary");
        Assert.Equal(("true", "25"), (Annotation(clone, "nginx.ingress.kubernetes.io/canary"), Annotation(clone, "nginx.ingress.kubernetes.io/canary-weight")));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(60));
        clone = await bed.RequireAsync("networking.k8s.io/v1", "ingresses/podinfo-canary");
        Assert.Equal("0", Annotation(clone, "nginx.ingress.kubernetes.io/canary-weight"));
        bed.AssertNothingForbidden();
    }

    private static string? Annotation(JsonObject obj, string key) => obj["metadata"]?["annotations"]?[key]?.GetValue<string>();
}
