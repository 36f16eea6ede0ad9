using System.Globalization;
using Aviary.Core.Abstractions;
using Aviary.Core.Analysis;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Primitives;

namespace Aviary.Core.Scheduling;

// The tick's analysis: the metric checks against their thresholds, the statistical judge, the judge's looks between ticks.
public sealed partial class CanaryScheduler
{
    private sealed partial class Tick
    {
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
    }
}
