using System.Net;

namespace Aviary.Demo.Tests;

public sealed class FaultTests
{
    [Fact]
    public async Task Root_ErrorRateWithSeed_FailsThatFractionOf1000Requests()
    {
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { ErrorRate = 0.2, Seed = 42 });

        var statuses = await GetRootAsync(demo, 1000, parallel: 8);

        var failures = statuses.Count(s => s == HttpStatusCode.InternalServerError);
        Assert.Equal(1000, statuses.Count(s => s is HttpStatusCode.OK or HttpStatusCode.InternalServerError));
        // Binomial(1000, 0.2): standard deviation about 12.6; ±50 is four of them.
        Assert.InRange(failures, 150, 250);
    }

    [Fact]
    public async Task Root_SameSeed_SameSequence()
    {
        List<HttpStatusCode> first, second;
        await using (var demo = await RunningDemo.StartAsync(new DemoOptions { ErrorRate = 0.5, Seed = 7 }))
            first = await GetRootAsync(demo, 100, parallel: 1);
        await using (var demo = await RunningDemo.StartAsync(new DemoOptions { ErrorRate = 0.5, Seed = 7 }))
            second = await GetRootAsync(demo, 100, parallel: 1);

        Assert.Equal(first, second);
        Assert.Contains(HttpStatusCode.OK, first);
        Assert.Contains(HttpStatusCode.InternalServerError, first);
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(1.0, 50)]
    public async Task Root_ErrorRateBounds_NoneOrAll(double rate, int expectedFailures)
    {
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { ErrorRate = rate });

        var statuses = await GetRootAsync(demo, 50, parallel: 4);

        Assert.Equal(expectedFailures, statuses.Count(s => s == HttpStatusCode.InternalServerError));
    }

    [Fact]
    public async Task ErrorRate_OnlyRoot_OtherEndpointsUnaffected()
    {
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { ErrorRate = 1 });

        using var health = await demo.Client.GetAsync(new Uri("/healthz", UriKind.Relative));
        using var status = await demo.Client.GetAsync(new Uri("/status/200", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
    }

    [Fact]
    public async Task Root_Latency_AddsIt()
    {
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { Latency = TimeSpan.FromMilliseconds(250) });
        using (await demo.Client.GetAsync(new Uri("/healthz", UriKind.Relative))) { } // warm up the connection

        var started = TimeProvider.System.GetTimestamp();
        using var response = await demo.Client.GetAsync(new Uri("/", UriKind.Relative));
        var elapsed = TimeProvider.System.GetElapsedTime(started);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(240), $"took {elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public void NextLatency_Jitter_StaysWithinBandAndVaries()
    {
        var options = new DemoOptions { Latency = TimeSpan.FromMilliseconds(100), LatencyJitter = TimeSpan.FromMilliseconds(50) };
        var faults = new FaultInjector(options, new Random(1));

        var draws = Enumerable.Range(0, 1000).Select(_ => faults.NextLatency()).ToList();

        Assert.All(draws, d => Assert.InRange(d, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(150)));
        Assert.True(draws.Distinct().Count() > 100);
        Assert.InRange(draws.Average(d => d.TotalMilliseconds), 95, 105);
    }

    [Fact]
    public void NextLatency_JitterLargerThanLatency_NeverNegative()
    {
        var options = new DemoOptions { Latency = TimeSpan.FromMilliseconds(10), LatencyJitter = TimeSpan.FromMilliseconds(100) };
        var faults = new FaultInjector(options, new Random(3));

        Assert.All(Enumerable.Range(0, 1000), _ => Assert.True(faults.NextLatency() >= TimeSpan.Zero));
    }

    private static async Task<List<HttpStatusCode>> GetRootAsync(RunningDemo demo, int count, int parallel)
    {
        var statuses = new HttpStatusCode[count];
        var next = -1;
        var workers = Enumerable.Range(0, parallel).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                using var response = await demo.Client.GetAsync(new Uri("/", UriKind.Relative));
                statuses[i] = response.StatusCode;
            }
        });
        await Task.WhenAll(workers);
        return [.. statuses];
    }
}
