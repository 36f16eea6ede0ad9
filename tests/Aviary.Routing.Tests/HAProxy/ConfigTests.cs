using System.Diagnostics;
using Aviary.Routing.HAProxy;
using Aviary.TestKit;

namespace Aviary.Routing.Tests.HAProxy;

/// <summary>The configuration of generate mode: the lines that matter, and HAProxy's own check of it.</summary>
public sealed class ConfigTests
{
    private static readonly HAProxyPaths Paths = new("/tmp/aviary-hx-test");

    private static string Render(HAProxyOptions? options = null, params GeneratedService[] services) =>
        HAProxyConfig.Render(options ?? new HAProxyOptions { StateDirectory = Paths.Directory }, Paths, services);

    private static IReadOnlyList<string> Section(string config, string header)
    {
        var lines = config.Split('\n');
        var start = Array.IndexOf(lines, header);
        Assert.True(start >= 0, $"no '{header}' in\n{config}");
        return lines.Skip(start + 1).TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
    }

    [Fact]
    public void Render_Global_AdminSocketInStateDirectoryAndServerStateFile()
    {
        var global = Section(Render(), "global");

        Assert.Contains("stats socket /tmp/aviary-hx-test/haproxy.sock mode 600 level admin", global);
        Assert.Contains("server-state-file /tmp/aviary-hx-test/server-state", global);
        Assert.Contains("hard-stop-after 300000ms", global);
    }

    [Fact]
    public void Render_Defaults_HttpRoundRobinTimeoutsRetriesAndStateLoading()
    {
        var defaults = Section(Render(new HAProxyOptions { StateDirectory = Paths.Directory, ConnectTimeout = TimeSpan.FromSeconds(2), ServerTimeout = TimeSpan.FromSeconds(30) }), "defaults");

        foreach (var line in new[]
        {
            "mode http", "balance roundrobin", "timeout connect 2000ms", "timeout server 30000ms", "timeout client 100000ms",
            "timeout http-keep-alive 60000ms", "retries 3", "option redispatch 1", "retry-on conn-failure empty-response",
            "load-server-state-from-file global",
        })
        {
            Assert.Contains(line, defaults);
        }
    }

    [Fact]
    public void Render_Service_FrontendOnItsPortAndBackendOfDisabledSlots()
    {
        var config = Render(new HAProxyOptions { StateDirectory = Paths.Directory, SlotsPerRole = 4 }, new GeneratedService("podinfo.test", "podinfo.test", 9898));

        Assert.Equal(["bind 127.0.0.1:9898", "default_backend podinfo.test"], Section(config, "frontend fe_podinfo.test"));
        Assert.Equal(
            ["server-template primary 1-4 127.0.0.1:1 disabled", "server-template canary 1-4 127.0.0.1:1 disabled"],
            Section(config, "backend podinfo.test").Where(l => !l.StartsWith('#')));
    }

    [Fact]
    public void Render_MetricsPort_PrometheusExporterFrontendOnLoopback()
    {
        var config = Render(new HAProxyOptions { StateDirectory = Paths.Directory, MetricsPort = 9101 });

        var frontend = Section(config, "frontend aviary_metrics");
        Assert.Equal("bind 127.0.0.1:9101", frontend[0]);
        Assert.Contains("http-request use-service prometheus-exporter if { path /metrics }", frontend);
        Assert.DoesNotContain("aviary_metrics", Render());
    }

    [Fact]
    public void Render_SeveralServices_OrderedByBackend()
    {
        var config = Render(null, new GeneratedService("b.test", "b.test", 2), new GeneratedService("a.test", "a.test", 1));

        Assert.True(config.IndexOf("backend a.test", StringComparison.Ordinal) < config.IndexOf("backend b.test", StringComparison.Ordinal));
        Assert.Contains("bind 127.0.0.1:2", Section(config, "frontend fe_b.test"));
    }

    [Fact]
    public async Task Render_CheckedByHAProxy_Valid()
    {
        DebianPackages.Ensure("haproxy");
        var directory = HAProxyFixture.NewDirectory();
        try
        {
            var paths = new HAProxyPaths(directory);
            var options = new HAProxyOptions { StateDirectory = directory, MetricsPort = 9101 };
            await File.WriteAllTextAsync(paths.Config, HAProxyConfig.Render(options, paths,
                [new GeneratedService("podinfo.test", "podinfo.test", 9898), new GeneratedService("other.test", "other.test", 9899)]));
            await File.WriteAllTextAsync(paths.ServerState, "1\n");
            var info = new ProcessStartInfo(DebianPackages.Which("haproxy")) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var arg in new[] { "-c", "-f", paths.Config }) info.ArgumentList.Add(arg);
            using var check = Process.Start(info)!;
            var output = await check.StandardOutput.ReadToEndAsync() + await check.StandardError.ReadToEndAsync();
            await check.WaitForExitAsync();

            Assert.True(check.ExitCode == 0, output);
            Assert.DoesNotContain("WARNING", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Reconcile_WritesConfigWithTheService()
    {
        await using var f = await HAProxyFixture.StartAsync();

        var config = await File.ReadAllTextAsync(f.Router.ConfigPath!);

        Assert.Contains($"bind 127.0.0.1:{f.Policy.ServicePort}", Section(config, "frontend fe_podinfo.test"));
        Assert.Contains("server-template canary 1-16 127.0.0.1:1 disabled", Section(config, "backend podinfo.test"));
        Assert.Equal(Path.Combine(f.Directory, "haproxy.sock"), f.Router.SocketPath);
    }

    [Fact]
    public void Options_Invalid_EveryProblemNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => new HAProxyOptions
        {
            SlotsPerRole = 0, MetricsPort = 70000, ConnectTimeout = TimeSpan.Zero, BindAddress = "localhost",
        }.Validate());

        foreach (var part in new[] { "StateDirectory", "SlotsPerRole", "MetricsPort", "ConnectTimeout", "BindAddress" })
            Assert.Contains(part, e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new HAProxyOptions { StateDirectory = "/tmp/" + new string('x', 120) }.Validate());
        Assert.Throws<ArgumentException>(() => new HAProxyOptions
        {
            Attach = new HAProxyAttachOptions("/tmp/x.sock", [new HAProxyAttachment("a.b", "be", ["blue*x"], [])]),
        }.Validate());
    }
}
