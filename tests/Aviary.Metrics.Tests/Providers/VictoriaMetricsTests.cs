using System.Globalization;
using Aviary.Core.Model;
using Aviary.Metrics.Prometheus;
using Aviary.Metrics.Providers;
using Aviary.TestKit;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// A MetricTemplate of <c>type: prometheus</c> pointed at a real VictoriaMetrics (Debian's 1.79): the PromQL path is not
/// tied to one server. Linkerd's counters are imported with timestamps (100 answers per 10 s, 10 of them failures, and
/// their latency buckets), then Flagger's Linkerd queries and the edge cases of one-number answers are asked of it.
/// </summary>
[Collection(RealServersCollection.Name)]
public sealed class VictoriaMetricsTests(VictoriaMetricsTests.Fed victoria) : IClassFixture<VictoriaMetricsTests.Fed>
{
    private IMetricQueryProvider Provider => victoria.Provider;

    private const string SuccessRate = """
        sum(rate(response_total{namespace="test",deployment=~"podinfo",classification!="failure",direction="inbound"}[1m]))
        /
        sum(rate(response_total{namespace="test",deployment=~"podinfo",direction="inbound"}[1m]))
        * 100
        """;

    private const string Latency = """
        histogram_quantile(0.99, sum(rate(response_latency_ms_bucket{namespace="test",deployment=~"podinfo",direction="inbound"}[1m])) by (le))
        """;

    /// <summary>One VictoriaMetrics for the class, fed once, and a <c>type: prometheus</c> provider pointed at it.</summary>
    public sealed class Fed : IAsyncLifetime
    {
        private VictoriaMetricsServer? _server;
        private IMetricQueryProvider? _provider;

        public IMetricQueryProvider Provider => _provider ?? throw new InvalidOperationException("not started");

        public async Task InitializeAsync()
        {
            _server = await VictoriaMetricsServer.StartAsync();
            var created = MetricProviders.Create(new MetricProviderContext(
                new MetricTemplateProvider { Type = "prometheus", Address = _server.Url.ToString() }, new Dictionary<string, string>(), "1m", TimeProvider.System));
            Assert.True(created.Succeeded, created.Error);
            _provider = created.Value;

            // Seven samples 10 s apart ending now: per step 90 successes, 10 failures; latencies 50 ≤ 10 ms, 99 ≤ 100 ms, all ≤ 1 s.
            var now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
            var lines = new List<string>();
            for (var i = 0; i <= 6; i++)
            {
                var t = (now - (6 - i) * 10_000).ToString(CultureInfo.InvariantCulture);
                string Line(string series, int value) => $"{series} {value.ToString(CultureInfo.InvariantCulture)} {t}";
                const string Labels = "namespace=\"test\",deployment=\"podinfo\",direction=\"inbound\"";
                lines.Add(Line($"response_total{{{Labels},classification=\"success\"}}", 90 * i));
                lines.Add(Line($"response_total{{{Labels},classification=\"failure\"}}", 10 * i));
                foreach (var (le, count) in new[] { ("10", 50), ("100", 99), ("1000", 100), ("+Inf", 100) })
                    lines.Add(Line($"response_latency_ms_bucket{{{Labels},le=\"{le}\"}}", count * i));
            }
            await _server.ImportAsync(lines, "response_total{namespace=\"test\"}");
        }

        public async Task DisposeAsync()
        {
            _provider?.Dispose();
            if (_server is not null) await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task SuccessRate_FlaggersLinkerdQuery_TheImportedRatio()
    {
        var result = await Provider.RunQueryAsync(SuccessRate, CancellationToken.None);
        Assert.Equal(QueryResultKind.Value, result.Kind);
        Assert.Equal(90, result.Value, precision: 6);
    }

    [Fact]
    public async Task Latency_FlaggersLinkerdP99_TheBucketBound()
    {
        var result = await Provider.RunQueryAsync(Latency, CancellationToken.None);
        Assert.Equal(QueryResultKind.Value, result.Kind);
        Assert.Equal(100, result.Value, precision: 6);
    }

    [Fact]
    public async Task IsOnline_Answers()
    {
        var online = await Provider.IsOnlineAsync(CancellationToken.None);
        Assert.True(online.Succeeded, online.Error);
    }

    [Theory]
    [InlineData("""sum(rate(response_total{namespace="nowhere"}[1m]))""")]
    [InlineData("vector(0) / 0")]
    public async Task NoSeriesOrNaN_NoData(string query) =>
        Assert.Equal(QueryResultKind.NoData, (await Provider.RunQueryAsync(query, CancellationToken.None)).Kind);

    [Fact]
    public async Task SeveralSeries_ErrorNamingThem()
    {
        var result = await Provider.RunQueryAsync("""sum(rate(response_total{namespace="test"}[1m])) by (classification)""", CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("returned 2 series", result.Message, StringComparison.Ordinal);
        Assert.Contains("classification=", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SyntaxError_ErrorWithTheServersWords()
    {
        var result = await Provider.RunQueryAsync("sum(rate(x[1m])", CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("422", result.Message, StringComparison.Ordinal);
        Assert.Contains("sum(rate(x[1m])", result.Message, StringComparison.Ordinal);
    }
}
