using Aviary.Core.Policy;

namespace Aviary.Core.Abstractions;

/// <summary>
/// Cumulative request counts of the primary and the canary, as counters (they only grow, until the source restarts):
/// what a statistical judge compares. From the built-in router's own counters, or from Prometheus.
/// </summary>
public interface IArmCounters
{
    /// <param name="slowThresholdMs">A request slower than this counts as slow.</param>
    ValueTask<Outcome<ArmCounts>> ReadAsync(CanaryPolicy canary, double slowThresholdMs, CancellationToken cancellationToken);
}

/// <summary>Counts of one arm: requests answered, of which 5xx, and of which slower than the threshold.</summary>
public readonly record struct ArmSample(double Requests, double Errors, double Slow)
{
    public static ArmSample Zero => default;

    public static ArmSample operator -(ArmSample a, ArmSample b) => new(a.Requests - b.Requests, a.Errors - b.Errors, a.Slow - b.Slow);

    public static ArmSample operator +(ArmSample a, ArmSample b) => new(a.Requests + b.Requests, a.Errors + b.Errors, a.Slow + b.Slow);
}

/// <summary>Cumulative counts of both arms read at one moment.</summary>
public sealed record ArmCounts(ArmSample Primary, ArmSample Canary);
