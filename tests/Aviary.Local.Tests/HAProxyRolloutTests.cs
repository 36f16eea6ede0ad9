using System.Diagnostics;
using System.Globalization;
using Aviary.Core.Model;
using Aviary.Local.Store;
using Aviary.Local.Workloads;
using Aviary.TestKit;

namespace Aviary.Local.Tests;

/// <summary>
/// The local runtime with <c>provider: haproxy</c>: Aviary generates and runs a real HAProxy 2.6, publishes the
/// instances into its server slots through the runtime API, and judges the canary with Prometheus scraping HAProxy's
/// exporter.
/// </summary>
[Collection("local runtime")]
public sealed class HAProxyRolloutTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private const string Analysis = """
        interval: 2s
        threshold: 3
        stepWeight: 25
        maxWeight: 50
        metrics:
          - name: request-success-rate
            thresholdRange: {min: 99}
            interval: 10s
          - name: request-duration
            thresholdRange: {max: 1500}
            interval: 10s
        """;

    private static async Task<(LocalTestBed Bed, PrometheusServer Prometheus)> StartAsync()
    {
        DebianPackages.Ensure("haproxy");
        PrometheusServer? prometheus = null;
        try
        {
            var bed = await LocalTestBed.CreateAsync(async bed =>
            {
                prometheus = await PrometheusServer.StartAsync(
                    new ScrapeTarget("aviary", $"127.0.0.1:{bed.ApiPort.ToString(CultureInfo.InvariantCulture)}"),
                    new ScrapeTarget("haproxy", $"127.0.0.1:{bed.HAProxyMetricsPort.ToString(CultureInfo.InvariantCulture)}"));
                bed.WriteWorkload("--version 1.0.0", replicas: 2);
                bed.WriteCanary(Analysis, $"provider: haproxy\nmetricsServer: {prometheus.Url}");
                await bed.StartControllerAsync();
                await bed.WaitForPhaseAsync(CanaryPhase.Initialized, Minute);
                await prometheus.WaitForTargetUpAsync("haproxy");
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
    public async Task Rollout_GoodRelease_PromotedThroughHAProxy()
    {
        var (bed, prometheus) = await StartAsync();
        await using var _ = prometheus;
        await using var __ = bed;
        var before = bed.Status!.LastPromotedSpec;

        bed.WriteWorkload("--version 2.0.0", replicas: 2);
        await bed.WaitForAsync(Minute * 2, s => s.Phase == CanaryPhase.Succeeded && s.LastPromotedSpec != before, "promotion");
        // Requests after the promotion: the last 20 are the new primary's.
        var promotedAt = bed.Traffic!.Results.Count;
        await Eventually.True(() => bed.Traffic.Results.Count >= promotedAt + 20);

        var results = bed.Traffic!.Results.ToList();
        Assert.Empty(bed.Traffic.Failures());
        Assert.Contains(results, r => r.Body?.Contains("\"version\":\"2.0.0\"", StringComparison.Ordinal) == true);
        Assert.All(results.TakeLast(20), r => Assert.Contains("\"version\":\"2.0.0\"", r.Body!, StringComparison.Ordinal));
        Assert.Contains(bed.Store.Checks("podinfo.test", 50), c => c.Name == "request-success-rate" && c.Result == Core.Scheduling.CheckResult.Pass);
    }

    [Fact]
    public async Task Rollout_ReleaseWith5xx_RolledBackThroughHAProxy()
    {
        var (bed, prometheus) = await StartAsync();
        await using var _ = prometheus;
        await using var __ = bed;

        bed.WriteWorkload("--version 2.0.0 --error-rate 0.3", replicas: 2);
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute * 2);

        Assert.Contains(bed.Events, e => e.StartsWith("Halt podinfo.test advancement success rate", StringComparison.Ordinal));
        Assert.Empty(bed.Controller!.WorkloadOf("podinfo.test")!.Canary.Snapshot());
        Assert.Equal(2, await prometheus.WaitForValueAsync("flagger_canary_status{name=\"podinfo\",namespace=\"test\"}", v => v == 2));
    }

    [Fact]
    public async Task Rollout_SlowRelease_RolledBackOnHAProxyLatency()
    {
        var (bed, prometheus) = await StartAsync();
        await using var _ = prometheus;
        await using var __ = bed;

        bed.WriteWorkload("--version 2.0.0 --latency 2500ms", replicas: 2);
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute * 2);

        Assert.True(bed.Events.Any(e => e.StartsWith("Halt podinfo.test advancement request duration", StringComparison.Ordinal) && e.EndsWith("> 1.5s", StringComparison.Ordinal)), "no halt on request duration in: " + string.Join(" | ", bed.Events));
    }
}
