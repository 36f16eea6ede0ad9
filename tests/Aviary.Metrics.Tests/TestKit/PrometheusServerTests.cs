using System.Diagnostics;
using Aviary.Metrics.Tests.Agreement;
using Aviary.TestKit;
using Microsoft.AspNetCore.Http;

namespace Aviary.Metrics.Tests.TestKit;

/// <summary>The shared <see cref="PrometheusServer"/> fixture: scrapes, waits, reloads, and leaves nothing behind.</summary>
[Collection(RealServersCollection.Name)]
public sealed class PrometheusServerTests
{
    private static Task<KestrelApp> ExporterAsync(string name, double value) =>
        KestrelApp.StartAsync(context => context.Request.Path == "/metrics"
            ? context.Response.WriteAsync($"# TYPE {name} gauge\n{name}{{kind=\"test\"}} {value}\n")
            : Task.CompletedTask);

    [Fact]
    public async Task StartAsync_ScrapesTargets_ReloadsAndCleansUpOnDispose()
    {
        await using var first = await ExporterAsync("aviary_fixture_first", 7);
        await using var second = await ExporterAsync("aviary_fixture_second", 9);
        var server = await PrometheusServer.StartAsync(ScrapeTarget.Of("first", new Uri(first.Url, "/metrics")));
        var (pid, dir) = (server.ProcessId, server.Dir);
        try
        {
            Assert.Equal("127.0.0.1", server.Url.Host);
            Assert.Contains("scrape_interval: 1s", await File.ReadAllTextAsync(server.ConfigPath));
            await server.WaitForTargetUpAsync("first");
            Assert.Equal(7, await server.WaitForValueAsync("aviary_fixture_first"));
            Assert.Null(await server.QueryValueAsync("aviary_fixture_second"));

            await server.ReloadAsync([ScrapeTarget.Of("first", first.Url), ScrapeTarget.Of("second", new Uri(second.Url, "/metrics"))]);
            await server.WaitForTargetUpAsync("second");
            Assert.Equal(9, await server.WaitForValueAsync("aviary_fixture_second"));
            Assert.Equal(2, await server.WaitForValueAsync("count(up == 1)", v => v == 2));
        }
        finally
        {
            await server.DisposeAsync();
        }
        Assert.False(Directory.Exists(dir));
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid));
    }

    [Fact]
    public async Task WaitForTargetUpAsync_TargetDown_TimesOutWithTheScrapeError()
    {
        var port = LocalTestBed.FreePort();
        await using var server = await PrometheusServer.StartAsync(new ScrapeTarget("down", $"127.0.0.1:{port}"));
        var error = await Assert.ThrowsAsync<TimeoutException>(() => server.WaitForTargetUpAsync("down", TimeSpan.FromSeconds(10)));
        Assert.Contains($"127.0.0.1:{port}/metrics down", error.Message);
        Assert.Contains("refused", error.Message, StringComparison.OrdinalIgnoreCase);
    }
}
