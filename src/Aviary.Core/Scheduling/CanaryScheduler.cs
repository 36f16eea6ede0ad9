using System.Globalization;
using Aviary.Core.Abstractions;
using Aviary.Core.Analysis;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Primitives;

namespace Aviary.Core.Scheduling;

/// <summary>
/// The state machine that decides each analysis tick, with Flagger's semantics (phases, strategies, gates,
/// hooks, failed checks, event wording) and its known faults fixed. A tick observes the workload and the
/// router once, then runs a flat series of steps that each may end the tick, and returns the new status
/// with the events and checks it recorded; the caller persists them in one write. No clock, socket or
/// process is touched here: everything goes through <see cref="SchedulerServices"/>.
/// </summary>
public sealed class CanaryScheduler(SchedulerServices services)
{
    /// <summary>Runs one tick of <paramref name="policy"/> from <paramref name="status"/>.</summary>
    public Task<TickOutcome> TickAsync(CanaryPolicy policy, CanaryStatus status, CancellationToken cancellationToken = default) =>
        TickAsync(policy, status, null, cancellationToken);

    /// <summary>
    /// Runs one tick with a pending manual <paramref name="action"/> (promote, abort or retry; pause and resume are the
    /// runtime's, as <c>suspend</c>). <see cref="TickOutcome.Action"/> says whether it was applied or refused; it is null
    /// when the tick ended before the action could be decided (e.g. the canary is not ready yet): keep it pending.
    /// </summary>
    public async Task<TickOutcome> TickAsync(CanaryPolicy policy, CanaryStatus status, ManualAction? action, CancellationToken cancellationToken = default)
    {
        var tick = new Tick(services, policy, status, cancellationToken) { Action = action };
        await tick.RunAsync();
        return tick.Outcome();
    }

    /// <summary>
    /// A look of the judge between analysis ticks (<c>analysis.judge.lookInterval</c>): it weighs what both arms
    /// answered since the last tick and, if that shows the canary worse than the primary, rolls back at once. Otherwise
    /// nothing changes — no status, event or check: the next tick weighs the same requests as its own. Does nothing
    /// without a judge or outside an analysis (Progressing, WaitingPromotion).
    /// </summary>
    public async Task<TickOutcome> LookAsync(CanaryPolicy policy, CanaryStatus status, CancellationToken cancellationToken = default)
    {
        var tick = new Tick(services, policy, status, cancellationToken);
        await tick.LookAsync();
        return tick.Outcome();
    }

    /// <summary>
    /// Runs the finalizer of a deleted canary with <c>revertOnDeletion</c>: the target gets its replicas back and
    /// routing is handed back to it. Returns phase Terminated when done, Terminating while it cannot finish.
    /// </summary>
    public async Task<TickOutcome> FinalizeAsync(CanaryPolicy policy, CanaryStatus status, CancellationToken cancellationToken = default)
    {
        var tick = new Tick(services, policy, status, cancellationToken);
        await tick.FinalizeAsync();
        return tick.Outcome();
    }

    private sealed class Tick(SchedulerServices s, CanaryPolicy p, CanaryStatus initial, CancellationToken ct)
    {
        private readonly List<CanaryEvent> _events = [];
        private readonly List<AnalysisCheck> _checks = [];
        private readonly List<Alert> _alerts = [];
        private readonly CanaryStatus _initial = initial;
        private CanaryStatus _status = initial;
        private RouteWeights? _routes;
        private AnalysisCheck? _failing;
        private ActionResult? _actionResult;

        public ManualAction? Action { get; init; }

        private DateTimeOffset Now => s.Time.GetUtcNow();
        private string Phase => _status.Phase ?? "";

        public TickOutcome Outcome()
        {
            var status = _status;
            if (_routes is { } r) status = status with { CanaryWeight = r.Canary };
            if (!SameProgress(status, _initial))
                status = status with { LastTransitionTime = Now, Conditions = Conditions(status) };
            return new TickOutcome(status, _events, _checks, _routes, _alerts) { Action = _actionResult };
        }

