using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Tests.Client;

public sealed class KubeRateLimiterTests
{
    [Fact]
    public void Reserve_BurstThenMore_SpacesRequestsAtQps()
    {
        var time = new ManualTime();
        var limiter = new KubeRateLimiter(qps: 10, burst: 3, time);
        Assert.Equal(TimeSpan.Zero, limiter.Reserve());
        Assert.Equal(TimeSpan.Zero, limiter.Reserve());
        Assert.Equal(TimeSpan.Zero, limiter.Reserve());
        // The bucket is empty: each further request reserves the next token, 100 ms apart.
        Assert.Equal(100, limiter.Reserve().TotalMilliseconds, precision: 6);
        Assert.Equal(200, limiter.Reserve().TotalMilliseconds, precision: 6);
        time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal(100, limiter.Reserve().TotalMilliseconds, precision: 6);
    }

    [Fact]
    public void Reserve_AfterQuietPeriod_RefillsUpToBurstOnly()
    {
        var time = new ManualTime();
        var limiter = new KubeRateLimiter(qps: 50, burst: 100, time);
        for (var i = 0; i < 100; i++) Assert.Equal(TimeSpan.Zero, limiter.Reserve());
        Assert.True(limiter.Reserve() > TimeSpan.Zero);
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(100, limiter.Available, precision: 6);
        for (var i = 0; i < 100; i++) Assert.Equal(TimeSpan.Zero, limiter.Reserve());
        Assert.Equal(20, limiter.Reserve().TotalMilliseconds, precision: 6);
    }

    [Fact]
    public async Task WaitAsync_EmptyBucket_CompletesOnlyWhenTheClockReachesTheToken()
    {
        var time = new ManualTime();
        var limiter = new KubeRateLimiter(qps: 5, burst: 1, time);
        await limiter.WaitAsync(CancellationToken.None);
        var second = limiter.WaitAsync(CancellationToken.None).AsTask();
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(199));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await second.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task WaitAsync_Cancelled_GivesItsTokenBack()
    {
        var time = new ManualTime();
        var limiter = new KubeRateLimiter(qps: 1, burst: 1, time);
        await limiter.WaitAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = limiter.WaitAsync(cancel.Token).AsTask();
        Assert.Equal(-1, limiter.Available, precision: 6);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, limiter.Available, precision: 6);
    }

    [Fact]
    public void Reserve_QpsZero_NeverWaits()
    {
        var limiter = new KubeRateLimiter(qps: 0, burst: 1, new ManualTime());
        Assert.False(limiter.Enabled);
        for (var i = 0; i < 1000; i++) Assert.Equal(TimeSpan.Zero, limiter.Reserve());
    }

    [Fact]
    public void Defaults_AreFiftyQpsAndBurstHundred()
    {
        var options = new KubeClientOptions();
        Assert.Equal(100, options.Qps);
        Assert.Equal(200, options.Burst);
    }
}
