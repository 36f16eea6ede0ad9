using System.Globalization;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Metrics.Observers;
using Aviary.Metrics.Templates;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// The test mesh's metrics read by a real Prometheus with the PromQL Aviary uses for Flagger's built-in metrics
/// (<see cref="ObserverQueries"/>): the routing object is written by the real router into the real API server, the
/// mesh splits its generated requests by it, and the queries answer each version's configured success rate and latency.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class TestMeshMetricsTests(KubeApiServerFixture fixture)
{
    private const string Metrics = """
        stepWeight: 10
            maxWeight: 50
            metrics:
            - name: request-success-rate
              interval: 1m
              thresholdRange: {min: 99}
            - name: request-duration
              interval: 1m
              thresholdRange: {max: 500}
        """;

    private KubeApiServer Server => fixture.Server;

    [Fact]
    public async Task Linkerd_FlaggerQueriesOnPrometheus_AnswerEachVersionsErrorRateAndLatency()
    {
        // Linkerd's buckets: 40 ms is the top of (30, 40], 5 ms of (4, 5].
        await AssertQueriesAsync("linkerd", "linkerd", canaryLatencyMs: 40, canaryLowerBucketMs: 30, primaryLatencyMs: 5, primaryLowerBucketMs: 4);
    }

    [Fact]
    public async Task Istio_FlaggerQueriesOnPrometheus_AnswerEachVersionsErrorRateAndLatency()
    {
        // Istio's buckets: 250 ms is the top of (100, 250], 10 ms of (5, 10].
        await AssertQueriesAsync("istio", "istio", canaryLatencyMs: 250, canaryLowerBucketMs: 100, primaryLatencyMs: 10, primaryLowerBucketMs: 5);
    }

    [Fact]
    public async Task SmallBatches_CanaryAtTenPercent_GetsItsShareAcrossRouteReReads()
    {
        // Two requests every 100 ms while the mesh re-reads the TrafficSplit every 200 ms: the weighted round robin
        // must carry on across re-reads of an unchanged object, or a 10% canary would never be picked.
        using var bed = await RouterTestBed.CreateAsync(Server, "mesh-batches");
        var canary = await bed.CanaryAsync("linkerd", analysis: Metrics);
        var router = bed.Router("linkerd");
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(90, 10), default));

        await using var mesh = TestMesh.Start(Server, TestMeshTarget.ForProvider("linkerd", bed.Namespace, canary.ServiceName));
        await mesh.WaitForAsync(r => r.Weights == new RouteWeights(90, 10));
        await using var metrics = await mesh.StartMetricsAsync(new TestMeshMetricsOptions { RequestsPerSecond = 20, Tick = TimeSpan.FromMilliseconds(100) });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (metrics.Counts(BackendRole.Canary).Total + metrics.Counts(BackendRole.Primary).Total < 200 && clock.Elapsed < TimeSpan.FromMinutes(1))
            await Task.Delay(100);

        var canaryCount = metrics.Counts(BackendRole.Canary).Total;
        var total = canaryCount + metrics.Counts(BackendRole.Primary).Total;
        Assert.True(total >= 200, $"only {total} requests generated");
        Assert.InRange(canaryCount / (double)total, 0.08, 0.12);
    }

    private async Task AssertQueriesAsync(string provider, string queries, double canaryLatencyMs, double canaryLowerBucketMs, double primaryLatencyMs,
        double primaryLowerBucketMs)
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "mesh-" + provider);
        var canary = await bed.CanaryAsync(provider, analysis: Metrics);
        var router = bed.Router(provider);
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(50, 50), default));

        await using var mesh = TestMesh.Start(Server, TestMeshTarget.ForProvider(provider, bed.Namespace, canary.ServiceName));
        await mesh.WaitForAsync(r => r.Weights == new RouteWeights(50, 50));
        await using var metrics = await mesh.StartMetricsAsync(new TestMeshMetricsOptions
        {
            RequestsPerSecond = 200,
            Primary = new TestMeshArm(ErrorRate: 0.02, Latency: TestMeshLatency.Fixed(primaryLatencyMs)),
            Canary = new TestMeshArm(ErrorRate: 0.25, Latency: TestMeshLatency.Fixed(canaryLatencyMs), ErrorStatus: 503),
        });
        await using var prometheus = await PrometheusServer.StartAsync([metrics.ScrapeTarget()], TimeSpan.FromSeconds(1));

        var observer = ObserverQueries.For(queries);
        Assert.True(observer.Succeeded, observer.Error);
        var successRate = canary.Metrics.Single(m => m.Name == MetricCheck.RequestSuccessRate);
        var duration = canary.Metrics.Single(m => m.Name == MetricCheck.RequestDuration);
        string Query(MetricCheck metric, string target)
        {
            var rendered = observer.Value!.Render(metric.Name, MetricTemplateModel.For(canary, metric) with { Target = target });
            Assert.True(rendered.Succeeded, rendered.Error);
            return rendered.Value!;
        }

        // Enough requests of each version inside the query window for the answer to be exact to 0.2 points.
        foreach (var workload in new[] { "podinfo", "podinfo-primary" })
        {
            var count = provider == "istio"
                ? $"sum(increase(istio_requests_total{{destination_workload=\"{workload}\"}}[1m]))"
                : $"sum(increase(response_total{{deployment=\"{workload}\"}}[1m]))";
            await prometheus.WaitForValueAsync(count, v => v >= 600, TimeSpan.FromMinutes(2));
        }
        var canaryRate = await prometheus.QueryValueAsync(Query(successRate, "podinfo"));
        var primaryRate = await prometheus.QueryValueAsync(Query(successRate, "podinfo-primary"));
        var canaryP99 = await prometheus.QueryValueAsync(Query(duration, "podinfo"));
        var primaryP99 = await prometheus.QueryValueAsync(Query(duration, "podinfo-primary"));

        var why = $"canary {Show(canaryRate)}% {Show(canaryP99)}ms, primary {Show(primaryRate)}% {Show(primaryP99)}ms; mesh {metrics.Counts(BackendRole.Canary).Total}/{metrics.Counts(BackendRole.Primary).Total}";
        Assert.True(canaryRate is > 74.8 and < 75.2, why);
        Assert.True(primaryRate is > 97.8 and < 98.2, why);
        // histogram_quantile interpolates inside the bucket: p99 of a latency at a bucket's top is 99% of the way up it.
        Assert.True(canaryP99 is { } c && c > canaryLowerBucketMs + 0.98 * (canaryLatencyMs - canaryLowerBucketMs) && c <= canaryLatencyMs, why);
        Assert.True(primaryP99 is { } p && p > primaryLowerBucketMs + 0.98 * (primaryLatencyMs - primaryLowerBucketMs) && p <= primaryLatencyMs, why);
        Assert.Equal(0, metrics.Unrouted);

        // The series Flagger's queries select, as the mesh serves them.
        var text = metrics.Render();
        var ns = bed.Namespace;
        if (provider == "istio")
        {
            Assert.Contains($$"""istio_requests_total{reporter="destination",destination_workload_namespace="{{ns}}",destination_workload="podinfo",destination_service_name="podinfo",response_code="503"} """, text, StringComparison.Ordinal);
            Assert.Contains($$"""istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="{{ns}}",destination_workload="podinfo-primary",destination_service_name="podinfo",le="10"} """, text, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains($$"""response_total{direction="inbound",namespace="{{ns}}",deployment="podinfo",classification="failure",status_code="503"} """, text, StringComparison.Ordinal);
            Assert.Contains($$"""response_total{direction="inbound",namespace="{{ns}}",deployment="podinfo-primary",classification="success",status_code="200"} """, text, StringComparison.Ordinal);
            Assert.Contains($$"""response_latency_ms_bucket{direction="inbound",namespace="{{ns}}",deployment="podinfo",le="40"} """, text, StringComparison.Ordinal);
        }
    }

    private static string Show(double? value) => value?.ToString("0.###", CultureInfo.InvariantCulture) ?? "no data";
}