        public async Task RunAsync()
        {
            if (p.Suspend)
            {
                await InfoAsync("skipping canary run as object is suspended");
                return;
            }

            if (Phase.Length == 0) _status = _status with { Phase = CanaryPhase.Initializing };

            if (!await Succeeded(s.Workload.EnsurePrimaryAsync(p, ct))) return;
            if (!await Succeeded(s.Router.ReconcileAsync(p, ct))) return;
            var observed = await s.Workload.ObserveAsync(p, ct);
            if (!observed.Succeeded)
            {
                await WarnAsync(observed.Error!);
                return;
            }
            var workload = observed.Value!;

            if (Phase == CanaryPhase.Initializing)
            {
                await InitializeAsync(workload);
                return;
            }

            if (Action is { Kind: ManualActionKind.Pause or ManualActionKind.Resume } a)
                await RefuseAsync(a, "pause and resume are handled by the runtime, not the scheduler");

            var retry = false;
            if (Action is { Kind: ManualActionKind.Retry } r)
            {
                if (Phase == CanaryPhase.Failed) retry = true;
                else
                {
                    await RefuseAsync(r, $"only a failed canary can be retried ({p.Id} is {DisplayPhase})");
                    return;
                }
            }

            if (Action is { Kind: ManualActionKind.Promote or ManualActionKind.Abort } idle && !CanaryPhase.IsActive(Phase))
            {
                await RefuseAsync(idle, $"no rollout under way: {p.Id} is {DisplayPhase}");
                return;
            }

            if (!CanaryPhase.IsActive(Phase) && !retry)
            {
                if (workload.Revision == _status.LastAppliedSpec) return;
                if (workload.Revision == _status.LastPromotedSpec)
                {
                    // The target went back to what the primary runs (a manual rollback): nothing to analyse.
                    _status = _status with { LastAppliedSpec = workload.Revision, TrackedConfigs = workload.TrackedConfigs };
                    await InfoAsync($"{p.TargetId} is back on the promoted revision, no analysis needed");
                    return;
                }
            }

            if (!p.SkipAnalysis && !workload.Primary.Ready)
            {
                await WarnAsync($"{p.PrimaryName}.{p.Namespace} not ready: {workload.Primary.Message}");
                if (DeadlineExceeded(workload.Primary))
                {
                    if (Phase is CanaryPhase.Promoting or CanaryPhase.Finalising) await FailedPromotionAsync(workload.Primary);
                    else await RollbackAsync(Rollback.Deadline, $"{p.PrimaryName}.{p.Namespace} not ready: {workload.Primary.Message}");
                }
                return;
            }

            var routes = await s.Router.GetRoutesAsync(p, ct);
            if (!routes.Succeeded)
            {
                await WarnAsync(routes.Error!);
                return;
            }
            _routes = routes.Value;

            if (Action is { Kind: ManualActionKind.Abort } abort)
            {
                if (Phase is CanaryPhase.Progressing or CanaryPhase.Waiting or CanaryPhase.WaitingPromotion)
                {
                    await ApplyAsync(abort, $"Abort of {p.Id} requested by {abort.RequestedBy}");
                    await RollbackAsync(Rollback.Manual, abort.RequestedBy);
                }
                else await RefuseAsync(abort, $"nothing to abort: {p.Id} is {DisplayPhase}");
                return;
            }

            if (retry)
            {
                await ApplyAsync(Action!, $"Retry of {p.Id} requested by {Action!.RequestedBy}: analysing revision {workload.Revision} again");
                await StartRolloutAsync(workload);
                return;
            }

            if (Phase is not (CanaryPhase.Progressing or CanaryPhase.WaitingPromotion or CanaryPhase.Promoting or CanaryPhase.Finalising))
            {
                if (Action is { Kind: ManualActionKind.Promote } early)
                    await RefuseAsync(early, $"no analysis to promote: {p.Id} is {DisplayPhase}");
                await StartRolloutAsync(workload);
                return;
            }

            if (Phase is CanaryPhase.Progressing or CanaryPhase.WaitingPromotion && workload.Revision != _status.LastAppliedSpec)
            {
                await RestartAsync(workload);
                return;
            }

            if (!workload.Canary.Ready)
            {
                var message = $"canary {p.TargetKind.ToLowerInvariant()} {p.TargetId} not ready: {workload.Canary.Message}";
                if (DeadlineExceeded(workload.Canary)) await RollbackAsync(Rollback.Deadline, message);
                else await WarnAsync(message);
                return;
            }

            if (p.SkipAnalysis)
            {
                await SkipAnalysisAsync();
                return;
            }

            if (Phase is CanaryPhase.Progressing or CanaryPhase.WaitingPromotion && await RollbackHookSignalledAsync())
            {
                await RollbackAsync(Rollback.Webhook, "");
                return;
            }

            if (Phase is CanaryPhase.Promoting or CanaryPhase.Finalising && Action is { Kind: ManualActionKind.Promote } late)
                await RefuseAsync(late, $"{p.Id} is already being promoted");

            if (Phase == CanaryPhase.Promoting)
            {
                await ShiftTrafficToPrimaryAsync();
                return;
            }

            if (Phase == CanaryPhase.Finalising)
            {
                await FinishPromotionAsync();
                return;
            }

            if (await ThresholdReachedAsync()) return;

            var first = _routes.Value.Canary == 0 && _status.Iterations == 0 && !(p.Mirror && _routes.Value.Mirrored);
            var verdict = first ? await PreRolloutAsync() : await AnalyseAsync();
            if (verdict == Verdict.Reject) return;
            if (first && verdict == Verdict.Pass && p.Judge is { } judge && s.Arms is not null)
            {
                // The judge's baseline: it weighs only what the canary answers from its first step on.
                var baseline = await s.Arms.ReadAsync(p, judge.LatencyThresholdMs, ct);
                if (baseline.Succeeded) _status = _status with { Judge = new JudgeState { Revision = _status.LastAppliedSpec, Last = baseline.Value } };
            }
            if (Action is { Kind: ManualActionKind.Promote } promote && verdict is not (Verdict.Pass or Verdict.PassNotWorse))
                await RefuseAsync(promote, verdict == Verdict.Fail
                    ? $"the current analysis of {p.Id} failed, not promoting"
                    : $"the current analysis of {p.Id} is inconclusive, not promoting");
            if (verdict == Verdict.Fail)
            {
                _status = _status with { FailedChecks = _status.FailedChecks + 1 };
                await ThresholdReachedAsync();
                return;
            }
            if (verdict == Verdict.Hold) return;

            if (verdict == Verdict.PassNotWorse && p.Judge is { PromoteEarly: true } && Action is null)
            {
                await InfoAsync($"Promoting {p.Id} early: the judge shows the canary not worse than the primary");
                if (!await PromotionApprovedAsync(p.Iterations)) return;
                await PromoteAsync();
                return;
            }

            if (Action is { Kind: ManualActionKind.Promote } now)
            {
                // A person's go-ahead: the remaining steps and the confirm-promotion gates are skipped.
                await ApplyAsync(now, $"Promotion of {p.Id} requested by {now.RequestedBy}: the analysis passed, promoting now");
                await PromoteAsync();
                return;
            }

            await AdvanceAsync();
        }

        // ---- initialization ----

