using Aviary.Core.Model;
using Aviary.Core.Observability;
using Aviary.TestKit;

namespace Aviary.Core.Tests.Observability;

public sealed class CanaryMetricsTests
{
    private const string Analysis = """
        interval: 1m
        threshold: 2
        stepWeight: 50
        metrics:
          - name: request-success-rate
            thresholdRange: {min: 99}
          - name: request-duration
            thresholdRange: {max: 500}
        """;

    private static (SchedulerHarness Harness, CanaryMetrics Metrics) Setup()
    {
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis));
        return (h, new CanaryMetrics("1.2.3", "builtin", h.Clock));
    }

    private static async Task TickAsync(SchedulerHarness h, CanaryMetrics m) => m.Record(h.Policy, await h.TickAsync());

    private static string Text(CanaryMetrics m)
    {
        var w = new PrometheusWriter();
        m.Write(w);
        return w.ToString();
    }

    [Fact]
    public async Task Write_AfterARollback_StatusIs2AndAFailureIsCounted()
    {
        var (h, m) = Setup();
        await TickAsync(h, m);
        h.Workload.NewRevision();
        await TickAsync(h, m);
        await TickAsync(h, m);
        Assert.Contains("flagger_canary_status{name=\"podinfo\",namespace=\"test\"} 0", Text(m));
        Assert.Contains("flagger_canary_weight{workload=\"podinfo\",namespace=\"test\"} 50", Text(m));
        Assert.Contains("flagger_canary_weight{workload=\"podinfo-primary\",namespace=\"test\"} 50", Text(m));

        h.Metrics.Set("request-success-rate", 50);
        while (h.Phase != CanaryPhase.Failed) await TickAsync(h, m);
        var text = Text(m);

        Assert.Contains("flagger_canary_status{name=\"podinfo\",namespace=\"test\"} 2", text);
        Assert.Contains("flagger_canary_failures_total{name=\"podinfo\",namespace=\"test\",deployment_strategy=\"canary\",analysis_status=\"completed\"} 1", text);
        Assert.Contains("flagger_canary_weight{workload=\"podinfo\",namespace=\"test\"} 0", text);
        Assert.Contains("flagger_canary_metric_analysis{name=\"podinfo\",namespace=\"test\",metric=\"request-success-rate\"} 50", text);
        Assert.Contains("aviary_canary_failed_checks{name=\"podinfo\",namespace=\"test\"} 2", text);
        Assert.Contains("flagger_info{version=\"1.2.3\",mesh_provider=\"builtin\"} 1", text);
        Assert.Contains("flagger_canary_total{namespace=\"test\"} 1", text);
    }

    [Fact]
    public async Task Write_AfterAPromotion_CountsASuccessAndTheRolloutsRealDuration()
    {
        var (h, m) = Setup();
        h.Metrics.Set("request-duration", 250);
        await TickAsync(h, m);
        h.Workload.NewRevision();
        while (h.Phase != CanaryPhase.Succeeded) await TickAsync(h, m);
        var text = Text(m);
        Assert.True(text.Contains("flagger_canary_duration_seconds_sum{name=\"podinfo\",namespace=\"test\"} 300", StringComparison.Ordinal), text);

        Assert.Contains("flagger_canary_successes_total{name=\"podinfo\",namespace=\"test\",deployment_strategy=\"canary\",analysis_status=\"completed\"} 1", text);
        Assert.Contains("flagger_canary_status{name=\"podinfo\",namespace=\"test\"} 1", text);
        // Flagger records request-duration in seconds.
        Assert.Contains("flagger_canary_metric_analysis{name=\"podinfo\",namespace=\"test\",metric=\"request-duration\"} 0.25", text);
        // New revision seen at tick 2 (t=1m), promotion completed at tick 7 (t=6m): five intervals.
        Assert.Contains("flagger_canary_duration_seconds_sum{name=\"podinfo\",namespace=\"test\"} 300", text);
        Assert.Contains("flagger_canary_duration_seconds_count{name=\"podinfo\",namespace=\"test\"} 1", text);
        Assert.Contains("flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"300\"} 1", text);
        Assert.Contains("flagger_canary_duration_seconds_bucket{name=\"podinfo\",namespace=\"test\",le=\"120\"} 0", text);
    }

    [Fact]
    public void Escape_LabelValues_EscapesQuotesBackslashesAndNewlines()
    {
        Assert.Equal("a\\\"b\\\\c\\nd", PrometheusWriter.Escape("a\"b\\c\nd"));
        Assert.Equal("+Inf", PrometheusWriter.Format(double.PositiveInfinity));
    }
}
