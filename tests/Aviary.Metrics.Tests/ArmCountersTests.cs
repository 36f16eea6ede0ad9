using System.Text;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Hooks.Secrets;
using Aviary.Metrics.Tests.Agreement;
using Aviary.TestKit;

namespace Aviary.Metrics.Tests;

/// <summary>
/// The judge's per-arm counters read from a real Prometheus that scrapes Linkerd- and Istio-format counters of the
/// primary and the canary: requests, 5xx and slow requests (above a histogram bucket), never a quantile.
/// </summary>
[Collection(RealServersCollection.Name)]
public sealed class ArmCountersTests
{
    /// <summary>podinfo (canary) and podinfo-primary in namespace test, plus a decoy in another namespace that must not count.</summary>
    private const string Linkerd = """
        # TYPE response_total counter
        response_total{namespace="test",deployment="podinfo-primary",direction="inbound",classification="success",status_code="200"} 900
        response_total{namespace="test",deployment="podinfo-primary",direction="inbound",classification="failure",status_code="500"} 9
        response_total{namespace="test",deployment="podinfo-primary",direction="outbound",classification="failure",status_code="500"} 1000
        response_total{namespace="test",deployment="podinfo",direction="inbound",classification="success",status_code="200"} 80
        response_total{namespace="test",deployment="podinfo",direction="inbound",classification="failure",status_code="503"} 20
        response_total{namespace="other",deployment="podinfo",direction="inbound",classification="failure",status_code="500"} 5000
        # TYPE response_latency_ms histogram
        response_latency_ms_bucket{namespace="test",deployment="podinfo-primary",direction="inbound",le="100"} 800
        response_latency_ms_bucket{namespace="test",deployment="podinfo-primary",direction="inbound",le="500"} 899
        response_latency_ms_bucket{namespace="test",deployment="podinfo-primary",direction="inbound",le="1000"} 905
        response_latency_ms_bucket{namespace="test",deployment="podinfo-primary",direction="inbound",le="+Inf"} 909
        response_latency_ms_bucket{namespace="test",deployment="podinfo",direction="inbound",le="100"} 50
        response_latency_ms_bucket{namespace="test",deployment="podinfo",direction="inbound",le="500"} 70
        response_latency_ms_bucket{namespace="test",deployment="podinfo",direction="inbound",le="1000"} 90
        response_latency_ms_bucket{namespace="test",deployment="podinfo",direction="inbound",le="+Inf"} 100

        """;

    private const string Istio = """
        # TYPE istio_requests_total counter
        istio_requests_total{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo-primary",response_code="200"} 1990
        istio_requests_total{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo-primary",response_code="503"} 10
        istio_requests_total{reporter="source",destination_workload_namespace="test",destination_workload="podinfo-primary",response_code="503"} 700
        istio_requests_total{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo",response_code="200"} 190
        istio_requests_total{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo",response_code="500"} 10
        # TYPE istio_request_duration_milliseconds histogram
        istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo-primary",le="250"} 1900
        istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo-primary",le="500"} 1980
        istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo-primary",le="+Inf"} 2000
        istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo",le="250"} 100
        istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo",le="500"} 150
        istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="test",destination_workload="podinfo",le="+Inf"} 200

        """;

    private static MetricResolver Resolver() =>
        new(new MetricResolverOptions(), new FakeMetrics(), (_, _, _) => ValueTask.FromResult<Core.Model.MetricTemplate?>(null),
            new EnvironmentSecrets(null, _ => null), TimeProvider.System, null);

    private static CanaryPolicy Canary(string provider, Uri prometheus) => SchedulerHarness.Compile(SchedulerHarness.Canary(
        "interval: 30s\nthreshold: 5\nmaxWeight: 50\nstepWeight: 10\nmetrics:\n- name: request-success-rate\n  thresholdRange: {min: 99}\n  interval: 1m\n",
        $"provider: {provider}\nmetricsServer: {prometheus}"));

    private static async Task<ArmCounts> ReadAsync(string exposition, string provider, double thresholdMs, string waitFor)
    {
        await using var exporter = await KestrelApp.StartAsync(context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4";
            return context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(exposition)).AsTask();
        });
        await using var prometheus = await PrometheusServer.StartAsync(ScrapeTarget.Of("mesh", exporter.Url));
        await prometheus.WaitForValueAsync(waitFor);
        using var resolver = Resolver();
        var counts = await resolver.ReadAsync(Canary(provider, prometheus.Url), thresholdMs, CancellationToken.None);
        Assert.True(counts.Succeeded, counts.Error);
        return counts.Value!;
    }

    [Fact]
    public async Task ReadAsync_LinkerdCounters_RequestsErrorsAndSlowPerArm()
    {
        // A 500 ms threshold is a bucket bound: slow = +Inf − le 500.
        var counts = await ReadAsync(Linkerd, "linkerd", 500, "sum(response_total)");
        Assert.Equal(new ArmSample(909, 9, 10), counts.Primary);
        Assert.Equal(new ArmSample(100, 20, 30), counts.Canary);
    }

    [Fact]
    public async Task ReadAsync_ThresholdBetweenBuckets_UsesTheBoundBelowForBothArms()
    {
        // 750 ms lies between the 500 and 1000 buckets: requests above 500 ms are slow, for both arms alike.
        var counts = await ReadAsync(Linkerd, "linkerd", 750, "sum(response_total)");
        Assert.Equal(10, counts.Primary.Slow);
        Assert.Equal(30, counts.Canary.Slow);
    }

    [Fact]
    public async Task ReadAsync_IstioCounters_DestinationReporterOnly()
    {
        var counts = await ReadAsync(Istio, "istio", 250, "sum(istio_requests_total)");
        Assert.Equal(new ArmSample(2000, 10, 100), counts.Primary);
        Assert.Equal(new ArmSample(200, 10, 100), counts.Canary);
    }

    [Fact]
    public async Task ReadAsync_CanaryWithoutSeriesYet_CountsZero()
    {
        var primaryOnly = string.Join('\n', Linkerd.Split('\n').Where(l => !l.Contains("deployment=\"podinfo\"", StringComparison.Ordinal)));
        var counts = await ReadAsync(primaryOnly, "linkerd", 500, "sum(response_total)");
        Assert.Equal(new ArmSample(0, 0, 0), counts.Canary);
        Assert.Equal(909, counts.Primary.Requests);
    }

    [Fact]
    public async Task ReadAsync_ProviderWithoutCounters_SaysWhichProvidersHaveThem()
    {
        using var resolver = Resolver();
        var counts = await resolver.ReadAsync(Canary("knative", new Uri("http://127.0.0.1:9/")), 500, CancellationToken.None);
        Assert.False(counts.Succeeded);
        Assert.Equal("the judge cannot read per-arm counters of provider 'knative' from Prometheus (it can for apisix, builtin, contour, gatewayapi:v1, "
            + "gatewayapi:v1beta1, gloo, istio, kubernetes, kuma, linkerd, nginx, osm, skipper, traefik)", counts.Error);
    }
}
