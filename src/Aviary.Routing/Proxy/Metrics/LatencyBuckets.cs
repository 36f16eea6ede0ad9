namespace Aviary.Routing.Proxy.Metrics;

/// <summary>Linkerd's proxy latency buckets, in milliseconds; the last is +Inf.</summary>
internal static class LatencyBuckets
{
    public static readonly double[] UpperBoundsMs =
    [
        1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000,
        10000, 20000, 30000, 40000, 50000, double.PositiveInfinity,
    ];

    public static int Count => UpperBoundsMs.Length;

    /// <summary>The first bucket whose upper bound is at least <paramref name="ms"/> (Prometheus' <c>le</c>).</summary>
    public static int IndexOf(double ms)
    {
        var bounds = UpperBoundsMs;
        for (var i = 0; i < bounds.Length - 1; i++)
        {
            if (ms <= bounds[i]) return i;
        }
        return bounds.Length - 1;
    }
}