        private async Task InitializeAsync(WorkloadState workload)
        {
            if (!workload.Primary.Ready)
            {
                var message = $"{p.PrimaryName}.{p.Namespace} not ready: {workload.Primary.Message}";
                if (DeadlineExceeded(workload.Primary)) await RollbackAsync(Rollback.Deadline, message);
                else await WarnAsync(message);
                return;
            }
            if (!await Succeeded(s.Workload.ScaleDownCanaryAsync(p, ct))) return;
            // What the primary was created from; if the target changed meanwhile, the next tick releases that change.
            var promoted = workload.PrimaryRevision ?? workload.Revision;
            _status = _status with
            {
                Phase = CanaryPhase.Initialized,
                FailedChecks = 0,
                Iterations = 0,
                CanaryWeight = 0,
                LastAppliedSpec = promoted,
                LastPromotedSpec = promoted,
                TrackedConfigs = workload.TrackedConfigs,
            };
            await InfoAsync($"Initialization done! {p.Id}");
            await AlertAsync($"New {p.TargetKind} detected, initialization completed.", AlertSeverity.Info, metadata: true);
        }

        // ---- start, restart ----

        private async Task StartRolloutAsync(WorkloadState workload)
        {
            // Fix (d): a rollback gate is honoured while a rollout waits for its confirm-rollout gate.
            if (Phase == CanaryPhase.Waiting && await RollbackHookSignalledAsync())
            {
                // This revision is the one rolled back (Flagger syncs lastAppliedSpec while a rollout waits): it is not
                // started again next tick, so the canary ends Failed once instead of looping back to Waiting.
                _status = _status with { LastAppliedSpec = workload.Revision, TrackedConfigs = workload.TrackedConfigs };
                await RollbackAsync(Rollback.Webhook, "");
                return;
            }

            if (!await GatesOpenAsync(WebhookType.ConfirmRollout, Phase, "Confirm-rollout", record: false, async hook =>
                {
                    if (Phase == CanaryPhase.Waiting) return;
                    _status = _status with { Phase = CanaryPhase.Waiting };
                    await WarnAsync($"Halt {p.Id} advancement waiting for approval {hook.Name}");
                    if (!hook.MuteAlert) await AlertAsync("Canary is waiting for approval.", AlertSeverity.Warn);
                }))
                return;

            var before = _status;
            _status = _status with { Phase = CanaryPhase.Progressing }; // the event and its hooks report the new phase
            await InfoAsync($"New revision detected! Scaling up {p.TargetId}");
            await AlertAsync("New revision detected, progressing canary analysis.", AlertSeverity.Info, metadata: true);
            if (!await Succeeded(s.Workload.ScaleUpCanaryAsync(p, ct)))
            {
                _status = before; // retried next tick
                return;
            }
            _status = _status with
            {
                Phase = CanaryPhase.Progressing,
                CanaryWeight = 0,
                FailedChecks = 0,
                Iterations = 0,
                LastAppliedSpec = workload.Revision,
                TrackedConfigs = workload.TrackedConfigs,
                Judge = null,
            };
        }

        private async Task RestartAsync(WorkloadState workload)
        {
            if (workload.Revision == _status.LastPromotedSpec)
            {
                // The target was put back on the primary's revision mid-analysis: there is nothing left to release.
                await InfoAsync($"{p.TargetId} is back on the promoted revision, stopping the analysis");
                if (!await SetRoutesAsync(RouteWeights.AllPrimary)) return;
                if (!await Succeeded(s.Workload.ScaleDownCanaryAsync(p, ct))) return;
                _status = _status with
                {
                    Phase = CanaryPhase.Initialized,
                    FailedChecks = 0,
                    Iterations = 0,
                    LastAppliedSpec = workload.Revision,
                    TrackedConfigs = workload.TrackedConfigs,
                };
                return;
            }
            await InfoAsync($"New revision detected! Restarting analysis for {p.TargetId}");
            if (!await SetRoutesAsync(RouteWeights.AllPrimary)) return;
            _status = _status with
            {
                Phase = CanaryPhase.Progressing,
                FailedChecks = 0,
                Iterations = 0,
                LastAppliedSpec = workload.Revision,
                TrackedConfigs = workload.TrackedConfigs,
                Judge = null,
            };
        }

        // ---- analysis ----

        private enum Verdict
        {
            Pass,
            Fail,
            Hold,

            /// <summary>The judge showed the canary worse than the primary: roll back now (already done).</summary>
            Reject,

            /// <summary>Every check passed and the judge showed the canary not worse than the primary (promoteEarly may promote).</summary>
            PassNotWorse,
        }

        public async Task LookAsync()
        {
            if (p.Suspend || p.Judge is not { } judge || s.Arms is null || Phase is not (CanaryPhase.Progressing or CanaryPhase.WaitingPromotion)) return;
            if (_status.Judge is not { Last: { } last } state || state.Revision != _status.LastAppliedSpec) return;
            var read = await s.Arms.ReadAsync(p, judge.LatencyThresholdMs, ct);
            if (!read.Succeeded) return; // the next tick says why
            var result = Judges.For(judge.Type)!.Evaluate(judge, state, Increment(read.Value!, last));
            if (result.Decision != JudgeDecision.Reject) return;
            var routes = await s.Router.GetRoutesAsync(p, ct);
            if (!routes.Succeeded) return;
            _routes = routes.Value;
            _status = _status with { Judge = result.State with { Revision = _status.LastAppliedSpec, Last = read.Value } };
            RecordJudgeChecks(result);
            await RollbackAsync(Rollback.Judge, result.Metrics.First(m => m.Decision == JudgeDecision.Reject).Explanation);
        }

        /// <summary>What each arm answered between two readings of its cumulative counters.</summary>
        private static ArmCounts Increment(ArmCounts counts, ArmCounts last)
        {
            var primary = counts.Primary - last.Primary;
            var canary = counts.Canary - last.Canary;
            // A counter that went down was reset (its source restarted): everything it holds is new.
            if (primary.Requests < 0 || primary.Errors < 0 || primary.Slow < 0) primary = counts.Primary;
            if (canary.Requests < 0 || canary.Errors < 0 || canary.Slow < 0) canary = counts.Canary;
            return new ArmCounts(primary, canary);
        }

