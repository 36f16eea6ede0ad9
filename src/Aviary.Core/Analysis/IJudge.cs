using Aviary.Core.Abstractions;

namespace Aviary.Core.Analysis;

/// <summary>
/// Turns the primary's and the canary's counts into a decision. Pure: state in, state out, no clock or I/O. Chosen by
/// <c>analysis.judge.type</c> through <see cref="Judges"/>; without a judge the scheduler uses Flagger's thresholds.
/// </summary>
public interface IJudge
{
    /// <param name="increment">Counts since the last tick (the difference of two cumulative readings).</param>
    /// <param name="state">What this judge returned last tick for the same revision (null at the start of an analysis).</param>
    JudgeResult Evaluate(JudgeSettings settings, JudgeState? state, ArmCounts increment);
}

public enum JudgeDecision
{
    /// <summary>Too little data to say anything this tick: hold the step (neither a pass nor a failure).</summary>
    Inconclusive,

    /// <summary>Enough data and no evidence against the canary: advance.</summary>
    Continue,

    /// <summary>The canary is shown not worse than the primary beyond the margins (with <c>promoteEarly</c>, promote).</summary>
    NonInferior,

    /// <summary>The canary is shown worse than the primary beyond a margin: roll back now.</summary>
    Reject,
}

/// <summary>The numbers behind a decision for one metric, for the analysis history, events and metrics.</summary>
/// <param name="Metric"><c>request-success-rate</c> (errors) or <c>request-duration</c> (slow requests).</param>
/// <param name="PrimaryRate">Estimated rate of the primary, in percent (errors, or requests slower than the threshold).</param>
/// <param name="CanaryRate">Estimated rate of the canary, in percent.</param>
/// <param name="Lower">Lower confidence bound of the canary-minus-primary difference, percentage points.</param>
/// <param name="Upper">Upper confidence bound of the same difference, percentage points.</param>
/// <param name="Evidence">Evidence against "the canary is not worse" (an e-value; ≥ <paramref name="RejectAt"/> rejects).</param>
/// <param name="RejectAt">The evidence needed to reject (1 / its share of the false-rollback rate).</param>
/// <param name="Margin">The non-inferiority margin, percentage points.</param>
public sealed record JudgeMetricResult(
    string Metric,
    JudgeDecision Decision,
    double PrimaryRate,
    double CanaryRate,
    double Lower,
    double Upper,
    double Evidence,
    double RejectAt,
    double Margin,
    double PrimaryRequests,
    double CanaryRequests,
    string Explanation);

/// <summary>The overall decision (the worst of the metrics'), the state to keep, and the per-metric numbers.</summary>
public sealed record JudgeResult(JudgeDecision Decision, JudgeState State, IReadOnlyList<JudgeMetricResult> Metrics);

/// <summary>A validated <c>analysis.judge</c> with every default applied.</summary>
/// <param name="Type">The judge's name, e.g. <c>sequential</c>.</param>
/// <param name="MaxErrorRateIncrease">Non-inferiority margin of the error rate, percentage points (default 0.5).</param>
/// <param name="MaxLatencyIncrease">Margin of the share of slow requests, percentage points (default 10).</param>
/// <param name="LatencyThresholdMs">A request slower than this is slow (default: request-duration's max, else 500).</param>
/// <param name="FalseRollbackRate">Bound on the chance of rolling back a canary that is not worse, over the whole rollout and all metrics (default 0.01).</param>
/// <param name="PromoteEarly">Promote as soon as non-inferiority is established.</param>
/// <param name="MinRequests">Fewest canary requests in a tick for it not to be inconclusive (default 10).</param>
/// <param name="JudgeErrors">Whether the error rate is judged (request-success-rate is among the metrics).</param>
/// <param name="JudgeLatency">Whether latency is judged (request-duration is among the metrics).</param>
/// <param name="LookInterval">How often the judge also looks between analysis ticks (rolling back only); null: at the ticks only.</param>
public sealed record JudgeSettings(
    string Type,
    double MaxErrorRateIncrease,
    double MaxLatencyIncrease,
    double LatencyThresholdMs,
    double FalseRollbackRate,
    bool PromoteEarly,
    int MinRequests,
    bool JudgeErrors,
    bool JudgeLatency,
    TimeSpan? LookInterval = null);

/// <summary>The judges Aviary has, by <c>analysis.judge.type</c>; an unknown type is a validation error.</summary>
public static class Judges
{
    private static readonly Dictionary<string, IJudge> All = new(StringComparer.Ordinal)
    {
        ["sequential"] = new SequentialJudge(),
    };

    public static IReadOnlyCollection<string> Types => All.Keys;

    public static IJudge? For(string type) => All.GetValueOrDefault(type);
}
