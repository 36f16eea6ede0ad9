using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.TestKit;

namespace Aviary.Core.Tests.Scheduling;

/// <summary>The scheduler, one tick at a time: every phase transition, strategy and gate.</summary>
public sealed class CanarySchedulerTests
{
    private const string Progressive = """
        interval: 1m
        threshold: 5
        stepWeight: 10
        maxWeight: 50
        metrics:
          - name: request-success-rate
            thresholdRange:
              min: 99
            interval: 1m
          - name: request-duration
            thresholdRange:
              max: 500
            interval: 30s
        """;

    private static SchedulerHarness Harness(string analysis = Progressive, string extraSpec = "") =>
        new(SchedulerHarness.Canary(analysis, extraSpec));

    [Fact]
    public async Task Tick_FirstTick_InitializesAndScalesTargetDown()
    {
        var h = Harness();
        var outcome = await h.TickAsync();

        Assert.Equal(CanaryPhase.Initialized, h.Phase);
        Assert.Equal(["Initialization done! podinfo.test"], outcome.Events.Select(e => e.Message));
        Assert.Equal(["scale-down"], h.Workload.Actions);
        Assert.Equal(h.Workload.Revision, h.Status.LastAppliedSpec);
        Assert.Equal(h.Workload.Revision, h.Status.LastPromotedSpec);
        var condition = Assert.Single(h.Status.Conditions!);
        Assert.Equal(("Promoted", "True", CanaryPhase.Initialized), (condition.Type, condition.Status, condition.Reason));
        Assert.Contains(h.Notifier.Sent, s => s.Alert.Message == "New Deployment detected, initialization completed.");
    }

    [Fact]
    public async Task Tick_PrimaryNotReadyAtInit_StaysInitializingUntilReady()
    {
        var h = Harness();
        h.Workload.PrimaryReady = false;
        var outcome = await h.TickAsync();
        Assert.Equal(CanaryPhase.Initializing, h.Phase);
        Assert.Equal(["podinfo-primary.test not ready: primary not ready"], outcome.Events.Select(e => e.Message));

        h.Workload.PrimaryReady = true;
        await h.TickAsync();
        Assert.Equal(CanaryPhase.Initialized, h.Phase);
    }

    [Fact]
    public async Task Tick_PrimaryNeverReadyAtInit_FailsAtProgressDeadlineWithAlert()
    {
        var h = Harness(extraSpec: "progressDeadlineSeconds: 120");
        h.Workload.PrimaryReady = false;
        await h.RunUntilAsync(10, CanaryPhase.Failed);

        Assert.Contains(h.Events, e => e.StartsWith("Rolling back podinfo.test progress deadline exceeded", StringComparison.Ordinal));
        Assert.Contains(h.Notifier.Sent, s => s.Alert.Severity == AlertSeverity.Error && s.Alert.Message.StartsWith("Progress deadline exceeded", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tick_TargetChangedWhileInitializing_ReleasesTheChangeAfterwards()
    {
        var h = Harness();
        h.Workload.PrimaryReady = false;
        await h.TickAsync();
        h.Workload.NewRevision(); // the primary was created from revision 0
        h.Workload.PrimaryReady = true;
        await h.TickAsync();
        Assert.Equal(CanaryPhase.Initialized, h.Phase);
        Assert.Equal(h.Workload.PrimaryRevision, h.Status.LastPromotedSpec);

        await h.TickAsync();
        Assert.Equal(CanaryPhase.Progressing, h.Phase);
    }

    [Fact]
    public async Task Tick_NoNewRevision_DoesNothing()
    {
        var h = Harness();
        await h.TickAsync();
        var outcome = await h.TickAsync();

        Assert.Equal(CanaryPhase.Initialized, h.Phase);
        Assert.Empty(outcome.Events);
    }

    [Fact]
    public async Task Tick_NewRevision_ScalesCanaryUpAndProgresses()
    {
        var h = Harness();
        await h.TickAsync();
        h.Workload.NewRevision();
        var outcome = await h.TickAsync();

        Assert.Equal(CanaryPhase.Progressing, h.Phase);
        Assert.Equal(["New revision detected! Scaling up podinfo.test"], outcome.Events.Select(e => e.Message));
        Assert.Equal(["scale-down", "scale-up"], h.Workload.Actions);
        Assert.Equal(h.Workload.Revision, h.Status.LastAppliedSpec);
        Assert.Equal(0, h.Status.CanaryWeight);
    }

    [Fact]
    public async Task Tick_HealthyCanary_AdvancesStepByStepThenPromotes()
    {
        var h = Harness();
        await h.StartRolloutAsync();
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);

        Assert.Equal(
        [
            "Initialization done! podinfo.test",
            "New revision detected! Scaling up podinfo.test",
            "Starting canary analysis for podinfo.test",
            "Advance podinfo.test canary weight 10",
            "Advance podinfo.test canary weight 20",
            "Advance podinfo.test canary weight 30",
            "Advance podinfo.test canary weight 40",
            "Advance podinfo.test canary weight 50",
            "Copying podinfo.test template spec to podinfo-primary.test",
            "Routing all traffic to primary",
            "Promotion completed! Scaling down podinfo.test",
        ], h.Events);
        Assert.Equal([10, 20, 30, 40, 50, 0], h.Router.History.Select(w => w.Canary));
        Assert.Equal(h.Workload.Revision, h.Workload.PrimaryRevision);
        Assert.Equal(h.Workload.Revision, h.Status.LastPromotedSpec);
        Assert.False(h.Workload.CanaryRunning);
        Assert.Equal(0, h.Status.CanaryWeight);
    }

    [Fact]
    public async Task Tick_StepWeights_FollowsTheListedSteps()
    {
        var h = Harness("""
            interval: 30s
            threshold: 2
            stepWeights: [1, 5, 25, 50]
            """);
        await h.StartRolloutAsync();
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);

        Assert.Equal([1, 5, 25, 50, 0], h.Router.History.Select(w => w.Canary));
    }

    [Fact]
    public async Task Tick_StepLargerThanRemainder_NeverExceedsMaxWeight()
    {
        // Fix (a): Flagger routes 20, 40, 60 here.
        var h = Harness("""
            interval: 1m
            threshold: 2
            stepWeight: 20
            maxWeight: 50
            """);
        await h.StartRolloutAsync();
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);

        Assert.Equal([20, 40, 50, 0], h.Router.History.Select(w => w.Canary));
        Assert.All(h.Router.History, w => Assert.True(w.Canary <= 50));
    }

