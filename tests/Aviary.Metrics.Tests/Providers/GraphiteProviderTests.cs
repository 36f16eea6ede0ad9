using System.Globalization;
using Aviary.Core.Model;
using Aviary.Metrics.Providers;
using Aviary.TestKit;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// <c>type: graphite</c> against a real Graphite (Debian's carbon-cache and graphite-web, <see cref="GraphiteServer"/>),
/// fed through carbon's plaintext protocol: two pods' success and total counts per 10 s, then render queries as
/// Flagger's documentation writes them (multi-line, functions of wildcards).
/// </summary>
[Collection(RealServersCollection.Name)]
public sealed class GraphiteProviderTests(GraphiteProviderTests.Fed graphite) : IClassFixture<GraphiteProviderTests.Fed>
{
    private GraphiteServer Server => graphite.Server;

    /// <summary>One Graphite for the class, fed once.</summary>
    public sealed class Fed : IAsyncLifetime
    {
        private GraphiteServer? _server;

        public GraphiteServer Server => _server ?? throw new InvalidOperationException("not started");

        public async Task InitializeAsync()
        {
            _server = await GraphiteServer.StartAsync();
            var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
            var lines = new List<string>();
            for (var i = 0; i < 6; i++)
            {
                var t = (now - 60 + i * 10).ToString(CultureInfo.InvariantCulture);
                foreach (var pod in new[] { "a", "b" })
                {
                    lines.Add($"podinfo.test.{pod}.success 45 {t}");
                    lines.Add($"podinfo.test.{pod}.total 50 {t}");
                }
            }
            await _server.SendAsync(lines, "sumSeries(podinfo.test.*.total)");
        }

        public async Task DisposeAsync()
        {
            if (_server is not null) await _server.DisposeAsync();
        }
    }

    private IMetricQueryProvider Provider()
    {
        var created = MetricProviders.Create(new MetricProviderContext(
            new MetricTemplateProvider { Type = "graphite", Address = Server.Url.ToString() }, new Dictionary<string, string>(), "1m", TimeProvider.System));
        Assert.True(created.Succeeded, created.Error);
        return created.Value!;
    }

    [Fact]
    public async Task RunQuery_MultiLineRenderQuery_TheLastValue()
    {
        using var provider = Provider();
        var result = await provider.RunQueryAsync("""
            target=asPercent(
              sumSeries(podinfo.test.*.success),
              sumSeries(podinfo.test.*.total)
            )&from=-5min
            """, CancellationToken.None);

        Assert.Equal(QueryResultKind.Value, result.Kind);
        Assert.Equal(90, result.Value, precision: 6);
    }

    [Fact]
    public async Task RunQuery_NoSuchSeries_NoData()
    {
        using var provider = Provider();
        Assert.Equal(QueryResultKind.NoData, (await provider.RunQueryAsync("target=nothing.here&from=-5min", CancellationToken.None)).Kind);
    }

    [Fact]
    public async Task RunQuery_BadFunction_ErrorWithGraphitesStatus()
    {
        using var provider = Provider();
        var result = await provider.RunQueryAsync("target=noSuchFunction(podinfo.test.a.total)&from=-5min", CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("graphite at http://127.0.0.1:", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IsOnline_RealServer_Online()
    {
        using var provider = Provider();
        var online = await provider.IsOnlineAsync(CancellationToken.None);
        Assert.True(online.Succeeded, online.Error);
    }

    [Fact]
    public void RenderPath_WhitespaceCollapsedAndFormatJson() =>
        Assert.Equal("/render?target=sumSeries%28a.%2A%29%20&from=-1min&format=json",
            GraphiteProvider.RenderPath("target=sumSeries(a.*)\n   &from=-1min&format=raw"));
}
