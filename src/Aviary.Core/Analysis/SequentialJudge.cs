using System.Globalization;
using Aviary.Core.Abstractions;

namespace Aviary.Core.Analysis;

/// <summary>
/// <c>judge: {type: sequential}</c>: an anytime-valid sequential comparison of the canary with the primary over the same
/// ticks. For the error rate and for the share of requests slower than the latency threshold it keeps a mixture
/// e-process on how the events split between the two arms (see <see cref="SplitEvidence"/> and README.md here).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><b>Reject</b> when the evidence against "the canary is worse by at most the margin" reaches
/// <c>1 / (falseRollbackRate / metrics judged)</c>. By Ville's inequality a canary within the margins is rolled back
/// with probability at most <c>falseRollbackRate</c> over the whole rollout, all ticks and all metrics together.</item>
/// <item><b>Inconclusive</b> while fewer than <c>minRequests</c> canary requests (or no primary request) came since the
/// last conclusive tick: small ticks are pooled, so low traffic holds a step for a few ticks instead of forever. Their
/// counts still feed the evidence, so a rejection never waits for them.</item>
/// <item><b>NonInferior</b> when every judged metric's upper confidence bound of the difference is below its margin;
/// otherwise <b>Continue</b>.</item>
/// </list>
/// Pure and deterministic: state in (numbers only, JSON-persisted in <c>status.judge</c>), state out.
/// </remarks>
public sealed class SequentialJudge : IJudge
{
    /// <summary>The metric judged on errors.</summary>
    public const string Errors = "request-success-rate";

    /// <summary>The metric judged on the share of slow requests.</summary>
    public const string Latency = "request-duration";

    private const string CanaryRequests = "canaryRequests", CanaryEvents = "canaryEvents", PrimaryRequests = "primaryRequests",
        PrimaryEvents = "primaryEvents", PendingCanary = "pendingCanaryRequests", PendingPrimary = "pendingPrimaryRequests", Ticks = "ticks";

    /// <summary>
    /// Hold the step (inconclusive) while the evidence against the canary is at least this power of the evidence needed
    /// to reject (¼: an e-value of about 3.8 when 200 rejects): a canary that looks worse gets more data at its current
    /// weight instead of being advanced toward promotion. Holding changes when data arrive, not what the test may
    /// conclude from them, so the false-rollback bound is unaffected. Chosen with bench/detection (0.15–0.5 tried).
    /// </summary>
    internal const double HoldFraction = 0.25;

    public JudgeResult Evaluate(JudgeSettings settings, JudgeState? state, ArmCounts increment)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(increment);
        var judged = (settings.JudgeErrors ? 1 : 0) + (settings.JudgeLatency ? 1 : 0);
        var alpha = settings.FalseRollbackRate / Math.Max(1, judged);
        var logThreshold = Math.Log(1 / alpha);

        var primary = Clean(increment.Primary);
        var canary = Clean(increment.Canary);
        var previous = state?.Metrics;

        var metrics = new Dictionary<string, IReadOnlyDictionary<string, double>>(StringComparer.Ordinal);
        var results = new List<JudgeMetricResult>(judged);
        // The pool of requests since the last conclusive tick is the same for every metric; read it from whichever has it.
        var pooled = previous?.Values.FirstOrDefault(v => v.ContainsKey(PendingCanary));
        var pendingCanary = Get(pooled, PendingCanary) + canary.Requests;
        var pendingPrimary = Get(pooled, PendingPrimary) + primary.Requests;
        var enough = pendingCanary >= settings.MinRequests && pendingCanary > 0 && pendingPrimary > 0;

        foreach (var (name, judge, margin) in new[] { (Errors, settings.JudgeErrors, settings.MaxErrorRateIncrease), (Latency, settings.JudgeLatency, settings.MaxLatencyIncrease) })
        {
            if (!judge) continue;
            var old = previous?.GetValueOrDefault(name);
            var evidence = Restore(old);
            var x = name == Errors ? canary.Errors : canary.Slow;
            var y = name == Errors ? primary.Errors : primary.Slow;
            evidence.Add(canary.Requests, x, primary.Requests, y);
            var totals = new Totals(
                Get(old, CanaryRequests) + canary.Requests, Get(old, CanaryEvents) + x,
                Get(old, PrimaryRequests) + primary.Requests, Get(old, PrimaryEvents) + y);
            var result = Judge(name, margin, settings, alpha, logThreshold, evidence, totals, enough, pendingCanary, pendingPrimary);
            results.Add(result);
            metrics[name] = Save(evidence, totals, Get(old, Ticks) + 1, !enough, pendingCanary, pendingPrimary);
        }

