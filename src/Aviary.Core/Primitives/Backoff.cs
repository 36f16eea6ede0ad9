namespace Aviary.Core.Primitives;

/// <summary>
/// Exponential backoff, the one formula for every retry loop: the wait before retry <c>n</c> (counting from 1) is
/// <see cref="First"/> × <see cref="Factor"/>^(n−1), at most <see cref="Max"/>, then lengthened by a random fraction of
/// itself up to <see cref="Jitter"/> (none without a <see cref="Random"/>).
/// </summary>
public sealed record Backoff(TimeSpan First, TimeSpan Max, double Factor = 2, double Jitter = 0)
{
    /// <summary>The wait before retry <paramref name="retry"/>; zero for the first try (0 or less).</summary>
    public TimeSpan Delay(int retry, Random? random = null)
    {
        if (retry <= 0) return TimeSpan.Zero;
        // Pow overflows to infinity for long runs of failures; Min brings it back to Max.
        var ticks = Math.Min(First.Ticks * Math.Pow(Factor, retry - 1), Max.Ticks);
        if (Jitter > 0 && random is not null) ticks *= 1 + (Jitter * random.NextDouble());
        return TimeSpan.FromTicks((long)ticks);
    }
}
