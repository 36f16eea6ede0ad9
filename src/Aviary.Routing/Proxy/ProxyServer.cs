using System.Collections.Concurrent;
using Aviary.Core.Abstractions;
using Aviary.Routing.Proxy.Forwarder;
using Aviary.Routing.Proxy.Hosting;
using Aviary.Routing.Proxy.LoadBalancing;
using Aviary.Routing.Proxy.Metrics;
using Microsoft.Extensions.Logging;

namespace Aviary.Routing.Proxy;

/// <summary>
/// The built-in router: a reverse proxy on Kestrel with one listener per canary service, forwarding each request to an
/// instance of the primary or the canary by the service's current <see cref="RouteConfig"/>. Connections to instances
/// are pooled across all services. Routing and endpoint changes are atomic swaps of immutable snapshots; the request
/// path takes no lock.
/// </summary>
public sealed class ProxyServer : IProxyRouter
{
    private readonly ConcurrentDictionary<string, ServiceProxy> _services = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly ProxyRuntime _runtime;
    private readonly ILoggerFactory _loggerFactory;
    private bool _disposed;

    /// <param name="options">Timeouts and limits; see <see cref="ProxyOptions"/> for the defaults.</param>
    /// <param name="loggerFactory">Logs under the category <c>Aviary.Routing.Proxy.ProxyServer</c> (and Kestrel's own).</param>
    /// <param name="timeProvider">The clock for timeouts, latencies and traffic windows.</param>
    /// <param name="seed">Seeds the weighted choice and the session cookie values; null draws a random seed.
    /// With a seed, the same sequence of requests gets the same routing.</param>
    public ProxyServer(ProxyOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, long? seed = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();
        _loggerFactory = loggerFactory;
        _runtime = new ProxyRuntime(options, timeProvider, new SharedRandom(seed ?? Random.Shared.NextInt64()),
            new HttpForwarder(options, timeProvider), loggerFactory.CreateLogger<ProxyServer>());
    }

    /// <summary>A proxy with the default <see cref="ProxyOptions"/>.</summary>
    public ProxyServer(ILoggerFactory loggerFactory, TimeProvider timeProvider, long? seed = null)
        : this(new ProxyOptions(), loggerFactory, timeProvider, seed)
    {
    }

    public ProxyOptions Options => _runtime.Options;

    /// <summary>Where the listener of <paramref name="service"/> is bound (with the actual port when the binding asked for 0); empty when not listening.</summary>
    public IReadOnlyList<Uri> GetListenAddresses(string service) =>
        _services.TryGetValue(service, out var proxy) && proxy.Listener is { } listener ? listener.Addresses : [];

