namespace Aviary.Routing.Tests.Proxy;

/// <summary>The quantile and success-rate helpers compute what Prometheus computes from the same buckets.</summary>
public sealed class TrafficWindowExtensionsTests
{
    private static readonly double[] Bounds =
    [
        1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000,
        10000, 20000, 30000, 40000, 50000, double.PositiveInfinity,
    ];

    private static TrafficWindow Window(long serverErrors, params (double Le, long Count)[] counts)
    {
        var perBucket = new long[Bounds.Length];
        foreach (var (le, count) in counts) perBucket[Array.IndexOf(Bounds, le)] = count;
        return new TrafficWindow(perBucket.Sum(), serverErrors, Bounds, perBucket);
    }

    [Fact]
    public void Quantile_InterpolatesLinearlyInsideTheBucket()
    {
        var window = Window(0, (5, 90), (10, 10));

        // histogram_quantile(0.99): rank 99 is the 9th of 10 in (5, 10] → 5 + 5 * 0.9.
        Assert.Equal(9.5, window.Quantile(0.99)!.Value, 9);
        // rank 50 is the 50th of 90 in (4, 5].
        Assert.Equal(4 + 50.0 / 90, window.Quantile(0.5)!.Value, 9);
        Assert.Equal(10, window.Quantile(1)!.Value, 9);
    }

    [Fact]
    public void Quantile_FirstBucket_StartsAtZero()
    {
        Assert.Equal(0.5, Window(0, (1, 10)).Quantile(0.5)!.Value, 9);
    }

    [Fact]
    public void Quantile_RankInInfBucket_HighestFiniteBound()
    {
        Assert.Equal(50000, Window(0, (double.PositiveInfinity, 3)).Quantile(0.99));
        Assert.Equal(50000, Window(0, (1, 98), (double.PositiveInfinity, 2)).Quantile(0.99));
    }

    [Fact]
    public void Quantile_NoRequests_Null()
    {
        Assert.Null(Window(0).Quantile(0.99));
        Assert.Throws<ArgumentOutOfRangeException>(() => Window(0).Quantile(1.5));
    }

    [Fact]
    public void SuccessRate_PercentOfNon5xx()
    {
        Assert.Equal(98.5, Window(3, (10, 200)).SuccessRate());
        Assert.Equal(0, Window(4, (10, 4)).SuccessRate());
        Assert.Null(Window(0).SuccessRate());
    }
}
