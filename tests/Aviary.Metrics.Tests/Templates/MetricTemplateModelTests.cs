using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Metrics.Providers;
using Aviary.Metrics.Templates;
using Aviary.TestKit;

namespace Aviary.Metrics.Tests.Templates;

public sealed class MetricTemplateModelTests
{
    private const string Analysis = """
        interval: 30s
        threshold: 5
        maxWeight: 50
        stepWeight: 10
        metrics:
        - name: error-rate
          templateRef:
            name: error-rate
          interval: 2m
          templateVariables:
            backend: be_custom
            shared: from-metric
        """;

    [Fact]
    public void For_NoRefs_ServiceIngressRouteAreTheTarget()
    {
        var canary = SchedulerHarness.Compile(SchedulerHarness.Canary(Analysis));
        var model = MetricTemplateModel.For(canary, canary.Metrics[0]);
        Assert.Equal(("podinfo", "test", "podinfo"), (model.Name, model.Namespace, model.Target));
        Assert.Equal(("podinfo", "podinfo", "podinfo"), (model.Service, model.Ingress, model.Route));
        Assert.Equal("2m", model.Interval);
        Assert.Equal("be_custom", model.Variables["backend"]);
    }

    [Fact]
    public void For_ServiceNameIngressRefRouteRef_UsedAsFlaggerDoes()
    {
        var yaml = SchedulerHarness.Canary(Analysis, """
            ingressRef:
              apiVersion: networking.k8s.io/v1
              kind: Ingress
              name: podinfo-ingress
            routeRef:
              apiVersion: apisix.apache.org/v2
              kind: ApisixRoute
              name: podinfo-route
            """).Replace("  service:\n    port: 9898\n", "  service:\n    name: podinfo-svc\n    port: 9898\n", StringComparison.Ordinal);
        var canary = SchedulerHarness.Compile(yaml);
        var model = MetricTemplateModel.For(canary, canary.Metrics[0]);
        Assert.Equal(("podinfo-svc", "podinfo-ingress", "podinfo-route"), (model.Service, model.Ingress, model.Route));
        Assert.Equal("podinfo", model.Target);
    }

    [Fact]
    public void For_RuntimeVariables_AddedAndTheMetricsWin()
    {
        var canary = SchedulerHarness.Compile(SchedulerHarness.Canary(Analysis));
        var model = MetricTemplateModel.For(canary, canary.Metrics[0],
            new Dictionary<string, string> { ["shared"] = "from-runtime", ["haproxy_backend"] = "be_podinfo" });
        Assert.Equal("from-metric", model.Variables["shared"]);
        Assert.Equal("be_podinfo", model.Variables["haproxy_backend"]);
        Assert.Equal("be_custom", model.Variables["backend"]);
    }

    [Fact]
    public void For_DefaultInterval_IsFlaggersOneMinute()
    {
        var canary = SchedulerHarness.Compile(SchedulerHarness.Canary("""
            interval: 30s
            threshold: 5
            maxWeight: 50
            stepWeight: 10
            metrics:
            - name: request-success-rate
              thresholdRange:
                min: 99
            """));
        Assert.Equal("1m", MetricTemplateModel.For(canary, canary.Metrics[0]).Interval);
    }

    [Fact]
    public async Task ForAsync_Knative_RouteIsTheLatestCreatedRevisionOfTheTargetService()
    {
        var canary = SchedulerHarness.Compile(SchedulerHarness.Canary(Analysis));
        var cluster = new OneObject("test", "podinfo", JsonNode.Parse("""{"status":{"latestCreatedRevisionName":"podinfo-00002"}}""")!.AsObject());

        var knative = await MetricTemplateModel.ForAsync(canary, canary.Metrics[0], "knative", cluster, null, default);
        var istio = await MetricTemplateModel.ForAsync(canary, canary.Metrics[0], "istio", cluster, null, default);

        Assert.Equal("podinfo-00002", knative.Value!.Route);
        Assert.Equal("podinfo", istio.Value!.Route);
        Assert.Equal(MetricTemplateModel.KnativeServices, cluster.Asked);
    }

    [Fact]
    public async Task ForAsync_Knative_NoServiceOrNoCluster_AnErrorNamingTheService()
    {
        var canary = SchedulerHarness.Compile(SchedulerHarness.Canary(Analysis));

        var missing = await MetricTemplateModel.ForAsync(canary, canary.Metrics[0], "knative", new OneObject("test", "other", new JsonObject()), null, default);
        var noCluster = await MetricTemplateModel.ForAsync(canary, canary.Metrics[0], "knative", null, null, default);

        Assert.Equal("error fetching Knative Service test/podinfo: not found", missing.Error);
        Assert.Equal("provider knative: no cluster to read Knative Service test/podinfo from", noCluster.Error);
    }

    private sealed class OneObject(string @namespace, string name, JsonObject value) : IClusterObjects
    {
        public ClusterResource? Asked { get; private set; }

        public ValueTask<Outcome<JsonObject?>> GetAsync(ClusterResource resource, string ns, string objectName, CancellationToken cancellationToken)
        {
            Asked = resource;
            return ValueTask.FromResult(Outcome<JsonObject?>.Ok(ns == @namespace && objectName == name ? value : null));
        }

        public ValueTask<Outcome<JsonObject>> CreateAsync(ClusterResource resource, string ns, JsonObject created, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public ValueTask<Outcome> DeleteAsync(ClusterResource resource, string ns, string objectName, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
