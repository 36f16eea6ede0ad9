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
public sealed partial class CanaryScheduler(SchedulerServices services)
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

    /// <summary>One tick (or look, or finalization) of one canary: the steps in this file, the rest in the partial files beside it.</summary>
    private sealed partial class Tick(SchedulerServices services, CanaryPolicy policy, CanaryStatus initial, CancellationToken cancellationToken)
    {
        private readonly SchedulerServices s = services;
        private readonly CanaryPolicy p = policy;
        private readonly CancellationToken ct = cancellationToken;
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

        /// <summary>
        /// The tick: observe once, then named steps in order, each of which may end the tick (true: it did), then one
        /// outcome (<see cref="Outcome"/>). Manual actions are taken or refused at the step where they can be decided.
        /// </summary>
        public async Task RunAsync()
        {
            if (await SuspendedAsync()) return;
            if (await ObserveAsync() is not { } workload) return;
            if (Phase == CanaryPhase.Initializing)
            {
                await InitializeAsync(workload);
                return;
            }
            if (await RefuseUntimelyActionAsync()) return;
            if (await NothingNewAsync(workload)) return;
            if (await PrimaryNotReadyAsync(workload)) return;
            if (!await ReadRoutesAsync()) return;
            if (await TakeAbortAsync()) return;
            if (await TakeRetryAsync(workload)) return;
            if (await StartWhenIdleAsync(workload)) return;
            if (await RestartOnNewRevisionAsync(workload)) return;
            if (await CanaryNotReadyAsync(workload)) return;
            if (await SkipAnalysisAsync()) return;
            if (await RollbackHookAsync()) return;
            if (await ContinuePromotionAsync()) return;
            if (await ThresholdReachedAsync()) return;
            if (await ActOnVerdictAsync(await AnalyseStepAsync())) return;
            await AdvanceAsync();
        }

        // ---- the steps, in the order the tick runs them ----

        private async Task<bool> SuspendedAsync()
        {
            if (!p.Suspend) return false;
            await InfoAsync("skipping canary run as object is suspended");
            return true;
        }

        /// <summary>The primary exists and routing is in place, then the one observation of the workload; null: the tick ends.</summary>
        private async Task<WorkloadState?> ObserveAsync()
        {
            if (Phase.Length == 0) _status = _status with { Phase = CanaryPhase.Initializing };
            if (!await Succeeded(s.Workload.EnsurePrimaryAsync(p, ct))) return null;
            if (!await Succeeded(s.Router.ReconcileAsync(p, ct))) return null;
            var observed = await s.Workload.ObserveAsync(p, ct);
            if (observed.Succeeded) return observed.Value!;
            await WarnAsync(observed.Error!);
            return null;
        }

        /// <summary>A retry is a failed canary's only action.</summary>
        private bool Retrying => Action is { Kind: ManualActionKind.Retry } && Phase == CanaryPhase.Failed;

        /// <summary>Actions that cannot apply to the canary's phase are refused (pause and resume are the runtime's).</summary>
        private async Task<bool> RefuseUntimelyActionAsync()
        {
            if (Action is { Kind: ManualActionKind.Pause or ManualActionKind.Resume } a)
                await RefuseAsync(a, "pause and resume are handled by the runtime, not the scheduler");
            if (Action is { Kind: ManualActionKind.Retry } r && !Retrying)
            {
                await RefuseAsync(r, $"only a failed canary can be retried ({p.Id} is {DisplayPhase})");
                return true;
            }
            if (Action is { Kind: ManualActionKind.Promote or ManualActionKind.Abort } idle && !CanaryPhase.IsActive(Phase))
            {
                await RefuseAsync(idle, $"no rollout under way: {p.Id} is {DisplayPhase}");
                return true;
            }
            return false;
        }

        /// <summary>No rollout under way and the target runs what was last applied (or went back to the promoted revision).</summary>
        private async Task<bool> NothingNewAsync(WorkloadState workload)
        {
            if (CanaryPhase.IsActive(Phase) || Retrying) return false;
            if (workload.Revision == _status.LastAppliedSpec) return true;
            if (workload.Revision != _status.LastPromotedSpec) return false;
            // The target went back to what the primary runs (a manual rollback): nothing to analyse.
            _status = _status with { LastAppliedSpec = workload.Revision, TrackedConfigs = workload.TrackedConfigs };
            await InfoAsync($"{p.TargetId} is back on the promoted revision, no analysis needed");
            return true;
        }

        private async Task<bool> PrimaryNotReadyAsync(WorkloadState workload)
        {
            if (p.SkipAnalysis || workload.Primary.Ready) return false;
            await WarnAsync($"{p.PrimaryName}.{p.Namespace} not ready: {workload.Primary.Message}");
            if (DeadlineExceeded(workload.Primary))
            {
                if (Phase is CanaryPhase.Promoting or CanaryPhase.Finalising) await FailedPromotionAsync(workload.Primary);
                else await RollbackAsync(Rollback.Deadline, $"{p.PrimaryName}.{p.Namespace} not ready: {workload.Primary.Message}");
            }
            return true;
        }

        private async Task<bool> ReadRoutesAsync()
        {
            var routes = await s.Router.GetRoutesAsync(p, ct);
            if (!routes.Succeeded)
            {
                await WarnAsync(routes.Error!);
                return false;
            }
            _routes = routes.Value;
            return true;
        }

        private RouteWeights Routes => _routes!.Value;

        private async Task<bool> TakeAbortAsync()
        {
            if (Action is not { Kind: ManualActionKind.Abort } abort) return false;
            if (Phase is CanaryPhase.Progressing or CanaryPhase.Waiting or CanaryPhase.WaitingPromotion)
            {
                await ApplyAsync(abort, $"Abort of {p.Id} requested by {abort.RequestedBy}");
                await RollbackAsync(Rollback.Manual, abort.RequestedBy);
            }
            else await RefuseAsync(abort, $"nothing to abort: {p.Id} is {DisplayPhase}");
            return true;
        }

        private async Task<bool> TakeRetryAsync(WorkloadState workload)
        {
            if (!Retrying) return false;
            await ApplyAsync(Action!, $"Retry of {p.Id} requested by {Action!.RequestedBy}: analysing revision {workload.Revision} again");
            await StartRolloutAsync(workload);
            return true;
        }

        /// <summary>Not analysing nor promoting, and a new revision: a rollout starts.</summary>
        private async Task<bool> StartWhenIdleAsync(WorkloadState workload)
        {
            if (Phase is CanaryPhase.Progressing or CanaryPhase.WaitingPromotion or CanaryPhase.Promoting or CanaryPhase.Finalising) return false;
            if (Action is { Kind: ManualActionKind.Promote } early)
                await RefuseAsync(early, $"no analysis to promote: {p.Id} is {DisplayPhase}");
            await StartRolloutAsync(workload);
            return true;
        }

        private async Task<bool> RestartOnNewRevisionAsync(WorkloadState workload)
        {
            if (Phase is not (CanaryPhase.Progressing or CanaryPhase.WaitingPromotion) || workload.Revision == _status.LastAppliedSpec) return false;
            await RestartAsync(workload);
            return true;
        }

        private async Task<bool> CanaryNotReadyAsync(WorkloadState workload)
        {
            if (workload.Canary.Ready) return false;
            var message = $"canary {p.TargetKind.ToLowerInvariant()} {p.TargetId} not ready: {workload.Canary.Message}";
            if (DeadlineExceeded(workload.Canary)) await RollbackAsync(Rollback.Deadline, message);
            else await WarnAsync(message);
            return true;
        }

        /// <summary><c>skipAnalysis</c>: the new revision is promoted at once.</summary>
        private async Task<bool> SkipAnalysisAsync()
        {
            if (!p.SkipAnalysis) return false;
            await PromoteWithoutAnalysisAsync();
            return true;
        }

        /// <summary>A rollback hook that answers OK during an analysis rolls the canary back.</summary>
        private async Task<bool> RollbackHookAsync()
        {
            if (Phase is not (CanaryPhase.Progressing or CanaryPhase.WaitingPromotion) || !await RollbackHookSignalledAsync()) return false;
            await RollbackAsync(Rollback.Webhook, "");
            return true;
        }

        /// <summary>Promoting copies the canary to the primary, Finalising moves traffic back; a late promote is refused.</summary>
        private async Task<bool> ContinuePromotionAsync()
        {
            if (Phase is not (CanaryPhase.Promoting or CanaryPhase.Finalising)) return false;
            if (Action is { Kind: ManualActionKind.Promote } late) await RefuseAsync(late, $"{p.Id} is already being promoted");
            if (Phase == CanaryPhase.Promoting) await ShiftTrafficToPrimaryAsync();
            else await FinishPromotionAsync();
            return true;
        }

        /// <summary>The checks of this step: the pre-rollout gates before the first one (with the judge's baseline), the analysis after.</summary>
        private async Task<Verdict> AnalyseStepAsync()
        {
            var first = Routes.Canary == 0 && _status.Iterations == 0 && !(p.Mirror && Routes.Mirrored);
            if (!first) return await AnalyseAsync();
            var verdict = await PreRolloutAsync();
            if (verdict == Verdict.Pass && p.Judge is { } judge && s.Arms is not null)
            {
                // The judge's baseline: it weighs only what the canary answers from its first step on.
                var baseline = await s.Arms.ReadAsync(p, judge.LatencyThresholdMs, ct);
                if (baseline.Succeeded) _status = _status with { Judge = new JudgeState { Revision = _status.LastAppliedSpec, Last = baseline.Value } };
            }
            return verdict;
        }

        /// <summary>What the verdict decides before the next step: a failed check counted, a hold, an early or a manual promotion.</summary>
        private async Task<bool> ActOnVerdictAsync(Verdict verdict)
        {
            if (verdict == Verdict.Reject) return true;
            // A failed analysis refuses a promote; one that holds (too little data yet) leaves it pending for the next tick,
            // which is often the very next one: a promote's tick runs at once, when little has come in since the last.
            if (Action is { Kind: ManualActionKind.Promote } promote && verdict == Verdict.Fail)
                await RefuseAsync(promote, $"the current analysis of {p.Id} failed, not promoting");
            switch (verdict)
            {
                case Verdict.Fail:
                    _status = _status with { FailedChecks = _status.FailedChecks + 1 };
                    await ThresholdReachedAsync();
                    return true;
                case Verdict.Hold:
                    return true;
                case Verdict.PassNotWorse when p.Judge is { PromoteEarly: true } && Action is null:
                    await InfoAsync($"Promoting {p.Id} early: the judge shows the canary not worse than the primary");
                    if (await PromotionApprovedAsync(p.Iterations)) await PromoteAsync();
                    return true;
            }
            if (Action is not { Kind: ManualActionKind.Promote } now) return false;
            // A person's go-ahead: the remaining steps and the confirm-promotion gates are skipped.
            await ApplyAsync(now, $"Promotion of {p.Id} requested by {now.RequestedBy}: the analysis passed, promoting now");
            await PromoteAsync();
            return true;
        }

    }
}
