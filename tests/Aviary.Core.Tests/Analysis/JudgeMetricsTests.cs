using Aviary.Core.Abstractions;
using Aviary.Core.Observability;
using Aviary.TestKit;

namespace Aviary.Core.Tests.Analysis;

/// <summary>The judge's numbers as Prometheus gauges (<c>aviary_judge_*</c>), from the judge checks of each tick.</summary>
public sealed class JudgeMetricsTests
{
    private const string Analysis = """
        interval: 1m
        threshold: 5
        stepWeight: 10
        maxWeight: 50
        metrics:
          - name: request-success-rate
            thresholdRange: {min: 99}
          - name: request-duration
            thresholdRange: {max: 500}
        judge:
          type: sequential
        """;

    private static string Text(CanaryMetrics m)
    {
        var w = new PrometheusWriter();
        m.Write(w);
        return w.ToString();
    }

    [Fact]
    public async Task Write_AfterAJudgedTick_ExposesEvidenceRatesPerArmBoundsAndMargin()
    {
        var arms = new FakeArmCounters();
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis), arms: arms);
        var metrics = new CanaryMetrics("1.2.3", "builtin", h.Clock);
        async Task TickAsync() => metrics.Record(h.Policy, await h.TickAsync());

        await TickAsync();
        h.Workload.NewRevision();
        await TickAsync();
        await TickAsync();
        Assert.DoesNotContain("aviary_judge_", Text(metrics), StringComparison.Ordinal);

        arms.Serve(new ArmSample(5400, 27, 54), new ArmSample(600, 60, 6));
        await TickAsync();
        var text = Text(metrics);

        const string errors = "name=\"podinfo\",namespace=\"test\",metric=\"request-success-rate\"";
        const string latency = "name=\"podinfo\",namespace=\"test\",metric=\"request-duration\"";
        Assert.Contains("# TYPE aviary_judge_evidence gauge", text, StringComparison.Ordinal);
        Assert.Matches($"aviary_judge_evidence\\{{{errors}\\}} [0-9.eE+-]+\n", text);
        Assert.Contains($"aviary_judge_reject_at{{{errors}}} 200\n", text, StringComparison.Ordinal);
        Assert.Contains($"aviary_judge_rate_percent{{{errors},arm=\"primary\"}} 0.5\n", text, StringComparison.Ordinal);
        Assert.Contains($"aviary_judge_rate_percent{{{errors},arm=\"canary\"}} 10\n", text, StringComparison.Ordinal);
        Assert.Contains($"aviary_judge_rate_percent{{{latency},arm=\"canary\"}} 1\n", text, StringComparison.Ordinal);
        Assert.Contains($"aviary_judge_requests{{{errors},arm=\"canary\"}} 600\n", text, StringComparison.Ordinal);
        Assert.Matches($"aviary_judge_difference_bound_pp\\{{{errors},bound=\"lower\"\\}} [0-9.eE+-]+\n", text);
        Assert.Matches($"aviary_judge_difference_bound_pp\\{{{errors},bound=\"upper\"\\}} [0-9.]+\n", text);
        Assert.Contains($"aviary_judge_margin_pp{{{errors}}} 0.5\n", text, StringComparison.Ordinal);
        Assert.Contains($"aviary_judge_margin_pp{{{latency}}} 10\n", text, StringComparison.Ordinal);
        Assert.Contains("flagger_canary_status{name=\"podinfo\",namespace=\"test\"} 2", text, StringComparison.Ordinal); // rolled back

        // A new revision starts a new analysis: the old evidence is gone.
        h.Workload.NewRevision();
        await TickAsync();
        Assert.DoesNotContain("aviary_judge_", Text(metrics), StringComparison.Ordinal);
    }
}
