namespace Aviary.Demo;

/// <summary>
/// Decides which requests to <c>/</c> fail and how long each one waits, from one injected <see cref="Random"/>
/// (seeded with <c>--seed</c> for reproducible runs). <see cref="Random"/> is not thread-safe, hence the lock.
/// </summary>
internal sealed class FaultInjector(DemoOptions options, Random random)
{
    private readonly Lock _gate = new();

    /// <summary>True for a fraction <see cref="DemoOptions.ErrorRate"/> of calls.</summary>
    public bool ShouldFail()
    {
        if (options.ErrorRate <= 0) return false;
        if (options.ErrorRate >= 1) return true;
        lock (_gate) return random.NextDouble() < options.ErrorRate;
    }

    /// <summary>The latency to add: <see cref="DemoOptions.Latency"/> ± a uniform share of the jitter, never negative.</summary>
    public TimeSpan NextLatency()
    {
        if (options.LatencyJitter <= TimeSpan.Zero) return options.Latency;
        double unit;
        lock (_gate) unit = random.NextDouble() * 2 - 1;
        var latency = options.Latency + options.LatencyJitter * unit;
        return latency > TimeSpan.Zero ? latency : TimeSpan.Zero;
    }
}
