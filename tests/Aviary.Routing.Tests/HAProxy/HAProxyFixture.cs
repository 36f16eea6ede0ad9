using System.Diagnostics;
using System.Net;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Routing.HAProxy;
using Aviary.Routing.Tests.Contract;
using Aviary.Routing.Tests.Proxy;
using Aviary.TestKit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Routing.Tests.HAProxy;

/// <summary>
/// An <see cref="HAProxyRouter"/> in generate mode in a temporary folder, routing one canary (<c>podinfo.test</c>) on a
/// free port to a primary and a canary <see cref="TestBackend"/>, and a client of that port.
/// </summary>
public sealed class HAProxyFixture : IAsyncDisposable
{
    private HAProxyFixture(HAProxyRouter router, string directory, CanaryPolicy canary, TestBackend primary, TestBackend canaryBackend)
    {
        Router = router;
        Directory = directory;
        Policy = canary;
        Primary = primary;
        Canary = canaryBackend;
        Client = ProxyFixture.NewClient(new Uri($"http://127.0.0.1:{canary.ServicePort}"));
    }

    public const string Service = ContractCanaries.Service;

    public HAProxyRouter Router { get; }
    public string Directory { get; }
    public CanaryPolicy Policy { get; }
    public TestBackend Primary { get; }
    public TestBackend Canary { get; }
    public HttpClient Client { get; }

    /// <summary>A temporary folder with a short path (Unix socket paths are limited to about 100 bytes).</summary>
    public static string NewDirectory() => System.IO.Directory.CreateTempSubdirectory("aviary-hx-").FullName;

    public static HAProxyRouter NewRouter(string directory, Func<HAProxyOptions, HAProxyOptions>? configure = null, ILoggerFactory? logs = null)
    {
        DebianPackages.Ensure("haproxy");
        var options = new HAProxyOptions { StateDirectory = directory };
        return new HAProxyRouter(configure?.Invoke(options) ?? options, TimeProvider.System, logs ?? NullLoggerFactory.Instance);
    }

    public static async Task<HAProxyFixture> StartAsync(Func<HAProxyOptions, HAProxyOptions>? configure = null, ILoggerFactory? logs = null)
    {
        var directory = NewDirectory();
        var router = NewRouter(directory, configure, logs);
        var canary = ContractCanaries.Canary("haproxy", ContractCanaries.FreePort());
        var primary = await TestBackend.StartAsync("primary");
        var canaryBackend = await TestBackend.StartAsync("canary");
        var f = new HAProxyFixture(router, directory, canary, primary, canaryBackend);
        router.SetEndpoints(Service, BackendRole.Primary, [primary.Endpoint("primary-0")]);
        router.SetEndpoints(Service, BackendRole.Canary, [canaryBackend.Endpoint("canary-0")]);
        var reconciled = await router.ReconcileAsync(canary, CancellationToken.None);
        if (!reconciled.Succeeded)
        {
            await f.DisposeAsync();
            Assert.Fail(reconciled.Error);
        }
        return f;
    }

    public async Task SetRoutesAsync(int primary, int canary)
    {
        var result = await Router.SetRoutesAsync(Policy, new RouteWeights(primary, canary), CancellationToken.None);
        Assert.True(result.Succeeded, result.Error);
    }

    public async Task<RouteWeights> GetRoutesAsync()
    {
        var routes = await Router.GetRoutesAsync(Policy, CancellationToken.None);
        Assert.True(routes.Succeeded, routes.Error);
        return routes.Value;
    }

    public async Task FlushAsync()
    {
        var flushed = await Router.FlushAsync(Service, CancellationToken.None);
        Assert.True(flushed.Succeeded, flushed.Error);
    }

    /// <summary>The server slots of the service's backend, by name.</summary>
    public async Task<Dictionary<string, StatRow>> SlotsAsync()
    {
        var stats = await Router.RuntimeApi.ShowServerStatsAsync(Service, CancellationToken.None);
        Assert.True(stats.Succeeded, stats.Error);
        return stats.Value!.ToDictionary(r => r.Name);
    }

    /// <summary>Sends GET requests one after another and counts the answers by body.</summary>
    public async Task<Dictionary<string, int>> CountAsync(int requests)
    {
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < requests; i++)
        {
            using var response = await Client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.Content.ReadAsStringAsync();
            counts[body] = counts.GetValueOrDefault(body) + 1;
        }
        return counts;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Router.DisposeAsync();
        await Primary.DisposeAsync();
        await Canary.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>An HAProxy started by a test with a hand-written configuration (for attach mode and the runtime API client).</summary>
public sealed class ManualHAProxy : IAsyncDisposable
{
    private readonly Process _process;

    private ManualHAProxy(Process process, string directory, string socket)
    {
        _process = process;
        Directory = directory;
        Socket = socket;
        Api = new RuntimeApiClient(socket);
    }

    public string Directory { get; }
    public string Socket { get; }
    public RuntimeApiClient Api { get; }
    public int Pid => _process.Id;

    /// <summary>Starts <c>haproxy -db -f</c> with <paramref name="config"/>, in which <c>{socket}</c> stands for the stats socket.</summary>
    public static async Task<ManualHAProxy> StartAsync(string config)
    {
        DebianPackages.Ensure("haproxy");
        var directory = HAProxyFixture.NewDirectory();
        var socket = Path.Combine(directory, "admin.sock");
        var path = Path.Combine(directory, "haproxy.cfg");
        await File.WriteAllTextAsync(path, config.Replace("{socket}", socket, StringComparison.Ordinal) + "\n");
        var info = new ProcessStartInfo(DebianPackages.Which("haproxy")) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "-db", "-f", path }) info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        var haproxy = new ManualHAProxy(process, directory, socket);
        try
        {
            await Eventually.True(() => process.HasExited || File.Exists(socket));
            if (process.HasExited) Assert.Fail(await stderr);
            var pid = await haproxy.Api.GetPidAsync(CancellationToken.None);
            Assert.True(pid.Succeeded, pid.Error);
            return haproxy;
        }
        catch
        {
            await haproxy.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
