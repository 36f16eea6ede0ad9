using System.Text.Json;
using Aviary.Core.Abstractions;
using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Scheduling;
using Aviary.TestKit;

namespace Aviary.Core.Tests.Analysis;

/// <summary>The scheduler with the sequential judge, one tick at a time, fed by per-arm counters.</summary>
public sealed class JudgeSchedulerTests
{
    private const string Analysis = """
        interval: 1m
        threshold: 5
        stepWeight: 10
        maxWeight: 50
        metrics:
          - name: request-success-rate
            thresholdRange: {min: 99}
            interval: 1m
          - name: request-duration
            thresholdRange: {max: 500}
            interval: 1m
        judge:
          type: sequential
        """;

    private static (SchedulerHarness Harness, FakeArmCounters Arms) Setup(string judgeExtra = "")
    {
        var arms = new FakeArmCounters();
        var yaml = SchedulerHarness.Canary(Analysis + "\n" + string.Concat(judgeExtra.Split('\n').Where(l => l.Trim().Length > 0).Select(l => "  " + l.Trim() + "\n")));
        return (new SchedulerHarness(yaml, arms: arms), arms);
    }

    /// <summary>Initializes, starts a rollout and takes the first step (the judge's baseline is read there).</summary>
    private static async Task FirstStepAsync(SchedulerHarness h)
    {
        await h.StartRolloutAsync();
        await h.TickAsync();
        Assert.Equal(10, h.Router.Weights.Canary);
    }

    /// <summary>One minute of traffic at the router's current weights, then a tick.</summary>
    private static Task<TickOutcome> ServeAndTickAsync(SchedulerHarness h, FakeArmCounters arms, double requests, double primaryErrorRate,
        double canaryErrorRate, double primarySlowRate = 0, double canarySlowRate = 0)
    {
        var canary = Math.Round(requests * h.Router.Weights.Canary / 100);
        var primary = requests - canary;
        arms.Serve(new ArmSample(primary, Math.Round(primary * primaryErrorRate), Math.Round(primary * primarySlowRate)),
            new ArmSample(canary, Math.Round(canary * canaryErrorRate), Math.Round(canary * canarySlowRate)));
        return h.TickAsync();
    }

    [Fact]
    public async Task Tick_CanaryFarWorse_RolledBackOnTheFirstAnalysisWithTheJudgesExplanation()
    {
        var (h, arms) = Setup();
        await FirstStepAsync(h);
        // The metric thresholds would pass: the built-in metrics are not threshold-checked when a judge is set.
        var outcome = await ServeAndTickAsync(h, arms, 6000, 0.005, 0.10);

        Assert.Equal(CanaryPhase.Failed, h.Phase);
        Assert.Equal(0, h.Router.Weights.Canary);
        var rollback = Assert.Single(outcome.Events, e => e.Message.StartsWith("Rolling back podinfo.test the judge found the canary worse than the primary: ", StringComparison.Ordinal));
        Assert.Contains("error rate: canary 10% (60 of 600 requests) vs primary 0.5% (27 of 5,400)", rollback.Message, StringComparison.Ordinal);
        Assert.Contains("worse by more than the 0.5 pp margin", rollback.Message, StringComparison.Ordinal);
        Assert.Contains(outcome.Events, e => e.Message == "Canary failed! Scaling down podinfo.test");
        var check = Assert.Single(outcome.Checks, c => c.Kind == "judge" && c.Name == "request-success-rate");
        Assert.Equal(CheckResult.Fail, check.Result);
        Assert.Equal(10, check.Value);
        Assert.True(check.Details!["evidence"] >= check.Details["rejectAt"]);
        Assert.True(check.Details["lower"] > 0.5);
        Assert.Equal(0, h.Status.FailedChecks);
        Assert.DoesNotContain(h.Metrics.Queries, q => q is "request-success-rate" or "request-duration");
        Assert.Equal([500.0, 500.0], arms.Thresholds);
    }

