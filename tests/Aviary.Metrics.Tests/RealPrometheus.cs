using Aviary.TestKit;

namespace Aviary.Metrics.Tests;

/// <summary>One real Prometheus for the tests that only query expressions (no scrape targets).</summary>
public sealed class RealPrometheus : IAsyncLifetime
{
    private PrometheusServer? _server;

    public PrometheusServer Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _server = await PrometheusServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}

/// <summary>Tests that start real servers (Prometheus, the router, load) run one class at a time: they share two cores.</summary>
[CollectionDefinition(Name)]
public sealed class RealServersCollection : ICollectionFixture<RealPrometheus>
{
    public const string Name = "real servers";
}
