using System.Net;
using Aviary.Core.Abstractions;
using Aviary.Core.Simulation;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>The Prometheus exposition (Aviary's and Linkerd's families) and the traffic windows.</summary>
public sealed class MetricsTests
{
    private static PrometheusParser.Exposition Scrape(ProxyServer proxy)
    {
        using var text = new StringWriter();
        proxy.WriteMetrics(text);
        return PrometheusParser.Parse(text.ToString());
    }

    private static async Task SendAsync(ProxyFixture f, string path, int times)
    {
        for (var i = 0; i < times; i++) (await f.Client.GetAsync(path)).Dispose();
    }

    [Fact]
    public async Task WriteMetrics_AfterTraffic_ParsesAndCountsMatch()
    {
        await using var f = await ProxyFixture.StartAsync();
        await SendAsync(f, "/", 10);
        await SendAsync(f, "/status/503", 3);
        await SendAsync(f, "/status/302", 2);
        f.SetWeights(0, 100);
        await SendAsync(f, "/status/404", 4);
        await SendAsync(f, "/", 1);

        var m = Scrape(f.Proxy);
        (string, string) Service = ("service", ProxyFixture.Service), Primary = ("backend", "primary"), Canary = ("backend", "canary");

        Assert.Equal("counter", m.Types["aviary_router_requests_total"]);
        Assert.Equal("histogram", m.Types["aviary_router_request_duration_seconds"]);
        Assert.Equal("gauge", m.Types["aviary_router_in_flight"]);
        Assert.Equal("counter", m.Types["response_total"]);
        Assert.Equal("histogram", m.Types["response_latency_ms"]);

        Assert.Equal(10, m.Sum("aviary_router_requests_total", Service, Primary, ("code", "2xx")));
        Assert.Equal(2, m.Sum("aviary_router_requests_total", Service, Primary, ("code", "3xx")));
        Assert.Equal(3, m.Sum("aviary_router_requests_total", Service, Primary, ("code", "5xx")));
        Assert.Equal(0, m.Sum("aviary_router_requests_total", Service, Primary, ("code", "4xx")));
        Assert.Equal(4, m.Sum("aviary_router_requests_total", Service, Canary, ("code", "4xx")));
        Assert.Equal(1, m.Sum("aviary_router_requests_total", Service, Canary, ("code", "2xx")));
        Assert.Equal(15, m.Sum("aviary_router_request_duration_seconds_count", Service, Primary));
        Assert.Equal(15, m.Sum("aviary_router_request_duration_seconds_bucket", Service, Primary, ("le", "+Inf")));
        Assert.Equal(0, m.Sum("aviary_router_in_flight", Service));

        // Linkerd's families: what Flagger's Linkerd success-rate and latency queries read.
        (string, string) Inbound = ("direction", "inbound"), Ns = ("namespace", "test");
        (string, string) PrimaryDeployment = ("deployment", "podinfo-primary"), CanaryDeployment = ("deployment", "podinfo");
        Assert.Equal(10, m.Sum("response_total", Inbound, Ns, PrimaryDeployment, ("classification", "success"), ("status_code", "200")));
        Assert.Equal(2, m.Sum("response_total", Inbound, Ns, PrimaryDeployment, ("classification", "success"), ("status_code", "302")));
        Assert.Equal(3, m.Sum("response_total", Inbound, Ns, PrimaryDeployment, ("classification", "failure"), ("status_code", "503")));
        Assert.Equal(4, m.Sum("response_total", Inbound, Ns, CanaryDeployment, ("classification", "success"), ("status_code", "404")));
        Assert.Equal(5, m.Sum("response_total", Inbound, Ns, CanaryDeployment));
        Assert.Equal(15, m.Sum("response_latency_ms_count", Inbound, Ns, PrimaryDeployment));
        Assert.Equal(5, m.Sum("response_latency_ms_bucket", Inbound, Ns, CanaryDeployment, ("le", "+Inf")));

        // Buckets ascend and are cumulative.
        var buckets = m.Find("response_latency_ms_bucket", PrimaryDeployment).ToList();
        Assert.Equal(26, buckets.Count);
        Assert.Equal(["1", "2", "3", "4", "5", "10"], buckets.Take(6).Select(b => b.Labels["le"]));
        Assert.Equal("+Inf", buckets[^1].Labels["le"]);
        Assert.True(buckets.Zip(buckets.Skip(1)).All(p => p.First.Value <= p.Second.Value));
        var seconds = m.Find("aviary_router_request_duration_seconds_bucket", Service, Primary).Select(b => b.Labels["le"]).ToList();
        Assert.Equal(["0.001", "0.002", "0.003"], seconds.Take(3));
        Assert.Equal("50", seconds[^2]);
    }