        private void RecordJudgeChecks(JudgeResult result)
        {
            foreach (var m in result.Metrics)
            {
                var check = new AnalysisCheck(Now, "judge", m.Metric, m.CanaryRate, null, null,
                    m.Decision switch { JudgeDecision.Reject => CheckResult.Fail, JudgeDecision.Inconclusive => CheckResult.NoData, _ => CheckResult.Pass },
                    m.Explanation)
                {
                    Details = new Dictionary<string, double>
                    {
                        ["primaryRate"] = m.PrimaryRate, ["canaryRate"] = m.CanaryRate, ["lower"] = m.Lower, ["upper"] = m.Upper,
                        ["evidence"] = m.Evidence, ["rejectAt"] = m.RejectAt, ["margin"] = m.Margin,
                        ["primaryRequests"] = m.PrimaryRequests, ["canaryRequests"] = m.CanaryRequests,
                    },
                };
                _checks.Add(check);
                if (check.Result != CheckResult.Pass) _failing ??= check;
            }
        }

        /// <summary>Reads both arms' counters and lets the judge weigh what came since the last tick.</summary>
        private async Task<Verdict> JudgeArmsAsync(JudgeSettings judge)
        {
            if (s.Arms is null)
            {
                await WarnAsync($"Halt {p.Id} advancement: the {judge.Type} judge needs request counts of the primary and the canary, which this runtime cannot read");
                return Verdict.Fail;
            }
            var read = await s.Arms.ReadAsync(p, judge.LatencyThresholdMs, ct);
            if (!read.Succeeded)
            {
                await WarnAsync($"Halt {p.Id} advancement: the judge cannot read request counts: {read.Error}");
                return Verdict.Fail;
            }
            var counts = read.Value!;
            var state = _status.Judge is { } st && st.Revision == _status.LastAppliedSpec ? st : null;
            if (state?.Last is not { } last)
            {
                // The first reading of an analysis is the baseline: what came before belongs to no canary.
                _status = _status with { Judge = new JudgeState { Revision = _status.LastAppliedSpec, Last = counts } };
                await InfoAsync($"Halt {p.Id} advancement: the judge starts counting now");
                return Verdict.Hold;
            }
            var increment = Increment(counts, last);
            var canary = increment.Canary;
            var result = Judges.For(judge.Type)!.Evaluate(judge, state, increment);
            _status = _status with { Judge = result.State with { Revision = _status.LastAppliedSpec, Last = counts } };
            RecordJudgeChecks(result);
            switch (result.Decision)
            {
                case JudgeDecision.Reject:
                    var why = result.Metrics.First(m => m.Decision == JudgeDecision.Reject);
                    await RollbackAsync(Rollback.Judge, why.Explanation);
                    return Verdict.Reject;
                case JudgeDecision.Inconclusive:
                    // The judge says why it holds: too few requests, or evidence leaning against the canary that needs more data.
                    var held = result.Metrics.FirstOrDefault(m => m.Decision == JudgeDecision.Inconclusive);
                    await InfoAsync(held is null
                        ? $"Halt {p.Id} advancement: too little data for the judge ({canary.Requests:0} canary requests this tick, {judge.MinRequests} needed)"
                        : $"Halt {p.Id} advancement: the judge holds: {held.Explanation}");
                    return Verdict.Hold;
                case JudgeDecision.NonInferior:
                    return Verdict.PassNotWorse;
                default:
                    return Verdict.Pass;
            }
        }

        private async Task<Verdict> PreRolloutAsync()
        {
            await InfoAsync($"Starting canary analysis for {p.TargetId}");
            foreach (var hook in p.HooksOf(WebhookType.PreRollout))
            {
                var result = await CallHookAsync(hook, CanaryPhase.Progressing);
                if (!result.Succeeded)
                {
                    await WarnAsync($"Halt {p.Id} advancement pre-rollout check {hook.Name} failed {result.Error}");
                    return Verdict.Fail;
                }
                await InfoAsync($"Pre-rollout check {hook.Name} passed");
            }
            return Verdict.Pass;
        }

        private async Task<Verdict> AnalyseAsync()
        {
            foreach (var hook in p.HooksOf(WebhookType.Rollout))
            {
                var result = await CallHookAsync(hook, CanaryPhase.Progressing);
                if (!result.Succeeded)
                {
                    await WarnAsync($"Halt {p.Id} advancement external check {hook.Name} failed {result.Error}");
                    return Verdict.Fail;
                }
            }

            var verdict = Verdict.Pass;
            if (p.Judge is { } judge)
            {
                verdict = await JudgeArmsAsync(judge);
                if (verdict == Verdict.Reject) return verdict;
            }
            foreach (var metric in p.Metrics)
            {
                // With a judge, the built-in metrics are compared with the primary instead of fixed thresholds.
                if (p.Judge is not null && metric.IsBuiltin) continue;
                var sample = await s.Metrics.QueryAsync(p, metric, ct);
                var result = await CheckThresholdAsync(metric, sample);
                if (result == Verdict.Fail) verdict = Verdict.Fail;
                else if (result == Verdict.Hold && verdict is (Verdict.Pass or Verdict.PassNotWorse)) verdict = Verdict.Hold;
            }
            return verdict;
        }

