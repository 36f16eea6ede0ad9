using System.Net;
using Aviary.Core.Abstractions;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>A <see cref="ProxyServer"/> listening for one service on 127.0.0.1 (port chosen by the system), a primary and a
/// canary <see cref="TestBackend"/> behind it, and an HTTP client pointed at the proxy.</summary>
public sealed class ProxyFixture : IAsyncDisposable
{
    public const string Service = "podinfo.test";

    private ProxyFixture(ProxyServer proxy, TestBackend primary, TestBackend canary, Uri address)
    {
        Proxy = proxy;
        Primary = primary;
        Canary = canary;
        Address = address;
        Client = NewClient(address);
    }

    public ProxyServer Proxy { get; }
    public TestBackend Primary { get; }
    public TestBackend Canary { get; }
    public Uri Address { get; }
    public HttpClient Client { get; }

    public static ServiceBinding Binding { get; } = new(Service, "test", "podinfo", 0);

    public static async Task<ProxyFixture> StartAsync(ProxyOptions? options = null, TimeProvider? time = null, long seed = 42,
        Microsoft.Extensions.Logging.ILoggerFactory? logs = null)
    {
        var proxy = new ProxyServer(options ?? new ProxyOptions(), logs ?? NullLoggerFactory.Instance, time ?? TimeProvider.System, seed);
        var primary = await TestBackend.StartAsync("primary");
        var canary = await TestBackend.StartAsync("canary");
        proxy.SetEndpoints(Service, BackendRole.Primary, [primary.Endpoint()]);
        proxy.SetEndpoints(Service, BackendRole.Canary, [canary.Endpoint()]);
        var listened = await proxy.ListenAsync(Binding, CancellationToken.None);
        Assert.True(listened.Succeeded, listened.Error);
        var address = Assert.Single(proxy.GetListenAddresses(Service));
        return new ProxyFixture(proxy, primary, canary, address);
    }

    public static HttpClient NewClient(Uri address) =>
        new(new SocketsHttpHandler { UseCookies = false, UseProxy = false, AllowAutoRedirect = false, MaxConnectionsPerServer = 64 })
        {
            BaseAddress = address,
            Timeout = TimeSpan.FromSeconds(60),
        };

    public void SetWeights(int primary, int canary) =>
        Proxy.SetRoute(Service, new RouteConfig(new RouteWeights(primary, canary), [], 0, null));

    /// <summary>Sends GET requests one after another and counts which backend answered.</summary>
    public async Task<(int Primary, int Canary)> CountAsync(int requests, string path = "/")
    {
        int p = 0, c = 0;
        for (var i = 0; i < requests; i++)
        {
            using var response = await Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (await response.Content.ReadAsStringAsync() == "canary") c++; else p++;
        }
        return (p, c);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Proxy.DisposeAsync();
        await Primary.DisposeAsync();
        await Canary.DisposeAsync();
    }
}