    public async Task<Outcome> ListenAsync(ServiceBinding binding, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ArgumentException.ThrowIfNullOrEmpty(binding.Service);
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var proxy = GetOrAdd(binding.Service);
            if (proxy.Listener is { } existing)
            {
                if (existing.Binding == binding) return Outcome.Ok;
                // Moved to another address or port: stop the old listener (letting its requests finish) first.
                await StopAsync(proxy, cancellationToken).ConfigureAwait(false);
            }
            var address = $"{binding.BindAddress}:{binding.Port}";
            var (listener, error) = await ProxyListener.StartAsync(binding, proxy, _runtime.Options, _loggerFactory, cancellationToken).ConfigureAwait(false);
            if (listener is null)
            {
                ProxyLog.ListenFailed(_runtime.Logger, binding.Service, address, error!);
                return Outcome.Fail($"cannot listen for {binding.Service} on {address}: {error}");
            }
            proxy.Binding = binding;
            proxy.Listener = listener;
            ProxyLog.ListenerStarted(_runtime.Logger, binding.Service, string.Join(", ", listener.Addresses));
            return Outcome.Ok;
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    public async Task StopListeningAsync(string service, CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_services.TryGetValue(service, out var proxy)) await StopAsync(proxy, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    private async Task StopAsync(ServiceProxy proxy, CancellationToken cancellationToken)
    {
        if (proxy.Listener is not { } listener) return;
        proxy.Listener = null;
        await listener.StopAsync(_runtime.Options.DrainTimeout, _runtime.Time, cancellationToken).ConfigureAwait(false);
        ProxyLog.ListenerStopped(_runtime.Logger, proxy.Service);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The configuration is invalid (every problem is named).</exception>
    public void SetRoute(string service, RouteConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var model = GetOrAdd(service).SetRoute(config);
        ProxyLog.RouteChanged(_runtime.Logger, service, config.Weights.ToString(), model.Matchers.Length, config.MirrorWeight,
            config.SessionAffinity is not null);
    }

    public RouteConfig GetRoute(string service) =>
        _services.TryGetValue(service, out var proxy) ? proxy.Route.Config : RouteConfig.AllPrimary;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">An id is empty or repeated, or an address is not an absolute http URI.</exception>
    public void SetEndpoints(string service, BackendRole role, IReadOnlyList<BackendEndpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        List<string> errors = [];
        HashSet<string> ids = new(StringComparer.Ordinal);
        foreach (var endpoint in endpoints)
        {
            if (endpoint is null) { errors.Add("null endpoint"); continue; }
            if (string.IsNullOrEmpty(endpoint.Id)) errors.Add("empty endpoint id");
            else if (!ids.Add(endpoint.Id)) errors.Add($"endpoint id '{endpoint.Id}' is repeated");
            if (endpoint.Address is not { IsAbsoluteUri: true, Scheme: "http" })
                errors.Add($"endpoint '{endpoint.Id}': address '{endpoint.Address}' is not an absolute http URI");
        }
        if (errors.Count > 0) throw new ArgumentException("Invalid endpoints: " + string.Join("; ", errors), nameof(endpoints));
        GetOrAdd(service).SetEndpoints(role, endpoints);
        ProxyLog.EndpointsChanged(_runtime.Logger, service, role.ToString(), string.Join(", ", endpoints.Select(e => $"{e.Id}={e.Address}")));
    }

    public IReadOnlyList<BackendEndpoint> GetEndpoints(string service, BackendRole role) =>
        _services.TryGetValue(service, out var proxy) ? Array.ConvertAll(proxy.Pool(role).Endpoints, s => s.Endpoint) : [];

    public async Task<bool> DrainAsync(string service, string endpointId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!_services.TryGetValue(service, out var proxy)) return true;
        var states = proxy.FindEndpoint(endpointId);
        if (states.Count == 0) return true;
        var idle = Task.WhenAll(states.Select(s => s.WhenIdleAsync()));
        try
        {
            if (!idle.IsCompleted) await idle.WaitAsync(timeout, _runtime.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            ProxyLog.DrainTimedOut(_runtime.Logger, service, endpointId, states.Sum(s => s.InFlight), timeout);
            return false;
        }
        proxy.ForgetDrained();
        ProxyLog.Drained(_runtime.Logger, service, endpointId);
        return true;
    }

    /// <inheritdoc/>
    /// <remarks>The window is rounded up to whole seconds (the current second counts as one) and capped at
    /// <see cref="MaxTrafficWindow"/>. Latency is the time until the instance's response headers (time to first byte).</remarks>
    public TrafficWindow GetTraffic(string service, BackendRole role, TimeSpan window)
    {
        var seconds = (int)Math.Min(Math.Ceiling(Math.Max(0, window.TotalSeconds)), BackendMetrics.HistorySeconds);
        if (!_services.TryGetValue(service, out var proxy)) // not counted yet at all
            return new TrafficWindow(0, 0, LatencyBuckets.UpperBoundsMs, new long[LatencyBuckets.Count]) { Complete = false };
        return proxy.MetricsOf(role).Window(seconds, _runtime.UnixSecond());
    }

    public TrafficWindow GetTotals(string service, BackendRole role)
    {
        if (!_services.TryGetValue(service, out var proxy))
            return new TrafficWindow(0, 0, LatencyBuckets.UpperBoundsMs, new long[LatencyBuckets.Count]);
        var metrics = proxy.MetricsOf(role);
        var classes = metrics.ClassCounts();
        var (buckets, _) = metrics.Histogram();
        return new TrafficWindow(classes.Sum(), classes[4], LatencyBuckets.UpperBoundsMs, buckets);
    }

    /// <summary>The longest window <see cref="GetTraffic"/> answers for (a little over 15 minutes).</summary>
    public static TimeSpan MaxTrafficWindow { get; } = TimeSpan.FromSeconds(BackendMetrics.HistorySeconds - 1);

    public void WriteMetrics(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        List<BackendSeries> series = [];
        foreach (var proxy in _services.Values)
        {
            if (proxy.Binding is not { } binding) continue;
            series.Add(new BackendSeries(proxy.Service, binding.Namespace, binding.Target + "-primary", BackendRole.Primary, proxy.PrimaryMetrics));
            series.Add(new BackendSeries(proxy.Service, binding.Namespace, binding.Target, BackendRole.Canary, proxy.CanaryMetrics));
        }
        PrometheusText.Write(writer, series);
    }

    private ServiceProxy GetOrAdd(string service)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        return _services.GetOrAdd(service, static (name, runtime) => new ServiceProxy(name, runtime), _runtime);
    }

    /// <summary>Stops every listener (letting in-flight requests finish up to the drain timeout) and closes pooled connections.</summary>
    public async ValueTask DisposeAsync()
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
            await Task.WhenAll(_services.Values.Select(p => StopAsync(p, CancellationToken.None))).ConfigureAwait(false);
            _runtime.Forwarder.Dispose();
        }
        finally
        {
            _lifecycle.Release();
        }
    }
}
