using System.Diagnostics;
using System.Globalization;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Hooks.Secrets;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Aviary.TestKit;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Aviary.Metrics.Tests.Agreement;

/// <summary>
/// The agreement test: Flagger's Linkerd queries, run verbatim by a real Prometheus on what Aviary's router exports,
/// give the same success rate and p99 as the router's own counters over the same traffic. This is what lets a user
/// move a canary between the local runtime (router counters) and Prometheus without changing its thresholds.
/// </summary>
[Collection(RealServersCollection.Name)]
public sealed class LinkerdAgreementTests(ITestOutputHelper output)
{
    private const string Service = "podinfo.test";
    private const int Workers = 6;

    /// <summary>
    /// How long before the measured traffic the query window starts: inside the quiet gap of <see cref="QuietGap"/>
    /// after the warm-up, so that both windows hold all of the measured traffic and none of the warm-up, even when
    /// the queries run a few seconds late on a loaded machine.
    /// </summary>
    private static readonly TimeSpan LeadIn = TimeSpan.FromSeconds(4);

    private static readonly TimeSpan QuietGap = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task LinkerdQueries_OnBuiltinRouterMetrics_AgreeWithRouterCounters()
    {
        // Primary: fast and healthy. Canary: every 10th request a 500, latencies spread over 2–300 ms (several of
        // Linkerd's buckets: 5, 10, 20, …, 300 and a few above).
        await using var primary = await KestrelApp.StartAsync(context => context.Response.WriteAsync("primary"));
        var random = new Random(7);
        var canaryRequests = 0;
        await using var canary = await KestrelApp.StartAsync(async context =>
        {
            var n = Interlocked.Increment(ref canaryRequests);
            int delay;
            lock (random) delay = random.Next(2, 301);
            await Task.Delay(delay);
            if (n % 10 == 3) context.Response.StatusCode = 500;
            await context.Response.WriteAsync("canary");
        });

        await using var router = new ProxyServer(NullLoggerFactory.Instance, TimeProvider.System);
        router.SetEndpoints(Service, BackendRole.Primary, [new BackendEndpoint("primary-0", primary.Url)]);
        router.SetEndpoints(Service, BackendRole.Canary, [new BackendEndpoint("canary-0", canary.Url)]);
        var listened = await router.ListenAsync(new ServiceBinding(Service, "test", "podinfo", 0), CancellationToken.None);
        Assert.True(listened.Succeeded, listened.Error);
        router.SetRoute(Service, new RouteConfig(new RouteWeights(50, 50), [], 0, null));
        var routerUrl = Assert.Single(router.GetListenAddresses(Service));

        await using var metrics = await KestrelApp.StartAsync(async context =>
        {
            using var text = new StringWriter(CultureInfo.InvariantCulture);
            router.WriteMetrics(text);
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await context.Response.WriteAsync(text.ToString());
        });
        await using var prometheus = await PrometheusServer.StartAsync(ScrapeTarget.Of("aviary", new Uri(metrics.Url, "/metrics")));
        await prometheus.WaitForTargetUpAsync("aviary");

        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = Workers * 2 })
        {
            BaseAddress = routerUrl,
            Timeout = TimeSpan.FromSeconds(30),
        };

        // Warm-up: every series (200 and 500 of the canary, its buckets) exists before the measured window starts,
        // so that each one has a sample at the start of the window (Prometheus' rate sees only increases between samples).
        await TrafficAsync(client, TimeSpan.FromSeconds(5), until: () => Canary(router).ServerErrors >= 5 && Canary(router).Total >= 100);
        await ScrapedAsync(prometheus, router);
        await Task.Delay(QuietGap);

        // The measured traffic, then a wait until Prometheus has scraped its last request.
        var measured = Stopwatch.StartNew();
        var before = Canary(router);
        var sent = await TrafficAsync(client, TimeSpan.FromSeconds(22));
        var after = await ScrapedAsync(prometheus, router);

        // One window for both: from inside the quiet gap before the traffic to now (whole seconds, as the router counts).
        var seconds = (int)Math.Ceiling((measured.Elapsed + LeadIn).TotalSeconds);
        var window = TimeSpan.FromSeconds(seconds);
        var builtin = router.GetTraffic(Service, BackendRole.Canary, window);
        var policy = SchedulerHarness.Compile(SchedulerHarness.Canary($"""
            interval: 30s
            threshold: 5
            maxWeight: 50
            stepWeight: 10
            metrics:
            - name: request-success-rate
              interval: {seconds}s
              thresholdRange:
                min: 99
            - name: request-duration
              interval: {seconds}s
              thresholdRange:
                max: 500
            """, $"provider: linkerd\nmetricsServer: {prometheus.Url}"));
        var fallback = new FakeMetrics();
        using var resolver = new MetricResolver(new MetricResolverOptions(), fallback,
            (_, _, _) => ValueTask.FromResult<Core.Model.MetricTemplate?>(null), new EnvironmentSecrets(), TimeProvider.System);
        var successRate = await resolver.QueryAsync(policy, policy.Metrics[0], CancellationToken.None);
        var duration = await resolver.QueryAsync(policy, policy.Metrics[1], CancellationToken.None);
        // The local runtime's provider, builtin, runs the same queries when the canary has a metrics server.
        var local = policy with { Provider = "builtin" };
        var builtinSuccessRate = await resolver.QueryAsync(local, local.Metrics[0], CancellationToken.None);
        var builtinDuration = await resolver.QueryAsync(local, local.Metrics[1], CancellationToken.None);

        var report = $"""
            window {seconds}s; requests sent {sent}; canary requests in the measured traffic {after.Total - before.Total} (router window {builtin.Total}, {builtin.ServerErrors} 5xx)
            buckets (le → count): {string.Join(", ", builtin.LatencyBucketsMs.Zip(builtin.LatencyCounts).Where(b => b.Second > 0).Select(b => $"{b.First}→{b.Second}"))}
            success rate: prometheus {successRate}, router {builtin.SuccessRate()}
            p99 (ms): prometheus {duration}, router {builtin.Quantile(0.99)}
            """;
        output.WriteLine(report);

        Assert.Empty(fallback.Queries);
        Assert.Equal(after.Total - before.Total, builtin.Total);
        Assert.True(builtin.Total >= 200, report);
        Assert.Equal((MetricSampleKind.Value, "linkerd"), (successRate.Kind, successRate.Source));
        Assert.Equal((MetricSampleKind.Value, "linkerd"), (duration.Kind, duration.Source));
        Assert.Equal(MetricSample.Of(successRate.Value, "builtin"), builtinSuccessRate);
        Assert.Equal(MetricSample.Of(duration.Value, "builtin"), builtinDuration);

        var routerRate = builtin.SuccessRate()!.Value;
        Assert.InRange(routerRate, 85, 95);
        Assert.True(Math.Abs(successRate.Value - routerRate) <= 1, $"success rates differ by more than 1 point\n{report}");

        var routerP99 = builtin.Quantile(0.99)!.Value;
        var bounds = builtin.LatencyBucketsMs;
        var (prometheusBucket, routerBucket) = (BucketOf(duration.Value, bounds), BucketOf(routerP99, bounds));
        Assert.True(Math.Abs(prometheusBucket - routerBucket) <= 1,
            $"p99 in buckets le={bounds[prometheusBucket]} (prometheus) and le={bounds[routerBucket]} (router): not the same or adjacent\n{report}");
        Assert.InRange(routerP99, 100, 5000);
    }

    private static TrafficWindow Canary(ProxyServer router) => router.GetTraffic(Service, BackendRole.Canary, ProxyServer.MaxTrafficWindow);

    /// <summary>The index of the bucket holding <paramref name="ms"/> (the first upper bound at or above it).</summary>
    private static int BucketOf(double ms, IReadOnlyList<double> bounds)
    {
        for (var i = 0; i < bounds.Count; i++)
        {
            if (ms <= bounds[i]) return i;
        }
        return bounds.Count - 1;
    }

    /// <summary>Steady traffic from <see cref="Workers"/> clients for <paramref name="duration"/> (and until <paramref name="until"/> holds).</summary>
    private static async Task<int> TrafficAsync(HttpClient client, TimeSpan duration, Func<bool>? until = null)
    {
        var clock = Stopwatch.StartNew();
        var sent = 0;
        var workers = Enumerable.Range(0, Workers).Select(async _ =>
        {
            while (clock.Elapsed < duration || (until is not null && !until() && clock.Elapsed < duration * 6))
            {
                using var response = await client.GetAsync(new Uri("/", UriKind.Relative));
                await response.Content.ReadAsByteArrayAsync();
                Interlocked.Increment(ref sent);
            }
        }).ToList();
        await Task.WhenAll(workers);
        return sent;
    }

    /// <summary>Waits until Prometheus' latest scrape holds every canary request the router counted.</summary>
    private static async Task<TrafficWindow> ScrapedAsync(PrometheusServer prometheus, ProxyServer router)
    {
        var counted = Canary(router);
        await prometheus.WaitForValueAsync("""sum(response_total{namespace="test",deployment="podinfo",direction="inbound"})""",
            v => v >= counted.Total, TimeSpan.FromSeconds(60));
        return counted;
    }
}