    [Fact]
    public async Task Tick_FailingMetric_HaltsAndCountsFailedChecks()
    {
        var h = Harness();
        await h.StartRolloutAsync();
        await h.TickAsync(); // starts analysis, weight 10
        h.Metrics.Set("request-success-rate", 69.1666);
        var outcome = await h.TickAsync();

        Assert.Equal(1, h.Status.FailedChecks);
        Assert.Equal(10, h.Status.CanaryWeight);
        Assert.Contains("Halt podinfo.test advancement success rate 69.17% < 99%", outcome.Events.Select(e => e.Message));
        var check = outcome.Checks.Single(c => c.Name == "request-success-rate");
        Assert.Equal((CheckResult.Fail, 69.1666, 99.0), (check.Result, check.Value!.Value, check.Min!.Value));
    }

    [Fact]
    public async Task Tick_FailedChecksReachThreshold_RollsBackOnThatTick()
    {
        // Fix (b): Flagger rolls back one tick later.
        var h = Harness();
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.Set("request-success-rate", 60);
        for (var i = 1; i <= 4; i++)
        {
            await h.TickAsync();
            Assert.Equal((CanaryPhase.Progressing, i), (h.Phase, h.Status.FailedChecks));
        }
        var outcome = await h.TickAsync();

        Assert.Equal(CanaryPhase.Failed, h.Phase);
        Assert.Equal(5, h.Status.FailedChecks);
        Assert.Equal(0, h.Status.CanaryWeight);
        Assert.Equal(RouteWeights.AllPrimary, h.Router.Weights);
        Assert.False(h.Workload.CanaryRunning);
        Assert.Equal(
        [
            "Halt podinfo.test advancement success rate 60.00% < 99%",
            "Rolling back podinfo.test failed checks threshold reached 5",
            "Canary failed! Scaling down podinfo.test",
        ], outcome.Events.Select(e => e.Message));
        Assert.Contains(h.Notifier.Sent, s => s.Alert.Message == "Failed checks threshold reached 5" && s.Alert.Severity == AlertSeverity.Error);
        var condition = Assert.Single(h.Status.Conditions!);
        Assert.Equal(("False", CanaryPhase.Failed), (condition.Status, condition.Reason));
    }

    [Fact]
    public async Task Tick_SlowCanary_HaltsWithGoStyleDuration()
    {
        var h = Harness();
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.Set("request-duration", 1515);
        var outcome = await h.TickAsync();

        Assert.Contains("Halt podinfo.test advancement request duration 1.515s > 500ms", outcome.Events.Select(e => e.Message));
    }