        // One metric against its thresholdRange (the judge compares arms instead: JudgeArmsAsync).
        private async Task<Verdict> CheckThresholdAsync(MetricCheck metric, MetricSample sample)
        {
            switch (sample.Kind)
            {
                case MetricSampleKind.Incomplete:
                    // A restart is not a failed check: hold this step and measure again at the next tick.
                    Record(metric, null, CheckResult.NoData, sample.Message);
                    await InfoAsync($"Check of {metric.Name} skipped: {sample.Message}; not counted as a failed check");
                    return Verdict.Hold;
                case MetricSampleKind.Error:
                    Record(metric, null, CheckResult.Error, sample.Message);
                    await WarnAsync($"Metric query failed for {metric.Name}: {sample.Message}");
                    return Verdict.Fail;
                case MetricSampleKind.NoData:
                    Record(metric, null, CheckResult.NoData, sample.Message);
                    var what = metric.IsBuiltin
                        ? $"no values found for {sample.Source} metric {metric.Name} probably {p.TargetId} is not receiving traffic"
                        : $"no values found for custom metric: {metric.Name}";
                    var detail = string.IsNullOrEmpty(sample.Message) ? "" : $": {sample.Message}";
                    switch (metric.OnNoData)
                    {
                        case NoDataPolicy.Pass:
                            await InfoAsync($"Metric {metric.Name} has no data, counted as passed (onNoData: pass)");
                            return Verdict.Pass;
                        case NoDataPolicy.Skip:
                            await InfoAsync($"Halt {p.Id} advancement {what}, holding without a failed check (onNoData: skip)");
                            return Verdict.Hold;
                        default:
                            await WarnAsync($"Halt advancement {what}{detail}");
                            return Verdict.Fail;
                    }
            }

            var value = sample.Value;
            string? failure = null;
            if (metric.Min is { } min && value < min) failure = Describe(metric, value, "<", min);
            else if (metric.Max is { } max && value > max) failure = Describe(metric, value, ">", max);
            Record(metric, value, failure is null ? CheckResult.Pass : CheckResult.Fail, failure);
            if (failure is null) return Verdict.Pass;
            await WarnAsync($"Halt {p.Id} advancement {failure}");
            return Verdict.Fail;
        }

        private string Describe(MetricCheck metric, double value, string op, double bound)
        {
            if (metric.IsBuiltin && metric.Name == MetricCheck.RequestSuccessRate)
                return string.Create(CultureInfo.InvariantCulture, $"success rate {value:F2}% {op} {Go(bound)}%");
            if (metric.IsBuiltin && metric.Name == MetricCheck.RequestDuration)
                return $"request duration {GoDuration.Format(TimeSpan.FromMilliseconds(value))} {op} {GoDuration.Format(TimeSpan.FromMilliseconds(bound))}";
            return string.Create(CultureInfo.InvariantCulture, $"{metric.Name} {value:F2} {op} {Go(bound)}");
        }

        private void Record(MetricCheck metric, double? value, CheckResult result, string? message)
        {
            var check = new AnalysisCheck(Now, "metric", metric.Name, value, metric.Min, metric.Max, result, message);
            _checks.Add(check);
            if (result != CheckResult.Pass) _failing ??= check;
        }

        private async Task<bool> ThresholdReachedAsync()
        {
            if (Phase is not (CanaryPhase.Progressing or CanaryPhase.WaitingPromotion) || _status.FailedChecks < p.Threshold) return false;
            // Fix (b): this runs right after a failed check is counted, so the rollback happens on the tick that reaches it.
            await RollbackAsync(Rollback.Threshold, "");
            return true;
        }

        // ---- advancement ----

        private async Task AdvanceAsync()
        {
            var iterations = p.Iterations;
            // Flagger's kubernetes provider: the Services switch all traffic at once, so the rollout runs as blue/green.
            if (!p.Capabilities.Weights)
            {
                if (p.Match.Count > 0) await WarnAsync($"A/B testing is not supported when using the {p.Provider} provider");
                if (iterations < 1)
                {
                    await WarnAsync($"Progressive traffic is not supported when using the {p.Provider} provider");
                    await WarnAsync("Setting canaryAnalysis.iterations: 10");
                    iterations = 10;
                }
            }

            var strategy = p.Capabilities.Weights ? p.Strategy : DeploymentStrategy.BlueGreen;
            switch (strategy)
            {
                case DeploymentStrategy.ABTesting:
                    await RunABTestingAsync(iterations);
                    return;
                case DeploymentStrategy.BlueGreen:
                    await RunBlueGreenAsync(iterations);
                    return;
            }

            var routes = _routes!.Value;
            var max = p.EffectiveMaxWeight;
            if (WeightPlan.NextStep(p, routes.Canary) <= 0) return;
            // Unlike Flagger, the traffic-increase gate is asked only when there is traffic left to add.
            if (!routes.Mirrored && Phase != CanaryPhase.WaitingPromotion && routes.Canary < max)
            {
                if (!await GatesOpenAsync(WebhookType.ConfirmTrafficIncrease, CanaryPhase.Progressing, "Confirm-traffic-increase", record: true, async hook =>
                    {
                        await WarnAsync($"Halt {p.Id} advancement waiting for traffic increase approval {hook.Name}");
                        if (!hook.MuteAlert) await AlertAsync("Canary traffic increase is waiting for approval.", AlertSeverity.Warn);
                    }))
                    return;
            }

            if (routes.Canary < max)
            {
                RouteWeights next;
                if (p.Mirror && routes.Canary == 0)
                {
                    var step = Math.Min(WeightPlan.NextStep(p, 0), max);
                    next = routes.Mirrored ? new RouteWeights(100 - step, step) : new RouteWeights(100, 0, Mirrored: true);
                }
                else
                {
                    var weight = WeightPlan.NextWeight(p, routes.Canary);
                    next = new RouteWeights(100 - weight, weight);
                }
                if (!await SetRoutesAsync(next)) return;
                await InfoAsync($"Advance {p.Id} canary weight {next.Canary}");
                return;
            }

            if (!await PromotionApprovedAsync(iterations)) return;
            await PromoteAsync();
        }

