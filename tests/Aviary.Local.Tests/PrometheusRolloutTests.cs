using System.Globalization;
using Aviary.Core.Model;
using Aviary.TestKit;

namespace Aviary.Local.Tests;

/// <summary>
/// The local runtime judged by a real Prometheus scraping the controller's /metrics (the router's Linkerd-format
/// counters and Aviary's Flagger metrics): Flagger's Linkerd queries decide, and MetricTemplates work.
/// </summary>
[Collection("local runtime")]
public sealed class PrometheusRolloutTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private static string Analysis(string metrics) => $$"""
        interval: 2s
        threshold: 2
        stepWeight: 25
        maxWeight: 50
        metrics:
        {{metrics}}
        """;

    private const string BuiltinMetrics = """
          - name: request-success-rate
            thresholdRange: {min: 99}
            interval: 10s
          - name: request-duration
            thresholdRange: {max: 1500}
            interval: 10s
        """;

    private static async Task<(LocalTestBed Bed, PrometheusServer Prometheus)> StartAsync(string metrics, string extraManifests = "")
    {
        PrometheusServer? prometheus = null;
        try
        {
            var bed = await LocalTestBed.CreateAsync(async bed =>
            {
                prometheus = await PrometheusServer.StartAsync(new ScrapeTarget("aviary", $"127.0.0.1:{bed.ApiPort.ToString(CultureInfo.InvariantCulture)}"));
                bed.WriteWorkload("--version 1.0.0");
                bed.WriteCanary(Analysis(metrics), $"metricsServer: {prometheus.Url}");
                if (extraManifests.Length > 0) File.WriteAllText(Path.Combine(bed.Manifests, "extra.yaml"), extraManifests);
                await bed.StartControllerAsync();
                await bed.WaitForPhaseAsync(CanaryPhase.Initialized, Minute);
                await prometheus.WaitForTargetUpAsync("aviary");
                bed.StartLoad();
            });
            return (bed, prometheus!);
        }
        catch
        {
            if (prometheus is not null) await prometheus.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task Rollout_GoodRelease_PromotedOnPrometheusMetrics()
    {
        var (bed, prometheus) = await StartAsync(BuiltinMetrics);
        await using var _ = prometheus;
        await using var __ = bed;
        var before = bed.Status!.LastPromotedSpec;

        bed.WriteWorkload("--version 2.0.0");
        await bed.WaitForAsync(Minute * 2, s => s.Phase == CanaryPhase.Succeeded && s.LastPromotedSpec != before, "promotion");

        var checks = bed.Store.Checks("podinfo.test", 50);
        Assert.Contains(checks, c => c.Name == "request-success-rate" && c.Result == Core.Scheduling.CheckResult.Pass);
        Assert.Empty(bed.Traffic!.Failures());
        Assert.Equal(1, await prometheus.WaitForValueAsync("flagger_canary_status{name=\"podinfo\",namespace=\"test\"}"));
        Assert.Equal(1, await prometheus.WaitForValueAsync("flagger_canary_successes_total{name=\"podinfo\"}"));
    }

    [Fact]
    public async Task Rollout_ReleaseWith5xx_RolledBackAndStatusIs2InPrometheus()
    {
        var (bed, prometheus) = await StartAsync(BuiltinMetrics);
        await using var _ = prometheus;
        await using var __ = bed;

        bed.WriteWorkload("--version 2.0.0 --error-rate 0.3");
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute * 2);

        Assert.Contains(bed.Events, e => e.StartsWith("Halt podinfo.test advancement success rate", StringComparison.Ordinal));
        // The seeds' alert rule: flagger_canary_status > 1 fires after a rollback.
        Assert.Equal(2, await prometheus.WaitForValueAsync("flagger_canary_status{name=\"podinfo\",namespace=\"test\"} > 1", v => v == 2));
        Assert.Equal(1, await prometheus.WaitForValueAsync("flagger_canary_failures_total{name=\"podinfo\",namespace=\"test\"}"));
    }

    [Fact]
    public async Task Rollout_SlowRelease_RolledBackOnPrometheusLatency()
    {
        var (bed, prometheus) = await StartAsync(BuiltinMetrics);
        await using var _ = prometheus;
        await using var __ = bed;

        bed.WriteWorkload("--version 2.0.0 --latency 2500ms");
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute * 2);

        Assert.True(bed.Events.Any(e => e.StartsWith("Halt podinfo.test advancement request duration", StringComparison.Ordinal) && e.EndsWith("> 1.5s", StringComparison.Ordinal)), "no halt on request duration in: " + string.Join(" | ", bed.Events));
    }

    [Fact]
    public async Task Rollout_PrometheusMetricTemplate_JudgesTheCanary()
    {
        const string template = """
            apiVersion: flagger.app/v1beta1
            kind: MetricTemplate
            metadata:
              name: error-rate
              namespace: test
            spec:
              provider:
                type: prometheus
                address: PROMETHEUS
              query: |
                100 - sum(rate(response_total{namespace="{{ namespace }}",deployment="{{ target }}",classification!="failure",direction="inbound"}[{{ interval }}]))
                / sum(rate(response_total{namespace="{{ namespace }}",deployment="{{ target }}",direction="inbound"}[{{ interval }}])) * 100
            """;
        var bed = new LocalTestBed();
        await using var prometheus = await PrometheusServer.StartAsync(new ScrapeTarget("aviary", $"127.0.0.1:{bed.ApiPort.ToString(CultureInfo.InvariantCulture)}"));
        await using var _ = bed;
        File.WriteAllText(Path.Combine(bed.Manifests, "template.yaml"), template.Replace("PROMETHEUS", prometheus.Url.ToString().TrimEnd('/'), StringComparison.Ordinal));
        bed.WriteWorkload("--version 1.0.0");
        bed.WriteCanary(Analysis("""
              - name: error-rate
                templateRef: {name: error-rate}
                thresholdRange: {max: 1}
                interval: 10s
            """));
        await bed.StartControllerAsync();
        await bed.WaitForPhaseAsync(CanaryPhase.Initialized, Minute);
        await prometheus.WaitForTargetUpAsync("aviary");
        bed.StartLoad();

        bed.WriteWorkload("--version 2.0.0 --error-rate 0.3");
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute * 2);
        Assert.Contains(bed.Events, e => e.StartsWith("Halt podinfo.test advancement error-rate", StringComparison.Ordinal) && e.Contains("> 1", StringComparison.Ordinal));

        // The query's 10s window must no longer hold the failed canary's answers (they share the deployment label):
        // ask Prometheus until it says so.
        await prometheus.WaitForValueAsync(
            "sum(increase(response_total{namespace=\"test\",deployment=\"podinfo\",classification=\"failure\",direction=\"inbound\"}[10s])) or vector(0)",
            v => v == 0, Minute);
        var before = bed.Status!.LastPromotedSpec;
        bed.WriteWorkload("--version 3.0.0");
        await bed.WaitForAsync(Minute * 2, s => s.Phase == CanaryPhase.Succeeded && s.LastPromotedSpec != before, "promotion of a healthy release");
    }
}
