using System.Text.RegularExpressions;
using Aviary.Core.Abstractions;
using Aviary.Routing.HAProxy;
using Aviary.Routing.Tests.Contract;
using Aviary.Routing.Tests.Proxy;

namespace Aviary.Routing.Tests.HAProxy;

/// <summary>HAProxy's Prometheus exporter in generate mode, and the label values the metrics layer queries by.</summary>
public sealed class MetricsExporterTests
{
    [Fact]
    public async Task Exporter_AfterTraffic_ResponsesPerSlotWithBackendAndServerLabels()
    {
        var port = ContractCanaries.FreePort();
        await using var f = await HAProxyFixture.StartAsync(o => o with { MetricsPort = port });
        await f.SetRoutesAsync(50, 50);
        await f.CountAsync(20);
        using var failing = await f.Client.GetAsync("/status/503");

        using var client = ProxyFixture.NewClient(new Uri($"http://127.0.0.1:{port}"));
        var text = await client.GetStringAsync("/metrics");

        var labels = f.Router.MetricLabels(HAProxyFixture.Service);
        var responses = PrometheusParser.Parse(text).Find("haproxy_server_http_responses_total", ("proxy", labels.Backend)).ToList();
        double Sum(string server, string code) => responses.Where(s => s.Labels["server"] == server && s.Labels["code"] == code).Sum(s => s.Value);
        Assert.Equal(20, Sum("primary1", "2xx") + Sum("canary1", "2xx"));
        Assert.Equal(1, Sum("primary1", "5xx") + Sum("canary1", "5xx"));
        // Every slot is exported, so a query by the canary pattern sees exactly the canary slots.
        var canaryServers = responses.Select(s => s.Labels["server"]).Where(s => Regex.IsMatch(s, $"^(?:{labels.CanaryServerPattern})$")).Distinct().Order().ToList();
        Assert.Equal(Enumerable.Range(1, 16).Select(i => $"canary{i}").Order(), canaryServers);
        Assert.Contains("haproxy_server_response_time_average_seconds{proxy=\"podinfo.test\",server=\"canary1\"}", text, StringComparison.Ordinal);
        Assert.Equal(404, (int)(await client.GetAsync("/other")).StatusCode);
    }

    [Fact]
    public async Task MetricLabels_GenerateMode_ServiceBackendAndSlotPatterns()
    {
        var directory = HAProxyFixture.NewDirectory();
        try
        {
            await using var router = HAProxyFixture.NewRouter(directory);
            var labels = router.MetricLabels("podinfo.test");

            Assert.Equal(new HAProxyMetricLabels("podinfo.test", "primary[0-9]+", "canary[0-9]+"), labels);
            Assert.Matches($"^(?:{labels.CanaryServerPattern})$", "canary12");
            Assert.DoesNotMatch($"^(?:{labels.CanaryServerPattern})$", "primary1");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task MetricLabels_AttachMode_ConfiguredNames()
    {
        await using var router = new HAProxyRouter(new HAProxyOptions
        {
            Attach = new HAProxyAttachOptions("/tmp/unused.sock", [new HAProxyAttachment("podinfo.test", "web_app", ["blue1", "blue.2"], ["green*"])]),
        }, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);

        var labels = router.MetricLabels("podinfo.test");

        Assert.Equal("web_app", labels.Backend);
        Assert.Equal(@"blue1|blue\.2", labels.PrimaryServerPattern);
        Assert.Equal("green.*", labels.CanaryServerPattern);
    }
}