        private async Task RunABTestingAsync(int iterations)
        {
            if (iterations > _status.Iterations)
            {
                if (!await SetRoutesAsync(new RouteWeights(0, 100))) return;
                _status = _status with { Iterations = _status.Iterations + 1 };
                await InfoAsync($"Advance {p.Id} canary iteration {_status.Iterations}/{iterations}");
                return;
            }
            if (!await PromotionApprovedAsync(iterations)) return;
            if (iterations == _status.Iterations) await PromoteAsync();
        }

        private async Task RunBlueGreenAsync(int iterations)
        {
            var routed = p.Capabilities.Weights;
            if (iterations > _status.Iterations)
            {
                if (routed && p.Mirror && !_routes!.Value.Mirrored)
                    if (!await SetRoutesAsync(new RouteWeights(100, 0, Mirrored: true))) return;
                _status = _status with { Iterations = _status.Iterations + 1 };
                await InfoAsync($"Advance {p.Id} canary iteration {_status.Iterations}/{iterations}");
                return;
            }
            if (!await PromotionApprovedAsync(iterations)) return;
            if (iterations == _status.Iterations)
            {
                if (routed)
                {
                    await InfoAsync(p.Mirror ? "Stop traffic mirroring and route all traffic to canary" : "Routing all traffic to canary");
                    if (!await SetRoutesAsync(new RouteWeights(0, 100))) return;
                }
                _status = _status with { Iterations = _status.Iterations + 1 };
                return;
            }
            await PromoteAsync();
        }

        private async Task<bool> PromotionApprovedAsync(int iterations)
        {
            return await GatesOpenAsync(WebhookType.ConfirmPromotion, CanaryPhase.Progressing, "Confirm-promotion", record: true, async hook =>
            {
                if (Phase != CanaryPhase.WaitingPromotion)
                {
                    _status = _status with { Phase = CanaryPhase.WaitingPromotion };
                    await WarnAsync($"Halt {p.Id} advancement waiting for promotion approval {hook.Name}");
                    if (!hook.MuteAlert) await AlertAsync("Canary promotion is waiting for approval.", AlertSeverity.Warn);
                }
                // Blue/green and A/B testing repeat their last iteration (and its analysis) while they wait.
                if (iterations > 0) _status = _status with { Iterations = Math.Max(0, iterations - 1) };
            });
        }

        private async Task PromoteAsync()
        {
            await InfoAsync($"Copying {p.TargetId} template spec to {p.PrimaryName}.{p.Namespace}");
            if (!await Succeeded(s.Workload.PromoteAsync(p, ct))) return;
            _status = _status with { Phase = CanaryPhase.Promoting };
        }

        private async Task ShiftTrafficToPrimaryAsync()
        {
            if (!p.Capabilities.Weights)
            {
                _status = _status with { Phase = CanaryPhase.Finalising };
                return;
            }
            var routes = _routes!.Value;
            if (p.StepWeightPromotion == 0 || routes.Canary == 0)
            {
                await InfoAsync("Routing all traffic to primary");
                if (!await SetRoutesAsync(RouteWeights.AllPrimary)) return;
                _status = _status with { Phase = CanaryPhase.Finalising };
                return;
            }
            var primary = Math.Min(100, routes.Primary + p.StepWeightPromotion);
            var canary = Math.Max(0, routes.Canary - p.StepWeightPromotion);
            if (!await SetRoutesAsync(new RouteWeights(primary, canary))) return;
            await InfoAsync($"Advance {p.Id} primary weight {primary}");
            if (primary == 100) _status = _status with { Phase = CanaryPhase.Finalising };
        }

        private async Task FinishPromotionAsync()
        {
            if (!await Succeeded(s.Workload.ScaleDownCanaryAsync(p, ct))) return;
            _status = _status with
            {
                Phase = CanaryPhase.Succeeded,
                Iterations = 0,
                LastPromotedSpec = _status.LastAppliedSpec,
            };
            await PostRolloutAsync(CanaryPhase.Succeeded);
            await InfoAsync($"Promotion completed! Scaling down {p.TargetId}");
            await AlertAsync("Canary analysis completed successfully, promotion finished.", AlertSeverity.Info);
        }

        private async Task SkipAnalysisAsync()
        {
            if (!await SetRoutesAsync(RouteWeights.AllPrimary)) return;
            await InfoAsync($"Copying {p.TargetId} template spec to {p.PrimaryName}.{p.Namespace}");
            if (!await Succeeded(s.Workload.PromoteAsync(p, ct))) return;
            if (!await Succeeded(s.Workload.ScaleDownCanaryAsync(p, ct))) return;
            _status = _status with
            {
                Phase = CanaryPhase.Succeeded,
                Iterations = 0,
                FailedChecks = 0,
                LastPromotedSpec = _status.LastAppliedSpec,
            };
            await PostRolloutAsync(CanaryPhase.Succeeded);
            await InfoAsync($"Promotion completed! Canary analysis was skipped for {p.TargetId}");
            await AlertAsync("Canary analysis was skipped, promotion finished.", AlertSeverity.Info);
        }

        // ---- rollback ----

        private enum Rollback
        {
            Threshold,
            Deadline,
            Webhook,
            Manual,
            Judge,
        }

