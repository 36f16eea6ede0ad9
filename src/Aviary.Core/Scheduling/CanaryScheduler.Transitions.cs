using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;

namespace Aviary.Core.Scheduling;

// The tick's transitions: initialization, starting and restarting a rollout, advancing, promoting, rolling back, finalizing.
public sealed partial class CanaryScheduler
{
    private sealed partial class Tick
    {
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

        private async Task PromoteWithoutAnalysisAsync()
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
    }
}
