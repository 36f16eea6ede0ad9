namespace Aviary.Routing.Proxy.LoadBalancing;

/// <summary>
/// A lock-free random source shared by every request: SplitMix64 over an atomically incremented counter. Given the
/// same seed and the same order of calls it yields the same numbers, which keeps weighted splits reproducible in tests.
/// </summary>
internal sealed class SharedRandom(long seed)
{
    private long _state = seed;

    public ulong NextUInt64()
    {
        var z = unchecked((ulong)Interlocked.Add(ref _state, unchecked((long)0x9E3779B97F4A7C15UL)));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>A number in [0, <paramref name="maxExclusive"/>); the modulo bias is below 2^-40 for the small bounds used here.</summary>
    public int Next(int maxExclusive) => maxExclusive <= 1 ? 0 : (int)(NextUInt64() % (ulong)maxExclusive);
}
