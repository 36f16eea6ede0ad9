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
}