        private async Task RollbackAsync(Rollback reason, string detail)
        {
            // Fix (e): every rollback raises an alert, the progress-deadline one included.
            switch (reason)
            {
                case Rollback.Threshold:
                    await WarnAsync($"Rolling back {p.Id} failed checks threshold reached {_status.FailedChecks}");
                    await AlertAsync($"Failed checks threshold reached {_status.FailedChecks}", AlertSeverity.Error);
                    break;
                case Rollback.Deadline:
                    await WarnAsync($"Rolling back {p.Id} progress deadline exceeded {detail}");
                    await AlertAsync($"Progress deadline exceeded {detail}", AlertSeverity.Error);
                    break;
                case Rollback.Webhook:
                    await WarnAsync($"Rolling back {p.Id} manual webhook invoked");
                    await AlertAsync("Rolling back manual webhook invoked", AlertSeverity.Warn);
                    break;
                case Rollback.Judge:
                    await WarnAsync($"Rolling back {p.Id} the judge found the canary worse than the primary: {detail}");
                    await AlertAsync($"Rolling back: the canary is worse than the primary: {detail}", AlertSeverity.Error);
                    break;
                case Rollback.Manual:
                    await WarnAsync($"Rolling back {p.Id} abort requested by {detail}");
                    await AlertAsync($"Rolling back: abort requested by {detail}", AlertSeverity.Warn);
                    break;
            }

            if (!await SetRoutesAsync(RouteWeights.AllPrimary)) return;
            var before = _status;
            _status = _status with { Phase = CanaryPhase.Failed }; // the event and its hooks report the new phase
            await WarnAsync($"Canary failed! Scaling down {p.Id}");
            if (!await Succeeded(s.Workload.ScaleDownCanaryAsync(p, ct)))
            {
                _status = before; // the rollback is retried next tick, traffic already on the primary
                return;
            }
            _status = _status with { Iterations = 0 };
            await PostRolloutAsync(CanaryPhase.Failed);
        }

        private async Task FailedPromotionAsync(Readiness primary)
        {
            // The primary is broken mid-promotion; the canary is the only healthy copy of the new revision.
            var message = $"{p.PrimaryName}.{p.Namespace} not ready: {primary.Message}";
            await WarnAsync($"Promotion of {p.TargetId} failed, primary not ready: {message}");
            await AlertAsync($"Promotion failed, primary not ready: {message}", AlertSeverity.Error);
            var routes = await s.Router.GetRoutesAsync(p, ct);
            _routes = routes.Value;
            if (!await SetRoutesAsync(new RouteWeights(0, 100))) return;
            _status = _status with { Phase = CanaryPhase.Failed };
            await PostRolloutAsync(CanaryPhase.Failed);
        }

        public async Task FinalizeAsync()
        {
            if (_status.Phase != CanaryPhase.Terminating) _status = _status with { Phase = CanaryPhase.Terminating };
            if (!await Succeeded(s.Workload.RevertAsync(p, ct))) return;
            if (!await Succeeded(s.Router.FinalizeAsync(p, ct))) return;
            _status = _status with { Phase = CanaryPhase.Terminated, CanaryWeight = 0, Iterations = 0 };
            await InfoAsync($"Finalization done! {p.Id}: {p.TargetId} restored");
        }

        // ---- manual actions ----

        private string DisplayPhase => Phase.Length == 0 ? CanaryPhase.Initializing : Phase;

        private async Task ApplyAsync(ManualAction action, string message)
        {
            _actionResult = new ActionResult(action, true, message);
            await InfoAsync(message);
        }

        private async Task RefuseAsync(ManualAction action, string reason)
        {
            var message = $"{char.ToUpperInvariant(action.Verb[0])}{action.Verb[1..]} requested by {action.RequestedBy} refused: {reason}";
            _actionResult = new ActionResult(action, false, message);
            await WarnAsync(message);
        }

        // ---- hooks ----

        private async Task<bool> RollbackHookSignalledAsync()
        {
            foreach (var hook in p.HooksOf(WebhookType.Rollback))
            {
                if (await CallAsync(hook, Phase, record: true))
                {
                    await WarnAsync($"Rollback check {hook.Name} passed");
                    return true;
                }
                await InfoAsync($"Rollback hook {hook.Name} not signaling a rollback");
            }
            return false;
        }

        private async Task PostRolloutAsync(string phase)
        {
            foreach (var hook in p.HooksOf(WebhookType.PostRollout))
            {
                var result = await CallHookAsync(hook, phase);
                if (!result.Succeeded)
                {
                    await WarnAsync($"Post-rollout hook {hook.Name} failed {result.Error}");
                    return;
                }
                await InfoAsync($"Post-rollout check {hook.Name} passed");
            }
        }

        /// <summary>Asks every gate of <paramref name="type"/> in order; the first closed one runs <paramref name="closed"/> and stops.</summary>
        private async Task<bool> GatesOpenAsync(WebhookType type, string phase, string label, bool record, Func<WebhookCheck, Task> closed)
        {
            foreach (var hook in p.HooksOf(type))
            {
                if (!await CallAsync(hook, phase, record))
                {
                    await closed(hook);
                    return false;
                }
                await InfoAsync($"{label} check {hook.Name} passed");
            }
            return true;
        }

        private async Task<bool> CallAsync(WebhookCheck hook, string phase, bool record) =>
            (await CallHookAsync(hook, phase, record)).Succeeded;

        private async Task<WebhookResult> CallHookAsync(WebhookCheck hook, string phase, bool record = true)
        {
            var payload = new WebhookPayload(p.Name, p.Namespace, phase, Checksum(), hook.Metadata);
            var result = await s.Webhooks.CallAsync(hook, payload, ct);
            if (record)
            {
                _checks.Add(new AnalysisCheck(Now, "webhook", hook.Name, result.StatusCode, null, null,
                    result.Succeeded ? CheckResult.Pass : CheckResult.Fail, result.Error));
            }
            return result;
        }

        private string Checksum() =>
            Hashing.Fnv32aHex((_status.LastAppliedSpec ?? "") + "|" +
                string.Join(",", (_status.TrackedConfigs ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal)
                    .Select(kv => $"{kv.Key}={kv.Value}")));

        // ---- effects and records ----

        private async Task<bool> SetRoutesAsync(RouteWeights weights)
        {
            var result = await s.Router.SetRoutesAsync(p, weights, ct);
            if (!result.Succeeded)
            {
                await WarnAsync(result.Error!);
                return false;
            }
            _routes = weights;
            return true;
        }

