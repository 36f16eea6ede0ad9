using Aviary.Routing.Proxy.Forwarder;
using Aviary.Routing.Proxy.LoadBalancing;
using Microsoft.Extensions.Logging;

namespace Aviary.Routing.Proxy;

/// <summary>What every service of one <see cref="ProxyServer"/> shares: settings, clock, randomness, the connection pool, the log.</summary>
internal sealed record ProxyRuntime(ProxyOptions Options, TimeProvider Time, SharedRandom Random, HttpForwarder Forwarder, ILogger Logger)
{
    public long UnixSecond() => Time.GetUtcNow().ToUnixTimeSeconds();
}