    [Fact]
    public async Task WriteMetrics_LabelValuesEscapedOutputSortedAndStable()
    {
        await using var proxy = new ProxyServer(NullLoggerFactory.Instance, TimeProvider.System);
        var weird = new ServiceBinding("b\"quoted\\back\nslash", "ns\"1", "app\\x", 0);
        Assert.True((await proxy.ListenAsync(weird, CancellationToken.None)).Succeeded);
        Assert.True((await proxy.ListenAsync(new ServiceBinding("a-first", "ns", "a", 0), CancellationToken.None)).Succeeded);

        using var first = new StringWriter();
        proxy.WriteMetrics(first);
        using var second = new StringWriter();
        proxy.WriteMetrics(second);
        var m = PrometheusParser.Parse(first.ToString());

        Assert.Equal(first.ToString(), second.ToString());
        Assert.Contains(m.Samples, s => s.Labels.TryGetValue("service", out var v) && v == weird.Service);
        Assert.Contains(m.Samples, s => s.Labels.TryGetValue("deployment", out var v) && v == "app\\x-primary");
        Assert.Contains(m.Samples, s => s.Labels.TryGetValue("namespace", out var v) && v == "ns\"1");
        var services = m.Find("aviary_router_in_flight").Select(s => (s.Labels["service"], s.Labels["backend"])).ToList();
        Assert.Equal([("a-first", "canary"), ("a-first", "primary"), (weird.Service, "canary"), (weird.Service, "primary")], services);
        // Families in name order, each introduced by HELP and TYPE.
        var families = first.ToString().Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToList();
        Assert.Equal(families.Order(StringComparer.Ordinal), families);
    }

    [Fact]
    public async Task GetTraffic_Windows_CountOnlyTheirSeconds()
    {
        var clock = new VirtualClock();
        await using var f = await ProxyFixture.StartAsync(time: clock);
        await SendAsync(f, "/", 5);
        clock.Advance(TimeSpan.FromSeconds(10));
        await SendAsync(f, "/status/500", 3);

        TrafficWindow Window(TimeSpan window) => f.Proxy.GetTraffic(ProxyFixture.Service, BackendRole.Primary, window);
        Assert.Equal((3, 3), (Window(TimeSpan.FromSeconds(1)).Total, Window(TimeSpan.FromSeconds(1)).ServerErrors));
        Assert.Equal(3, Window(TimeSpan.FromSeconds(10)).Total);   // the current second and the 9 before
        Assert.Equal((8, 3), (Window(TimeSpan.FromSeconds(11)).Total, Window(TimeSpan.FromSeconds(11)).ServerErrors));
        Assert.Equal(8, Window(TimeSpan.FromMinutes(15)).Total);
        Assert.Equal(0, f.Proxy.GetTraffic(ProxyFixture.Service, BackendRole.Canary, TimeSpan.FromMinutes(15)).Total);

        clock.Advance(TimeSpan.FromMinutes(15).Add(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, Window(TimeSpan.FromMinutes(15)).Total);
        await SendAsync(f, "/", 2);
        Assert.Equal(2, Window(TimeSpan.FromMinutes(15)).Total);
        Assert.Equal(100.0, Window(TimeSpan.FromSeconds(1)).SuccessRate());

        // The cumulative counters are not windowed.
        Assert.Equal(10, Scrape(f.Proxy).Sum("aviary_router_request_duration_seconds_count", ("backend", "primary")));
    }

    [Fact]
    public async Task GetTraffic_LatencyHistogram_UsesLinkerdBuckets()
    {
        await using var f = await ProxyFixture.StartAsync();
        await SendAsync(f, "/", 20);

        // The proxy records a request once its response has gone out, which may be just after the client has it.
        var window = await Eventually.Until(() => f.Proxy.GetTraffic(ProxyFixture.Service, BackendRole.Primary, TimeSpan.FromMinutes(1)),
            w => w.LatencyCounts.Sum() == 20, describe: w => $"{w.LatencyCounts.Sum()} requests recorded");

        Assert.Equal(new double[] { 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000,
            10000, 20000, 30000, 40000, 50000, double.PositiveInfinity }, window.LatencyBucketsMs);
        Assert.Equal(20, window.LatencyCounts.Sum());
        Assert.Equal(100.0, window.SuccessRate());
        Assert.InRange(window.Quantile(0.99)!.Value, 0, 50000);
    }

    [Fact]
    public void GetTraffic_UnknownService_Empty()
    {
        var proxy = new ProxyServer(NullLoggerFactory.Instance, TimeProvider.System);
        var window = proxy.GetTraffic("nothing", BackendRole.Canary, TimeSpan.FromMinutes(1));
        Assert.Equal((0, 0), (window.Total, window.ServerErrors));
        Assert.Null(window.SuccessRate());
        Assert.Null(window.Quantile(0.99));
    }
}