    [Fact]
    public async Task Tick_FailedCanaryThenNewRevision_StartsANewAnalysis()
    {
        // Fix (c): Flagger can stay wedged in Failed.
        var h = Harness("""
            interval: 1m
            threshold: 1
            stepWeight: 10
            metrics:
              - name: request-success-rate
                thresholdRange: {min: 99}
            """);
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.Set("request-success-rate", 10);
        await h.TickAsync();
        Assert.Equal(CanaryPhase.Failed, h.Phase);
        await h.TicksAsync(3);
        Assert.Equal(CanaryPhase.Failed, h.Phase);

        h.Metrics.Set("request-success-rate", 100);
        h.Workload.NewRevision();
        var outcome = await h.TickAsync();
        Assert.Equal(CanaryPhase.Progressing, h.Phase);
        Assert.Equal(["New revision detected! Scaling up podinfo.test"], outcome.Events.Select(e => e.Message));
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);
    }

    [Fact]
    public async Task Tick_RevisionChangesDuringAnalysis_RestartsWithTrafficOnPrimary()
    {
        var h = Harness();
        await h.StartRolloutAsync();
        await h.TicksAsync(3); // weights 10, 20, 30
        h.Metrics.Set("request-success-rate", 50);
        await h.TickAsync();
        Assert.Equal((30, 1), (h.Status.CanaryWeight, h.Status.FailedChecks));

        h.Metrics.Set("request-success-rate", 100);
        h.Workload.NewRevision();
        var outcome = await h.TickAsync();

        Assert.Equal(["New revision detected! Restarting analysis for podinfo.test"], outcome.Events.Select(e => e.Message));
        Assert.Equal((CanaryPhase.Progressing, 0, 0), (h.Phase, h.Status.CanaryWeight, h.Status.FailedChecks));
        Assert.Equal(RouteWeights.AllPrimary, h.Router.Weights);
        Assert.Equal(h.Workload.Revision, h.Status.LastAppliedSpec);
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);
    }

    [Fact]
    public async Task Tick_TargetBackOnPromotedRevision_StartsNoAnalysis()
    {
        var h = Harness();
        await h.StartRolloutAsync();
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);
        var promoted = h.Workload.Revision;

        h.Workload.NewRevision();
        h.Workload.SetRevision(1); // back to what the primary runs
        Assert.Equal(promoted, h.Workload.Revision);
        var outcome = await h.TickAsync();
        Assert.Equal(CanaryPhase.Succeeded, h.Phase);
        Assert.Empty(outcome.Events);

        h.Workload.SetRevision(0); // the revision promoted before that: a new one for the canary
        await h.TickAsync();
        Assert.Equal(CanaryPhase.Progressing, h.Phase);
    }

    [Fact]
    public async Task Tick_CanaryNeverReady_RollsBackAtProgressDeadlineWithAlert()
    {
        var h = Harness(extraSpec: "progressDeadlineSeconds: 150");
        await h.TickAsync();
        h.Workload.CanaryReady = false;
        h.Workload.NewRevision();
        await h.TickAsync();
        var ticks = await h.RunUntilAsync(10, CanaryPhase.Failed);

        Assert.Equal(4, ticks); // unready since t, t+1m, t+2m (<150s), t+3m (>=150s) rolls back
        Assert.Contains("canary deployment podinfo.test not ready: canary not ready", h.Events);
        Assert.Contains("Rolling back podinfo.test progress deadline exceeded canary deployment podinfo.test not ready: canary not ready", h.Events);
        // Fix (e): Flagger sends no alert for this rollback.
        Assert.Contains(h.Notifier.Sent, s => s.Alert.Severity == AlertSeverity.Error && s.Alert.Message.StartsWith("Progress deadline exceeded", StringComparison.Ordinal));
        Assert.False(h.Workload.CanaryRunning);
    }

    [Fact]
    public async Task Tick_StalledWorkload_RollsBackAtOnce()
    {
        var h = Harness();
        await h.TickAsync();
        h.Workload.CanaryReady = false;
        h.Workload.Stalled = true;
        h.Workload.NewRevision();
        await h.TickAsync();
        await h.TickAsync();

        Assert.Equal(CanaryPhase.Failed, h.Phase);
    }

    [Fact]
    public async Task Tick_SkipAnalysis_PromotesAtOnce()
    {
        var h = Harness(extraSpec: "skipAnalysis: true");
        await h.StartRolloutAsync();
        var outcome = await h.TickAsync();

        Assert.Equal(CanaryPhase.Succeeded, h.Phase);
        Assert.Equal(
        [
            "Copying podinfo.test template spec to podinfo-primary.test",
            "Promotion completed! Canary analysis was skipped for podinfo.test",
        ], outcome.Events.Select(e => e.Message));
        Assert.Equal(h.Workload.Revision, h.Workload.PrimaryRevision);
        Assert.Empty(h.Metrics.Queries);
    }

    [Fact]
    public async Task Tick_Suspended_ChangesNothing()
    {
        var h = Harness(extraSpec: "suspend: true");
        var outcome = await h.TickAsync();

        Assert.Equal("", h.Phase);
        Assert.Equal(["skipping canary run as object is suspended"], outcome.Events.Select(e => e.Message));
        Assert.Empty(h.Workload.Actions);
    }

    [Fact]
    public async Task Tick_BlueGreen_RunsIterationsThenSwitchesAllTraffic()
    {
        var h = Harness("""
            interval: 1m
            threshold: 2
            iterations: 3
            """);
        await h.StartRolloutAsync();
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);

        Assert.Equal(
        [
            "Initialization done! podinfo.test",
            "New revision detected! Scaling up podinfo.test",
            "Starting canary analysis for podinfo.test",
            "Advance podinfo.test canary iteration 1/3",
            "Advance podinfo.test canary iteration 2/3",
            "Advance podinfo.test canary iteration 3/3",
            "Routing all traffic to canary",
            "Copying podinfo.test template spec to podinfo-primary.test",
            "Routing all traffic to primary",
            "Promotion completed! Scaling down podinfo.test",
        ], h.Events);
        Assert.Equal([new RouteWeights(0, 100), RouteWeights.AllPrimary], h.Router.History);
    }

    [Fact]
    public async Task Tick_ABTesting_RoutesMatchedTrafficThenPromotes()
    {
        var h = Harness("""
            interval: 1m
            threshold: 2
            iterations: 2
            match:
              - headers:
                  x-canary:
                    exact: insider
            """);
        Assert.Equal(DeploymentStrategy.ABTesting, h.Policy.Strategy);
        await h.StartRolloutAsync();
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);

        Assert.Contains("Advance podinfo.test canary iteration 1/2", h.Events);
        Assert.Contains("Advance podinfo.test canary iteration 2/2", h.Events);
        Assert.Equal(new RouteWeights(0, 100), h.Router.History[0]);
        Assert.Equal(RouteWeights.AllPrimary, h.Router.Weights);
    }

    [Fact]
    public async Task Tick_Mirror_MirrorsOneStepBeforeShiftingTraffic()
    {
        var h = Harness("""
            interval: 1m
            threshold: 2
            stepWeight: 25
            maxWeight: 50
            mirror: true
            mirrorWeight: 100
            """);
        await h.StartRolloutAsync();
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);

        Assert.Equal(
            [new RouteWeights(100, 0, Mirrored: true), new RouteWeights(75, 25), new RouteWeights(50, 50), RouteWeights.AllPrimary],
            h.Router.History);
    }

    [Fact]
    public async Task Tick_StepWeightPromotion_ReturnsTrafficToPrimaryInSteps()
    {
        var h = Harness("""
            interval: 1m
            threshold: 2
            stepWeight: 25
            maxWeight: 50
            stepWeightPromotion: 20
            """);
        await h.StartRolloutAsync();
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);

        Assert.Equal([25, 50, 30, 10, 0], h.Router.History.Select(w => w.Canary));
        Assert.Contains("Advance podinfo.test primary weight 70", h.Events);
        Assert.Contains("Advance podinfo.test primary weight 100", h.Events);
    }

    [Fact]
    public async Task Tick_ConfirmRolloutGateClosed_WaitsUntilOpened()
    {
        var h = Harness(Progressive + """

            webhooks:
              - name: gate
                type: confirm-rollout
                url: http://gate.test/approve
            """);
        h.Webhooks.Answer("gate", 403);
        await h.StartRolloutAsync();
        Assert.Equal(CanaryPhase.Waiting, h.Phase);
        Assert.Contains("Halt podinfo.test advancement waiting for approval gate", h.Events);
        var again = await h.TickAsync();
        Assert.Empty(again.Events); // the waiting event is not repeated every tick
        Assert.Contains(h.Notifier.Sent, s => s.Alert.Message == "Canary is waiting for approval." && s.Alert.Severity == AlertSeverity.Warn);

        h.Webhooks.Answer("gate", 200);
        var opened = await h.TickAsync();
        Assert.Equal(CanaryPhase.Progressing, h.Phase);
        Assert.Equal(["Confirm-rollout check gate passed", "New revision detected! Scaling up podinfo.test"], opened.Events.Select(e => e.Message));
    }

    [Fact]
    public async Task Tick_ConfirmTrafficIncreaseClosed_HoldsTheWeight()
    {
        var h = Harness(Progressive + """

            webhooks:
              - name: more
                type: confirm-traffic-increase
                url: http://gate.test/more
            """);
        await h.StartRolloutAsync();
        await h.TickAsync();
        Assert.Equal(10, h.Status.CanaryWeight);
        h.Webhooks.Answer("more", 500);
        var held = await h.TickAsync();
        Assert.Equal(10, h.Status.CanaryWeight);
        Assert.Contains("Halt podinfo.test advancement waiting for traffic increase approval more", held.Events.Select(e => e.Message));
        Assert.Equal(0, h.Status.FailedChecks);

        h.Webhooks.Answer("more", 200);
        await h.TickAsync();
        Assert.Equal(20, h.Status.CanaryWeight);
    }

    [Fact]
    public async Task Tick_ConfirmPromotionClosed_WaitsForPromotion()
    {
        var h = Harness(Progressive + """

            webhooks:
              - name: promote
                type: confirm-promotion
                url: http://gate.test/promote
            """);
        h.Webhooks.Answer("promote", 403);
        await h.StartRolloutAsync();
        await h.RunUntilAsync(20, CanaryPhase.WaitingPromotion);
        Assert.Equal(50, h.Status.CanaryWeight);
        Assert.Contains("Halt podinfo.test advancement waiting for promotion approval promote", h.Events);
        await h.TicksAsync(3);
        Assert.Equal(CanaryPhase.WaitingPromotion, h.Phase);
        Assert.DoesNotContain("promote", h.Workload.Actions);

        h.Webhooks.Answer("promote", 200);
        await h.TickAsync();
        Assert.Equal(CanaryPhase.Promoting, h.Phase);
        await h.RunUntilAsync(5, CanaryPhase.Succeeded);
    }

    [Fact]
    public async Task Tick_PreRolloutHookFails_CountsAFailedCheck()
    {
        var h = Harness(Progressive + """

            webhooks:
              - name: smoke
                type: pre-rollout
                url: http://hooks.test/smoke
            """);
        h.Webhooks.Answer("smoke", 500);
        await h.StartRolloutAsync();
        var outcome = await h.TickAsync();

        Assert.Equal(1, h.Status.FailedChecks);
        Assert.Equal(0, h.Status.CanaryWeight);
        Assert.Contains("Halt podinfo.test advancement pre-rollout check smoke failed status 500: nope", outcome.Events.Select(e => e.Message));
    }

    [Fact]
    public async Task Tick_RolloutHookFails_HaltsWithExternalCheckEvent()
    {
        var h = Harness(Progressive + """

            webhooks:
              - name: load-test
                url: http://loadtester.test/
            """);
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Webhooks.Answer("load-test", 503);
        var outcome = await h.TickAsync();

        Assert.Equal(1, h.Status.FailedChecks);
        Assert.Contains("Halt podinfo.test advancement external check load-test failed status 503: nope", outcome.Events.Select(e => e.Message));
        Assert.DoesNotContain(outcome.Checks, c => c.Kind == "metric"); // metrics are not queried after a failed hook
    }

    [Fact]
    public async Task Tick_RollbackHookSignals_RollsBack()
    {
        var h = Harness(Progressive + """

            webhooks:
              - name: abort
                type: rollback
                url: http://gate.test/rollback/check
            """);
        h.Webhooks.Answer("abort", 404);
        await h.StartRolloutAsync();
        await h.TickAsync();
        Assert.Contains("Rollback hook abort not signaling a rollback", h.Events);

        h.Webhooks.Answer("abort", 200);
        var outcome = await h.TickAsync();
        Assert.Equal(CanaryPhase.Failed, h.Phase);
        Assert.Contains("Rolling back podinfo.test manual webhook invoked", outcome.Events.Select(e => e.Message));
        Assert.Contains(h.Notifier.Sent, s => s.Alert.Message == "Rolling back manual webhook invoked");
    }

    [Fact]
    public async Task Tick_RollbackHookWhileWaitingForApproval_EndsFailedOnceForThatRevision()
    {
        // Fix (d): Flagger ignores rollback hooks while its confirm-rollout gate is closed; Aviary rolls back.
        // As Flagger (which syncs lastAppliedSpec while a rollout waits): the revision the rollback gate failed is not
        // started again, so the canary does not loop between Failed and Waiting while both gates stay as they are.
        var h = Harness(Progressive + """

            webhooks:
              - name: gate
                type: confirm-rollout
                url: http://gate.test/approve
              - name: abort
                type: rollback
                url: http://gate.test/rollback/check
            """);
        h.Webhooks.Answer("gate", 403);
        h.Webhooks.Answer("abort", 404);
        await h.StartRolloutAsync();
        Assert.Equal(CanaryPhase.Waiting, h.Phase);
        h.Webhooks.Answer("abort", 200);
        await h.TickAsync();
        Assert.Equal(CanaryPhase.Failed, h.Phase);
        Assert.Contains("Rolling back podinfo.test manual webhook invoked", h.Events);

        for (var i = 0; i < 5; i++)
        {
            await h.TickAsync();
            Assert.Equal(CanaryPhase.Failed, h.Phase);
        }
        Assert.Single(h.Events, e => e == "Rolling back podinfo.test manual webhook invoked");
        Assert.Single(h.Events, e => e.StartsWith("Halt podinfo.test advancement waiting for approval", StringComparison.Ordinal));

        // A new revision is a new rollout: it waits at the gate again.
        h.Webhooks.Answer("abort", 404);
        h.Workload.NewRevision();
        await h.TickAsync();
        Assert.Equal(CanaryPhase.Waiting, h.Phase);
    }

    [Theory]
    [InlineData(200, true)]
    [InlineData(202, true)]
    [InlineData(203, true)]
    [InlineData(204, true)]
    [InlineData(299, true)]
    [InlineData(300, false)]
    [InlineData(404, false)]
    [InlineData(500, false)]
    public void FromStatus_AnyTwoHundred_IsSuccess(int status, bool success)
    {
        // Fix (f): Flagger treats 203–299 as failures.
        Assert.Equal(success, WebhookResult.FromStatus(status).Succeeded);
    }

    [Fact]
    public async Task Tick_GateAnswers204_Opens()
    {
        var h = Harness(Progressive + """

            webhooks:
              - name: gate
                type: confirm-rollout
                url: http://gate.test/approve
            """);
        h.Webhooks.Answer("gate", 204);
        await h.StartRolloutAsync();
        Assert.Equal(CanaryPhase.Progressing, h.Phase);
    }

    [Fact]
    public async Task Tick_AlertRoutes_FilterBySeverityAndEmptyMeansInfo()
    {
        // Fix (e): an alert with no severity receives everything (Flagger sends it nothing).
        var h = Harness(Progressive + """

            alerts:
              - name: everything
                providerRef: {name: all}
              - name: on-call
                severity: error
                providerRef: {name: pager}
              - name: team
                severity: warn
                providerRef: {name: team}
            """);
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.Set("request-success-rate", 1);
        await h.RunUntilAsync(10, CanaryPhase.Failed);

        var byProvider = h.Notifier.Sent.GroupBy(s => s.Provider!.Name).ToDictionary(g => g.Key, g => g.Select(s => s.Alert).ToList());
        Assert.Contains(byProvider["all"], a => a.Severity == AlertSeverity.Info);
        Assert.Contains(byProvider["all"], a => a.Severity == AlertSeverity.Error);
        Assert.All(byProvider["pager"], a => Assert.Equal(AlertSeverity.Error, a.Severity));
        Assert.Single(byProvider["pager"]);
        Assert.DoesNotContain(byProvider["team"], a => a.Severity == AlertSeverity.Info);
        var rollback = byProvider["pager"][0];
        Assert.Contains(rollback.Fields, f => f.Name == "Failing check" && f.Value.StartsWith("request-success-rate 1 (min 99)", StringComparison.Ordinal));
        Assert.Contains(rollback.Fields, f => f.Name == "Failed checks" && f.Value == "5/5");
    }

    [Fact]
    public async Task Tick_NoDataByDefault_CountsAsFailure()
    {
        var h = Harness();
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.NoData("request-success-rate");
        var outcome = await h.TickAsync();

        Assert.Equal(1, h.Status.FailedChecks);
        Assert.Contains(outcome.Events, e => e.Message.StartsWith("Halt advancement no values found for builtin metric request-success-rate probably podinfo.test is not receiving traffic", StringComparison.Ordinal));
        Assert.Equal(CheckResult.NoData, outcome.Checks.Single(c => c.Name == "request-success-rate").Result);
    }

    [Theory]
    [InlineData("skip", 10, 0)]
    [InlineData("pass", 20, 0)]
    [InlineData("fail", 10, 1)]
    public async Task Tick_OnNoDataPolicy_DecidesTheTick(string policy, int weight, int failed)
    {
        var h = Harness($$"""
            interval: 1m
            threshold: 5
            stepWeight: 10
            metrics:
              - name: request-success-rate
                thresholdRange: {min: 99}
                onNoData: {{policy}}
            """);
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.NoData("request-success-rate");
        await h.TickAsync();

        Assert.Equal((weight, failed), (h.Status.CanaryWeight, h.Status.FailedChecks));
    }

    [Fact]
    public async Task Tick_MetricQueryError_CountsAsFailure()
    {
        var h = Harness();
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.Error("request-duration", "connection refused");
        var outcome = await h.TickAsync();

        Assert.Equal(1, h.Status.FailedChecks);
        Assert.Contains("Metric query failed for request-duration: connection refused", outcome.Events.Select(e => e.Message));
    }

    [Fact]
    public async Task Tick_CustomMetricAboveMax_HaltsWithItsName()
    {
        var h = Harness("""
            interval: 1m
            threshold: 5
            stepWeight: 10
            metrics:
              - name: error-rate
                query: sum(rate(errors[1m]))
                thresholdRange: {max: 1}
            """);
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.Set("error-rate", 2.5);
        var outcome = await h.TickAsync();

        Assert.Contains("Halt podinfo.test advancement error-rate 2.50 > 1", outcome.Events.Select(e => e.Message));
    }

    [Fact]
    public async Task Tick_KubernetesProvider_RunsBlueGreenWithTenIterations()
    {
        var h = Harness(Progressive, "provider: kubernetes");
        await h.StartRolloutAsync();
        await h.TickAsync();

        Assert.Contains("Progressive traffic is not supported when using the kubernetes provider", h.Events);
        Assert.Contains("Advance podinfo.test canary iteration 1/10", h.Events);
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);
        Assert.Empty(h.Router.History); // the kubernetes provider switches by Service selectors, not weights
    }

    [Fact]
    public async Task Tick_PrimaryBreaksDuringPromotion_KeepsTrafficOnCanary()
    {
        var h = Harness("""
            interval: 1m
            threshold: 2
            stepWeight: 50
            stepWeightPromotion: 10
            """, "progressDeadlineSeconds: 60");
        await h.StartRolloutAsync();
        await h.RunUntilAsync(10, CanaryPhase.Promoting);
        h.Workload.PrimaryReady = false;
        await h.RunUntilAsync(5, CanaryPhase.Failed);

        Assert.Equal(new RouteWeights(0, 100), h.Router.Weights);
        Assert.Contains(h.Events, e => e.StartsWith("Promotion of podinfo.test failed, primary not ready", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Finalize_RevertOnDeletion_RestoresTargetAndRouting()
    {
        var h = Harness(Progressive, "revertOnDeletion: true");
        await h.StartRolloutAsync();
        var outcome = await h.Scheduler.FinalizeAsync(h.Policy, h.Status);

        Assert.Equal(CanaryPhase.Terminated, outcome.Status.Phase);
        Assert.Contains("revert", h.Workload.Actions);
        Assert.True(h.Router.Finalized);
    }

    [Fact]
    public async Task Tick_ScaleDownFailsDuringRollback_RetriesNextTick()
    {
        var h = Harness("""
            interval: 1m
            threshold: 1
            stepWeight: 10
            metrics:
              - name: request-success-rate
                thresholdRange: {min: 99}
            """);
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.Set("request-success-rate", 1);
        h.Workload.FailNext = "cannot stop instance";
        await h.TickAsync();
        Assert.Equal(CanaryPhase.Progressing, h.Phase);
        Assert.Equal(RouteWeights.AllPrimary, h.Router.Weights);

        await h.TickAsync();
        Assert.Equal(CanaryPhase.Failed, h.Phase);
        Assert.False(h.Workload.CanaryRunning);
    }

    [Fact]
    public async Task Tick_StatusChanges_UpdateLastTransitionTime()
    {
        var h = Harness();
        await h.TickAsync();
        var initialized = h.Status.LastTransitionTime;
        await h.TickAsync();
        Assert.Equal(initialized, h.Status.LastTransitionTime);
        h.Workload.NewRevision();
        await h.TickAsync();
        Assert.True(h.Status.LastTransitionTime > initialized);
    }
}

/// <summary>Manual promote, abort and retry, one tick at a time.</summary>
public sealed class ManualActionTests
{
    private const string Analysis = """
        interval: 1m
        threshold: 2
        stepWeight: 10
        maxWeight: 50
        metrics:
          - name: request-success-rate
            thresholdRange: {min: 99}
        webhooks:
          - name: promote-gate
            type: confirm-promotion
            url: http://gate.test/promote
        """;

    private static ManualAction Ask(SchedulerHarness h, ManualActionKind kind) => new(kind, "alice@laptop", h.Clock.GetUtcNow());

    [Fact]
    public async Task Promote_AnalysisPasses_PromotesAtOnceSkippingStepsAndGates()
    {
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis));
        h.Webhooks.Answer("promote-gate", 403);
        await h.StartRolloutAsync();
        await h.TickAsync(); // 10%

        var outcome = await h.TickAsync(Ask(h, ManualActionKind.Promote));

        Assert.True(outcome.Action!.Applied);
        Assert.Equal(CanaryPhase.Promoting, h.Phase);
        Assert.Contains("Promotion of podinfo.test requested by alice@laptop: the analysis passed, promoting now", outcome.Events.Select(e => e.Message));
        Assert.Contains("promote", h.Workload.Actions);
        await h.RunUntilAsync(5, CanaryPhase.Succeeded);
    }

    [Fact]
    public async Task Promote_AnalysisFails_IsRefusedAndCountsTheFailure()
    {
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis));
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.Set("request-success-rate", 50);

        var outcome = await h.TickAsync(Ask(h, ManualActionKind.Promote));

        Assert.False(outcome.Action!.Applied);
        Assert.Equal("Promote requested by alice@laptop refused: the current analysis of podinfo.test failed, not promoting", outcome.Action.Message);
        Assert.Equal((CanaryPhase.Progressing, 1), (h.Phase, h.Status.FailedChecks));
        Assert.DoesNotContain("promote", h.Workload.Actions);
    }

    [Fact]
    public async Task Promote_AnalysisHoldsForData_StaysPendingThenPromotesOnThePassingTick()
    {
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis.Replace("thresholdRange: {min: 99}", "thresholdRange: {min: 99}\n    onNoData: skip", StringComparison.Ordinal)));
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.NoData("request-success-rate");
        var ask = Ask(h, ManualActionKind.Promote);

        var held = await h.TickAsync(ask);

        Assert.Null(held.Action);
        Assert.Equal(CanaryPhase.Progressing, h.Phase);
        h.Metrics.Set("request-success-rate", 100);
        var outcome = await h.TickAsync(ask);
        Assert.True(outcome.Action!.Applied);
        Assert.Equal(CanaryPhase.Promoting, h.Phase);
    }

    [Fact]
    public async Task Abort_DuringAnalysis_RollsBackNow()
    {
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis));
        await h.StartRolloutAsync();
        await h.TicksAsync(2);

        var outcome = await h.TickAsync(Ask(h, ManualActionKind.Abort));

        Assert.True(outcome.Action!.Applied);
        Assert.Equal(CanaryPhase.Failed, h.Phase);
        Assert.Equal(RouteWeights.AllPrimary, h.Router.Weights);
        Assert.Contains("Rolling back podinfo.test abort requested by alice@laptop", outcome.Events.Select(e => e.Message));
        Assert.Contains(h.Notifier.Sent, s => s.Alert.Message == "Rolling back: abort requested by alice@laptop");
    }

    [Fact]
    public async Task Abort_NothingUnderWay_IsRefused()
    {
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis));
        await h.TickAsync();

        var outcome = await h.TickAsync(Ask(h, ManualActionKind.Abort));

        Assert.False(outcome.Action!.Applied);
        Assert.Equal("Abort requested by alice@laptop refused: no rollout under way: podinfo.test is Initialized", outcome.Action.Message);
    }

    [Fact]
    public async Task Retry_FailedRevision_AnalysesItAgainWithoutANewRevision()
    {
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis));
        await h.StartRolloutAsync();
        await h.TickAsync();
        h.Metrics.Set("request-success-rate", 50);
        await h.RunUntilAsync(5, CanaryPhase.Failed);
        var failedRevision = h.Status.LastAppliedSpec;
        await h.TickAsync();
        Assert.Equal(CanaryPhase.Failed, h.Phase); // nothing happens by itself

        h.Metrics.Set("request-success-rate", 100);
        var outcome = await h.TickAsync(Ask(h, ManualActionKind.Retry));

        Assert.True(outcome.Action!.Applied);
        Assert.Equal(CanaryPhase.Progressing, h.Phase);
        Assert.Equal(failedRevision, h.Status.LastAppliedSpec);
        Assert.Equal(0, h.Status.FailedChecks);
        h.Webhooks.Answer("promote-gate", 200);
        await h.RunUntilAsync(20, CanaryPhase.Succeeded);
    }

    [Fact]
    public async Task Retry_NotFailed_IsRefused()
    {
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis));
        await h.StartRolloutAsync();

        var outcome = await h.TickAsync(Ask(h, ManualActionKind.Retry));

        Assert.False(outcome.Action!.Applied);
        Assert.Contains("only a failed canary can be retried (podinfo.test is Progressing)", outcome.Action.Message);
    }

    [Fact]
    public async Task Promote_CanaryNotReadyYet_StaysPending()
    {
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis));
        await h.TickAsync();
        h.Workload.CanaryReady = false;
        h.Workload.NewRevision();
        await h.TickAsync();

        var outcome = await h.TickAsync(Ask(h, ManualActionKind.Promote));

        Assert.Null(outcome.Action);
    }
}
