using System.Diagnostics;
using Aviary.Core.Model;
using Aviary.Core.Scheduling;
using Aviary.TestKit;

namespace Aviary.Local.Tests;

/// <summary>
/// The sequential judge end to end: real demo processes behind the built-in router, whose per-backend counters the
/// judge reads. The demo's errors are random; the assertions are on what the judge decided and after how many analysis
/// ticks, never on time.
/// </summary>
[Collection("local runtime")]
public sealed class JudgeRolloutTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    /// <summary>Like the seeds (threshold 5), with short ticks; a judge replaces the built-in metrics' thresholds.</summary>
    private const string Analysis = """
        interval: 4s
        threshold: 5
        stepWeight: 20
        maxWeight: 60
        metrics:
          - name: request-success-rate
            thresholdRange: {min: 99}
            interval: 4s
          - name: request-duration
            thresholdRange: {max: 1500}
            interval: 4s
        judge:
          type: sequential
        """;

    private static Task<LocalTestBed> StartAsync(string analysis = Analysis) => LocalTestBed.CreateAsync(async bed =>
    {
        bed.WriteWorkload("--version 1.0.0");
        bed.WriteCanary(analysis);
        await bed.StartControllerAsync();
        await bed.WaitForPhaseAsync(CanaryPhase.Initialized, Minute);
        bed.StartLoad();
        await Eventually.True(() => bed.Traffic!.Results.Count(r => r.Status == 200) >= 20, Minute, what: "20 answered requests");
    });

    /// <summary>The analysis ticks the judge weighed (one success-rate judge check each).</summary>
    private static List<StoredCheckView> JudgeTicks(LocalTestBed bed) =>
        bed.Store.Checks("podinfo.test", 1000).Where(c => c.Kind == "judge" && c.Name == "request-success-rate")
            .Select(c => new StoredCheckView(c.Result, c.Message ?? "", c.Details ?? new Dictionary<string, double>())).ToList();

    private sealed record StoredCheckView(CheckResult Result, string Message, IReadOnlyDictionary<string, double> Details);

    [Fact]
    public async Task Rollout_CanaryWithFivePointsMoreErrors_RolledBackByTheJudgeBeforeThresholdAnalysisCouldAct()
    {
        await using var bed = await StartAsync();

        bed.WriteWorkload("--version 2.0.0 --error-rate 0.05");
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute * 3);

        var events = bed.Events.ToList();
        var rollback = Assert.Single(events, e => e.StartsWith("Rolling back podinfo.test the judge found the canary worse than the primary: error rate: canary ", StringComparison.Ordinal));
        Assert.Contains("worse by more than the 0.5 pp margin", rollback, StringComparison.Ordinal);
        Assert.Contains("needed to roll back", rollback, StringComparison.Ordinal);
        Assert.DoesNotContain(events, e => e.Contains("failed checks threshold reached", StringComparison.Ordinal));

        // Threshold analysis rolls back after `threshold` (5) failed checks, one per analysis tick at best. The judge
        // acted in fewer ticks, without a single failed check.
        var ticks = JudgeTicks(bed);
        Assert.InRange(ticks.Count, 1, 4);
        Assert.Equal(CheckResult.Fail, ticks[^1].Result);
        Assert.Equal(0, bed.Status!.FailedChecks);
        var last = ticks[^1].Details;
        Assert.True(last["evidence"] >= last["rejectAt"], $"evidence {last["evidence"]} < {last["rejectAt"]}");
        Assert.True(last["lower"] > last["margin"], $"lower bound {last["lower"]} ≤ margin {last["margin"]}");
        Assert.True(last["canaryRate"] > last["primaryRate"]);

        Assert.Equal(0, bed.Status.CanaryWeight);
        Assert.Empty(bed.Controller!.WorkloadOf("podinfo.test")!.Canary.Snapshot());
        var after = bed.Traffic!.Results.Count;
        await Eventually.True(() => bed.Traffic.Results.Count >= after + 20);
        Assert.All(bed.Traffic.Results.Skip(after), r => Assert.Contains("\"version\":\"1.0.0\"", r.Body ?? "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rollout_JudgeLooksBetweenTicks_RollsBackBeforeTheNextAnalysisTick()
    {
        // Ticks 30 s apart, looks every second: a canary failing a quarter of its requests is rolled back by a look,
        // long before the first analysis tick after its first step could weigh it.
        var analysis = Analysis.Replace("interval: 4s", "interval: 30s", StringComparison.Ordinal) + "\n  lookInterval: 1s";
        await using var bed = await StartAsync(analysis);

        bed.WriteWorkload("--version 2.0.0 --error-rate 0.25");
        await bed.WaitForAsync(Minute * 3, s => s.CanaryWeight == 20 || s.Phase == CanaryPhase.Failed, "the first step of v2");
        // From the first step, the next tick is 30 s away; the looks must act well within it.
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, TimeSpan.FromSeconds(20));

        Assert.Contains(bed.Events, e => e.StartsWith("Rolling back podinfo.test the judge found the canary worse than the primary: error rate: canary ", StringComparison.Ordinal));
        var ticks = JudgeTicks(bed);
        Assert.Equal(CheckResult.Fail, Assert.Single(ticks).Result); // the look's check is the only one: no tick judged v2
        Assert.Equal(0, bed.Status!.CanaryWeight);
    }

    [Fact]
    public async Task Rollout_HealthyCanary_PromotedByTheJudge()
    {
        await using var bed = await StartAsync();
        var initial = bed.Status!.LastPromotedSpec;

        bed.WriteWorkload("--version 2.0.0");
        await bed.WaitForAsync(Minute * 3, s => s.Phase is CanaryPhase.Succeeded or CanaryPhase.Failed && s.LastAppliedSpec != initial, "the end of the rollout of v2");

        Assert.Equal(CanaryPhase.Succeeded, bed.Phase);
        Assert.DoesNotContain(bed.Events, e => e.StartsWith("Rolling back", StringComparison.Ordinal));
        var ticks = JudgeTicks(bed);
        Assert.NotEmpty(ticks);
        Assert.All(ticks, t => Assert.NotEqual(CheckResult.Fail, t.Result));
        Assert.Contains(ticks, t => t.Result == CheckResult.Pass && t.Message.StartsWith("error rate: canary 0% (0 of ", StringComparison.Ordinal));
        Assert.All(ticks, t => Assert.True(t.Details["evidence"] < t.Details["rejectAt"]));
        Assert.Contains("Promotion completed! Scaling down podinfo.test", bed.Events);
    }
}