        private async Task<bool> Succeeded(ValueTask<Outcome> operation)
        {
            var result = await operation;
            if (result.Succeeded) return true;
            await WarnAsync(result.Error!);
            return false;
        }

        private bool DeadlineExceeded(Readiness readiness) =>
            readiness.Stalled || (readiness.WaitingSince is { } since && Now - since >= p.ProgressDeadline);

        private Task InfoAsync(string message) => RecordAsync(EventType.Normal, message);

        private Task WarnAsync(string message) => RecordAsync(EventType.Warning, message);

        private async Task RecordAsync(EventType type, string message)
        {
            var now = Now;
            _events.Add(new CanaryEvent(now, type, message));
            foreach (var hook in p.HooksOf(WebhookType.Event))
            {
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["eventMessage"] = message,
                    ["eventType"] = type.ToString(),
                    ["timestamp"] = now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
                };
                foreach (var (k, v) in hook.Metadata) metadata.TryAdd(k, v);
                var payload = new WebhookPayload(p.Name, p.Namespace, Phase, Checksum(), metadata);
                // Event hooks are fire-and-report: their failure never changes the rollout.
                _ = await s.Webhooks.CallAsync(hook, payload, ct);
            }
        }

        private async Task AlertAsync(string message, AlertSeverity severity, bool metadata = false)
        {
            var alert = new Alert(p.Name, p.Namespace, message, severity, AlertFields(metadata));
            _alerts.Add(alert);
            if (p.Alerts.Count == 0)
            {
                await s.Notifier.PostAsync(null, alert, ct);
                return;
            }
            foreach (var route in p.Alerts)
            {
                // Fix (e): an alert without severity means info, which receives everything (Flagger sends it nothing).
                var wanted = route.Severity switch
                {
                    AlertSeverity.Info => true,
                    AlertSeverity.Warn => severity is AlertSeverity.Warn or AlertSeverity.Error,
                    _ => severity == AlertSeverity.Error,
                };
                if (wanted) await s.Notifier.PostAsync(route.ProviderRef, alert, ct);
            }
        }

        private List<AlertField> AlertFields(bool metadata)
        {
            var fields = new List<AlertField>
            {
                new("Phase", Phase),
                new("Canary weight", (_routes?.Canary ?? _status.CanaryWeight).ToString(CultureInfo.InvariantCulture)),
                new("Failed checks", $"{_status.FailedChecks}/{p.Threshold}"),
            };
            if (_failing is { } f)
            {
                var value = f.Value is { } v ? v.ToString("0.##", CultureInfo.InvariantCulture) : f.Result.ToString().ToLowerInvariant();
                var bounds = string.Join(" ", new[] { f.Min is { } lo ? $"min {Go(lo)}" : null, f.Max is { } hi ? $"max {Go(hi)}" : null }
                    .Where(x => x is not null));
                fields.Add(new AlertField("Failing check", bounds.Length == 0 ? $"{f.Name} {value}" : $"{f.Name} {value} ({bounds})"));
            }
            if (!metadata) return fields;
            fields.Add(new AlertField("Target", $"{p.TargetKind}/{p.TargetId}"));
            fields.Add(new AlertField("Failed checks threshold", p.Threshold.ToString(CultureInfo.InvariantCulture)));
            fields.Add(new AlertField("Progress deadline", $"{(int)p.ProgressDeadline.TotalSeconds}s"));
            var routing = p.Strategy switch
            {
                DeploymentStrategy.ABTesting => "A/B Testing",
                DeploymentStrategy.BlueGreen => "Blue/Green",
                _ when p.StepWeights.Count > 0 => $"Weight steps: {string.Join(",", p.StepWeights)} max: {p.EffectiveMaxWeight}",
                _ => $"Weight step: {p.StepWeight} max: {p.MaxWeight}",
            };
            fields.Add(new AlertField("Traffic routing", routing));
            return fields;
        }

        private IReadOnlyList<CanaryCondition> Conditions(CanaryStatus status)
        {
            var phase = status.Phase ?? "";
            var (state, message) = phase switch
            {
                CanaryPhase.Initialized => ("True", $"{p.TargetKind} initialization completed."),
                CanaryPhase.Waiting or CanaryPhase.WaitingPromotion => ("Unknown", "Waiting for approval."),
                CanaryPhase.Progressing => ("Unknown", "New revision detected, progressing canary analysis."),
                CanaryPhase.Promoting => ("Unknown", "Canary analysis completed, starting primary rolling update."),
                CanaryPhase.Finalising => ("Unknown", "Canary analysis completed, routing all traffic to primary."),
                CanaryPhase.Succeeded => ("True", "Canary analysis completed successfully, promotion finished."),
                CanaryPhase.Failed => ("False", $"Canary analysis failed, {p.TargetKind} scaled to zero."),
                _ => ("Unknown", $"New {p.TargetKind} detected, starting initialization."),
            };
            var current = status.Conditions?.FirstOrDefault(c => c.Type == "Promoted");
            if (current is not null && current.Status == state && current.Reason == phase) return status.Conditions!;
            var transition = current is not null && current.Status == state ? current.LastTransitionTime : Now;
            return [new CanaryCondition { Type = "Promoted", Status = state, Reason = phase, Message = message, LastUpdateTime = Now, LastTransitionTime = transition }];
        }

        private static bool SameProgress(CanaryStatus a, CanaryStatus b) =>
            a.Phase == b.Phase && a.CanaryWeight == b.CanaryWeight && a.FailedChecks == b.FailedChecks && a.Iterations == b.Iterations &&
            a.LastAppliedSpec == b.LastAppliedSpec && a.LastPromotedSpec == b.LastPromotedSpec;

        private static string Go(double d) => d.ToString("R", CultureInfo.InvariantCulture);
    }
}