        var decision = results.Count == 0
            ? enough ? JudgeDecision.Continue : JudgeDecision.Inconclusive
            : results.Any(r => r.Decision == JudgeDecision.Reject) ? JudgeDecision.Reject
            : !enough || results.Any(r => r.Decision == JudgeDecision.Inconclusive) ? JudgeDecision.Inconclusive
            : results.All(r => r.Decision == JudgeDecision.NonInferior) ? JudgeDecision.NonInferior
            : JudgeDecision.Continue;
        var newState = (state ?? new JudgeState()) with { Metrics = metrics };
        return new JudgeResult(decision, newState, results);
    }

    private readonly record struct Totals(double CanaryRequests, double CanaryEvents, double PrimaryRequests, double PrimaryEvents)
    {
        public double CanaryRate => CanaryRequests > 0 ? CanaryEvents / CanaryRequests : 0;
        public double PrimaryRate => PrimaryRequests > 0 ? PrimaryEvents / PrimaryRequests : 0;
    }

    private static JudgeMetricResult Judge(string name, double marginPp, JudgeSettings settings, double alpha, double logThreshold,
        SplitEvidence evidence, Totals totals, bool enough, double pendingCanary, double pendingPrimary)
    {
        var margin = marginPp / 100;
        var logEvidence = evidence.LogEvidenceWorse(margin);
        var lower = evidence.Lower(logThreshold);
        var upper = evidence.Upper(logThreshold);
        var leaning = logEvidence >= logThreshold * HoldFraction;
        var decision = logEvidence >= logThreshold ? JudgeDecision.Reject
            : !enough || leaning ? JudgeDecision.Inconclusive
            : upper < margin ? JudgeDecision.NonInferior
            : JudgeDecision.Continue;
        var rejectAt = 1 / alpha;
        // Evidence is reported as a number; beyond 1e300 it would not survive JSON, and nobody needs more digits.
        var e = Math.Exp(Math.Min(logEvidence, 690));

        var what = name == Errors ? "error rate" : $"share of requests slower than {Number(settings.LatencyThresholdMs)}ms";
        var level = Number((1 - alpha) * 100, "0.###");
        var arms = $"canary {Percent(totals.CanaryRate)} ({Count(totals.CanaryEvents)} of {Count(totals.CanaryRequests)} requests) " +
            $"vs primary {Percent(totals.PrimaryRate)} ({Count(totals.PrimaryEvents)} of {Count(totals.PrimaryRequests)})";
        var rates = $"{what}: {arms}";
        var bounds = $"difference {Pp(lower)} to {Pp(upper)} ({level}% confidence)";
        var weighed = $"evidence {Evidence(e)}, {Evidence(rejectAt)} needed to roll back";
        var explanation = decision switch
        {
            JudgeDecision.Reject => $"{rates}; {bounds}: worse by more than the {Number(marginPp)} pp margin ({weighed})",
            JudgeDecision.Inconclusive when enough =>
                $"{rates}; {bounds}: leaning worse than the {Number(marginPp)} pp margin, holding the step for more data ({weighed})",
            JudgeDecision.Inconclusive when pendingPrimary <= 0 =>
                $"{what}: too little data to compare: the primary answered no requests since the last conclusive tick ({Count(pendingCanary)} canary requests)",
            JudgeDecision.Inconclusive =>
                $"{what}: too little data: {Count(pendingCanary)} canary requests since the last conclusive tick, {settings.MinRequests} needed; so far {arms}",
            JudgeDecision.NonInferior => $"{rates}; {bounds}: not worse, within the {Number(marginPp)} pp margin ({weighed})",
            _ => $"{rates}; {bounds}: not shown worse than the {Number(marginPp)} pp margin, not yet shown within it ({weighed})",
        };
        return new JudgeMetricResult(name, decision, totals.PrimaryRate * 100, totals.CanaryRate * 100, lower * 100, upper * 100,
            e, rejectAt, marginPp, totals.PrimaryRequests, totals.CanaryRequests, explanation);
    }

    /// <summary>Counts as the judge can use them: finite, nonnegative, and events no more than requests.</summary>
    private static ArmSample Clean(ArmSample s)
    {
        static double Nonnegative(double v) => double.IsFinite(v) && v > 0 ? v : 0;
        var requests = Nonnegative(s.Requests);
        return new ArmSample(requests, Math.Min(Nonnegative(s.Errors), requests), Math.Min(Nonnegative(s.Slow), requests));
    }

    private static double Get(IReadOnlyDictionary<string, double>? values, string key) =>
        values is not null && values.TryGetValue(key, out var v) && double.IsFinite(v) ? v : 0;

    private static SplitEvidence Restore(IReadOnlyDictionary<string, double>? values)
    {
        var e = new SplitEvidence();
        if (values is null) return e;
        Read(values, WorseLogKeys, WorseExposureKeys, e.WorseLog, e.WorseExposure);
        Read(values, BetterLogKeys, BetterExposureKeys, e.BetterLog, e.BetterExposure);
        return e;
    }

    private static void Read(IReadOnlyDictionary<string, double> values, string[] logKeys, string[] exposureKeys, double[] logs, double[] exposures)
    {
        for (var k = 0; k < logs.Length; k++)
        {
            logs[k] = Get(values, logKeys[k]);
            exposures[k] = Math.Max(0, Get(values, exposureKeys[k]));
        }
    }

    private static Dictionary<string, double> Save(SplitEvidence e, Totals totals, double ticks, bool keepPending, double pendingCanary, double pendingPrimary)
    {
        var values = new Dictionary<string, double>(7 + 2 * (e.WorseLog.Length + e.BetterLog.Length), StringComparer.Ordinal)
        {
            [CanaryRequests] = totals.CanaryRequests,
            [CanaryEvents] = totals.CanaryEvents,
            [PrimaryRequests] = totals.PrimaryRequests,
            [PrimaryEvents] = totals.PrimaryEvents,
            [PendingCanary] = keepPending ? pendingCanary : 0,
            [PendingPrimary] = keepPending ? pendingPrimary : 0,
            [Ticks] = ticks,
        };
        for (var k = 0; k < e.WorseLog.Length; k++)
        {
            values[WorseLogKeys[k]] = e.WorseLog[k];
            values[WorseExposureKeys[k]] = e.WorseExposure[k];
        }
        for (var k = 0; k < e.BetterLog.Length; k++)
        {
            values[BetterLogKeys[k]] = e.BetterLog[k];
            values[BetterExposureKeys[k]] = e.BetterExposure[k];
        }
        return values;
    }

    // State keys: per alternative k, the running log e-value and the exposure (see SplitEvidence).
    private static readonly string[] WorseLogKeys = Keys("worse.log", SplitEvidence.Worse.Length);
    private static readonly string[] WorseExposureKeys = Keys("worse.exposure", SplitEvidence.Worse.Length);
    private static readonly string[] BetterLogKeys = Keys("better.log", SplitEvidence.Better.Length);
    private static readonly string[] BetterExposureKeys = Keys("better.exposure", SplitEvidence.Better.Length);

    private static string[] Keys(string prefix, int count) =>
        Enumerable.Range(0, count).Select(k => string.Create(CultureInfo.InvariantCulture, $"{prefix}.{k}")).ToArray();

    private static string Number(double v, string format = "0.##") => v.ToString(format, CultureInfo.InvariantCulture);

    private static string Count(double v) => v.ToString("#,0", CultureInfo.InvariantCulture);

    private static string Percent(double fraction) => Number(fraction * 100, fraction * 100 < 1 ? "0.###" : "0.##") + "%";

    private static string Pp(double fraction)
    {
        var pp = fraction * 100;
        var text = Number(Math.Abs(pp), Math.Abs(pp) < 1 ? "0.###" : "0.##");
        return (pp < 0 && text != "0" ? "-" : "+") + text + " pp";
    }

    private static string Evidence(double e) =>
        e is >= 1e6 or (> 0 and < 0.01) ? e.ToString("0.#e+0", CultureInfo.InvariantCulture) : e >= 100 ? Count(e) : Number(e);
}