    [Fact]
    public async Task Look_CanaryFarWorse_RolledBackBetweenTicks()
    {
        var (h, arms) = Setup("lookInterval: 10s");
        await FirstStepAsync(h);
        // Ten seconds of traffic: the look rolls back without waiting for the next analysis tick.
        arms.Serve(new ArmSample(900, 5, 0), new ArmSample(100, 20, 0));
        var outcome = await h.LookAsync();

        Assert.Equal(CanaryPhase.Failed, h.Phase);
        Assert.Equal(0, h.Router.Weights.Canary);
        Assert.Contains(outcome.Events, e => e.Message.StartsWith("Rolling back podinfo.test the judge found the canary worse than the primary: error rate: canary 20% (20 of 100 requests)", StringComparison.Ordinal));
        Assert.Contains(outcome.Events, e => e.Message == "Canary failed! Scaling down podinfo.test");
        var check = Assert.Single(outcome.Checks, c => c.Kind == "judge" && c.Name == "request-success-rate");
        Assert.Equal(CheckResult.Fail, check.Result);
        Assert.Equal(0, h.Status.FailedChecks);
    }

    [Fact]
    public async Task Look_NothingShown_ChangesNothingAndTheTickWeighsTheSameRequests()
    {
        var (h, arms) = Setup("lookInterval: 10s");
        await FirstStepAsync(h);
        var before = h.Status;
        arms.Serve(new ArmSample(900, 5, 0), new ArmSample(100, 1, 0));
        var look = await h.LookAsync();

        Assert.Empty(look.Events);
        Assert.Empty(look.Checks);
        Assert.Same(before, h.Status);

        // The tick at the end of the interval weighs the look's requests together with the rest of the minute.
        arms.Serve(new ArmSample(4500, 25, 0), new ArmSample(500, 2, 0));
        var tick = await h.TickAsync();
        var check = Assert.Single(tick.Checks, c => c.Kind == "judge" && c.Name == "request-success-rate");
        Assert.Equal(600, check.Details!["canaryRequests"]);
        Assert.Equal(20, h.Router.Weights.Canary);
    }

    [Fact]
    public async Task Look_WithoutAJudgeOrOutsideAnAnalysis_DoesNothing()
    {
        var (h, arms) = Setup("lookInterval: 10s");
        await h.TickAsync(); // Initialized: no analysis under way
        arms.Serve(new ArmSample(900, 5, 0), new ArmSample(100, 100, 0));
        var idle = await h.LookAsync();
        Assert.Empty(idle.Events);
        Assert.Equal(CanaryPhase.Initialized, h.Phase);

        var plain = new SchedulerHarness(SchedulerHarness.Canary("interval: 1m\nthreshold: 5\nstepWeight: 10\nmaxWeight: 50"));
        await plain.StartRolloutAsync();
        await plain.TickAsync();
        var none = await plain.LookAsync();
        Assert.Empty(none.Events);
        Assert.Equal(CanaryPhase.Progressing, plain.Phase);
    }

    [Fact]
    public async Task Tick_TooFewCanaryRequests_HoldsTheStepWithoutAFailedCheck()
    {
        var (h, arms) = Setup();
        await FirstStepAsync(h);
        var outcome = await ServeAndTickAsync(h, arms, 50, 0, 0); // 5 canary requests, 10 needed

        Assert.Equal(CanaryPhase.Progressing, h.Phase);
        Assert.Equal(10, h.Router.Weights.Canary);
        Assert.Equal(0, h.Status.FailedChecks);
        Assert.Contains(outcome.Events, e => e.Message.StartsWith("Halt podinfo.test advancement: the judge holds: error rate: too little data: 5 canary requests since the last conclusive tick, 10 needed", StringComparison.Ordinal));
        Assert.All(outcome.Checks.Where(c => c.Kind == "judge"), c => Assert.Equal(CheckResult.NoData, c.Result));

        // The next small tick completes the pool: the step advances.
        await ServeAndTickAsync(h, arms, 50, 0, 0);
        Assert.Equal(20, h.Router.Weights.Canary);
    }

