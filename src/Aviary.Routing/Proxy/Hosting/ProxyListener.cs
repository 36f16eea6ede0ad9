using Aviary.Core.Primitives;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Aviary.Routing.Proxy.Hosting;

/// <summary>One Kestrel server listening for one service, without a host or a middleware pipeline around it.</summary>
internal sealed class ProxyListener
{
    private readonly KestrelServer _server;

    private ProxyListener(ServiceBinding binding, KestrelServer server, IReadOnlyList<Uri> addresses)
    {
        Binding = binding;
        _server = server;
        Addresses = addresses;
    }

    public ServiceBinding Binding { get; }

    /// <summary>Where the listener is bound, with the actual port when the binding asked for port 0.</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>Starts listening; an error message (not an exception) when the address is invalid or taken.</summary>
    public static async Task<(ProxyListener? Listener, string? Error)> StartAsync<TContext>(
        ServiceBinding binding, IHttpApplication<TContext> application, ProxyOptions proxyOptions, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
        where TContext : notnull
    {
        if (binding.Port is < 0 or > 65535) return (null, $"port {binding.Port} is outside 0..65535");
        if (ParseAddress(binding.BindAddress) is not { } address)
            return (null, $"bind address '{binding.BindAddress}' is not an IP address, 'localhost' or '*'");

        var options = new KestrelServerOptions { AddServerHeader = false, AllowSynchronousIO = false };
        // A proxy passes bodies of any size through; the instance decides what it accepts.
        options.Limits.MaxRequestBodySize = null;
        options.Listen(address, binding.Port);
        var transport = new SocketTransportFactory(
            Options.Create(new SocketTransportOptions { UnsafePreferInlineScheduling = proxyOptions.InlineScheduling }), loggerFactory);
        var server = new KestrelServer(Options.Create(options), transport, loggerFactory);
        try
        {
            await server.StartAsync(application, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            server.Dispose();
            return (null, e.Message);
        }
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses.Select(a => new Uri(a)).ToArray() ?? [];
        return (new ProxyListener(binding, server, addresses), null);
    }

    private static IPAddress? ParseAddress(string bindAddress) => ListenAddress.ParseHost(bindAddress);

    /// <summary>Stops accepting, lets in-flight requests finish for up to <paramref name="drainTimeout"/>, then aborts the rest.</summary>
    public async Task StopAsync(TimeSpan drainTimeout, TimeProvider time, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(drainTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        try
        {
            await _server.StopAsync(linked.Token).ConfigureAwait(false);
        }
        finally
        {
            _server.Dispose();
        }
    }
}
