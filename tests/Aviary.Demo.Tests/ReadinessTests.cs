using System.Net;

namespace Aviary.Demo.Tests;

public sealed class ReadinessTests
{
    [Fact]
    public async Task Readyz_NoDelay_ReadyAtOnce()
    {
        await using var demo = await RunningDemo.StartAsync();

        using var response = await demo.Client.GetAsync(new Uri("/readyz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Readyz_ReadyDelay_NotReadyUntilItPasses()
    {
        var clock = new ManualClock();
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { ReadyDelay = TimeSpan.FromSeconds(10) }, clock);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadyzAsync(demo));
        clock.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadyzAsync(demo));
        clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(HttpStatusCode.OK, await ReadyzAsync(demo));
    }

    [Fact]
    public async Task Readyz_ReadyDelayRealClock_BecomesReady()
    {
        var since = TimeProvider.System.GetTimestamp();
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { ReadyDelay = TimeSpan.FromSeconds(1) });

        // Not ready before the delay (shown with a manual clock above); with the real clock, ready once it has passed.
        // No "unavailable at first" here: on a busy machine the start alone can take longer than the delay.
        await Eventually.True(async () => await ReadyzAsync(demo) == HttpStatusCode.OK);
        Assert.True(TimeProvider.System.GetElapsedTime(since) >= TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Readyz_NeverReady_StaysUnavailable()
    {
        var clock = new ManualClock();
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { NeverReady = true }, clock);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadyzAsync(demo));
        clock.Advance(TimeSpan.FromDays(1));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadyzAsync(demo));
        using var health = await demo.Client.GetAsync(new Uri("/healthz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    private static async Task<HttpStatusCode> ReadyzAsync(RunningDemo demo)
    {
        using var response = await demo.Client.GetAsync(new Uri("/readyz", UriKind.Relative));
        return response.StatusCode;
    }
}