    [Fact]
    public async Task Tick_HealthyCanary_AdvancesEveryTickAndPromotes()
    {
        var (h, arms) = Setup();
        await FirstStepAsync(h);
        for (var weight = 20; weight <= 50; weight += 10)
        {
            await ServeAndTickAsync(h, arms, 6000, 0.005, 0.005, 0.01, 0.01);
            Assert.Equal(weight, h.Router.Weights.Canary);
        }
        await ServeAndTickAsync(h, arms, 6000, 0.005, 0.005, 0.01, 0.01);
        Assert.Equal(CanaryPhase.Promoting, h.Phase);
        await h.RunUntilAsync(5, CanaryPhase.Succeeded);
    }

    [Fact]
    public async Task Tick_PromoteEarly_PromotesOnceNonInferiorityIsShown()
    {
        var (h, arms) = Setup("promoteEarly: true\nmaxErrorRateIncrease: 2\nmaxLatencyIncrease: 10");
        await FirstStepAsync(h);
        var outcome = await ServeAndTickAsync(h, arms, 60000, 0.001, 0.001, 0.05, 0.05);

        Assert.Contains(outcome.Events, e => e.Message == "Promoting podinfo.test early: the judge shows the canary not worse than the primary");
        Assert.Equal(CanaryPhase.Promoting, h.Phase);
        Assert.All(outcome.Checks.Where(c => c.Kind == "judge"), c => Assert.True(c.Details!["upper"] < c.Details["margin"]));
        Assert.All(outcome.Checks.Where(c => c.Kind == "judge"), c => Assert.Contains("not worse, within the", c.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tick_WithoutPromoteEarly_NonInferiorityStillStepsNormally()
    {
        var (h, arms) = Setup("maxErrorRateIncrease: 2");
        await FirstStepAsync(h);
        await ServeAndTickAsync(h, arms, 60000, 0.001, 0.001, 0.05, 0.05);
        Assert.Equal(CanaryPhase.Progressing, h.Phase);
        Assert.Equal(20, h.Router.Weights.Canary);
    }

    [Fact]
    public async Task Tick_CounterReset_CountsSinceTheResetAreJudgedAndNothingBreaks()
    {
        var (h, arms) = Setup();
        await FirstStepAsync(h);
        await ServeAndTickAsync(h, arms, 6000, 0.005, 0.005);
        Assert.Equal(20, h.Router.Weights.Canary);

        // The router restarted: its counters start again, lower than the last reading.
        arms.Reset(new ArmSample(2000, 10, 0), new ArmSample(500, 2, 0));
        var outcome = await h.TickAsync();
        Assert.Equal(CanaryPhase.Progressing, h.Phase);
        Assert.Equal(30, h.Router.Weights.Canary);
        var check = Assert.Single(outcome.Checks, c => c.Kind == "judge" && c.Name == "request-success-rate");
        Assert.Equal(CheckResult.Pass, check.Result);
        Assert.Equal(600 + 500, check.Details!["canaryRequests"]); // the first tick's 600 and the 500 since the reset
        Assert.All(check.Details.Values, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public async Task Tick_StatusPersistedAsJsonEveryTick_JudgeContinuesTheSameTest()
    {
        var (h, arms) = Setup();
        await FirstStepAsync(h);
        for (var i = 0; i < 3 && h.Phase == CanaryPhase.Progressing; i++)
        {
            h.Status = JsonSerializer.Deserialize<CanaryStatus>(JsonSerializer.Serialize(h.Status, ModelJson.Options), ModelJson.Options)!;
            await ServeAndTickAsync(h, arms, 6000, 0.005, 0.02);
        }
        Assert.Equal(CanaryPhase.Failed, h.Phase);
        Assert.Contains(h.Events, e => e.StartsWith("Rolling back podinfo.test the judge found the canary worse", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tick_CountersUnreadable_HoldsWithAFailedCheckAsAnyFailedQuery()
    {
        var (h, arms) = Setup();
        await FirstStepAsync(h);
        arms.FailWith = "router unreachable";
        var outcome = await h.TickAsync();
        Assert.Contains(outcome.Events, e => e.Message == "Halt podinfo.test advancement: the judge cannot read request counts: router unreachable");
        Assert.Equal(1, h.Status.FailedChecks);
    }
}
