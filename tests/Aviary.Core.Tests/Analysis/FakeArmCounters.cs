using Aviary.Core.Abstractions;
using Aviary.Core.Policy;

namespace Aviary.Core.Tests.Analysis;

/// <summary>Cumulative per-arm counts a test grows tick by tick (or resets, as a restarted router would).</summary>
public sealed class FakeArmCounters : IArmCounters
{
    public ArmCounts Counts { get; private set; } = new(ArmSample.Zero, ArmSample.Zero);
    public string? FailWith { get; set; }
    public List<double> Thresholds { get; } = [];

    /// <summary>Adds one tick's traffic: requests, errors and slow requests per arm.</summary>
    public void Serve(ArmSample primary, ArmSample canary) =>
        Counts = new ArmCounts(Add(Counts.Primary, primary), Add(Counts.Canary, canary));

    /// <summary>The source restarted: its counters start again from these.</summary>
    public void Reset(ArmSample primary, ArmSample canary) => Counts = new ArmCounts(primary, canary);

    public ValueTask<Outcome<ArmCounts>> ReadAsync(CanaryPolicy canary, double slowThresholdMs, CancellationToken cancellationToken)
    {
        Thresholds.Add(slowThresholdMs);
        return ValueTask.FromResult(FailWith is { } error ? Outcome<ArmCounts>.Fail(error) : Outcome<ArmCounts>.Ok(Counts));
    }

    private static ArmSample Add(ArmSample a, ArmSample b) => new(a.Requests + b.Requests, a.Errors + b.Errors, a.Slow + b.Slow);
}
