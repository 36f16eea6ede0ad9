namespace Aviary.Core.Simulation;

/// <summary>A clock that only moves when told to: virtual time for simulations and tests.</summary>
public sealed class VirtualClock(DateTimeOffset start) : TimeProvider
{
    /// <summary>The default start of virtual time, fixed so that runs are reproducible.</summary>
    public static readonly DateTimeOffset Epoch = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private DateTimeOffset _now = start;

    public VirtualClock() : this(Epoch) { }

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;

    public void Set(DateTimeOffset time) => _now = time;
}
