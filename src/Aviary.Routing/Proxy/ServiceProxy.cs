using Aviary.Routing.Proxy.Configuration;
using Aviary.Routing.Proxy.Forwarder;
using Aviary.Routing.Proxy.Hosting;
using Aviary.Routing.Proxy.LoadBalancing;
using Aviary.Routing.Proxy.Metrics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Abstractions;
using Microsoft.AspNetCore.Http.Features;

namespace Aviary.Routing.Proxy;

/// <summary>
/// Everything the proxy knows about one service: its listener, the current <see cref="RouteModel"/>, the instances of
/// both backends and their counters — and the request pipeline itself (Kestrel calls <see cref="ProcessRequestAsync"/>).
/// Per request: read the route once, choose a backend (match, session cookie, weighted draw), pick the least busy of two
/// random instances, forward (retrying once elsewhere when no connection could be made), count, and maybe mirror.
/// </summary>
internal sealed class ServiceProxy : IHttpApplication<RequestContext>
{
    private readonly ProxyRuntime _runtime;
    private readonly Lock _gate = new();
    private readonly List<EndpointState> _retired = [];
    private RouteModel _route = RouteModel.Initial;
    private int _mirrorsInFlight;

    public ServiceProxy(string service, ProxyRuntime runtime)
    {
        Service = service;
        _runtime = runtime;
        var frequency = runtime.Time.TimestampFrequency;
        PrimaryMetrics = new BackendMetrics(frequency, runtime.UnixSecond());
        CanaryMetrics = new BackendMetrics(frequency, runtime.UnixSecond());
    }

    public string Service { get; }

    /// <summary>The binding of the last <see cref="ProxyServer.ListenAsync"/>; kept after stopping so the counters keep their labels.</summary>
    public ServiceBinding? Binding { get; set; }

    public ProxyListener? Listener { get; set; }

    public BackendPool Primary { get; } = new(BackendRole.Primary);

    public BackendPool Canary { get; } = new(BackendRole.Canary);

    public BackendMetrics PrimaryMetrics { get; }

    public BackendMetrics CanaryMetrics { get; }

    public RouteModel Route => Volatile.Read(ref _route);

    public BackendPool Pool(BackendRole role) => role == BackendRole.Canary ? Canary : Primary;

    public BackendMetrics MetricsOf(BackendRole role) => role == BackendRole.Canary ? CanaryMetrics : PrimaryMetrics;

    public RouteModel SetRoute(RouteConfig config)
    {
        lock (_gate)
        {
            var model = RouteModel.Create(config, _route, _runtime.Random);
            Volatile.Write(ref _route, model);
            return model;
        }
    }

    /// <summary>Replaces the instances of one backend. An instance kept (same id and address) keeps its in-flight count.</summary>
    public void SetEndpoints(BackendRole role, IReadOnlyList<BackendEndpoint> endpoints)
    {
        lock (_gate)
        {
            var pool = Pool(role);
            var current = pool.Endpoints;
            var next = new EndpointState[endpoints.Count];
            for (var i = 0; i < endpoints.Count; i++)
            {
                var endpoint = endpoints[i];
                var kept = Array.Find(current, s => s.Endpoint == endpoint)
                    ?? _retired.Find(s => s.Endpoint == endpoint);
                if (kept is not null)
                {
                    _retired.Remove(kept);
                    kept.MarkRemoved(false);
                }
                next[i] = kept ?? new EndpointState(endpoint);
            }
            foreach (var old in current)
            {
                if (Array.IndexOf(next, old) >= 0) continue;
                old.MarkRemoved(true);
                _retired.Add(old);
            }
            pool.Replace(next);
            _retired.RemoveAll(s => s.InFlight == 0);
        }
    }

    /// <summary>Every state, current or retired, of the endpoint named <paramref name="endpointId"/>.</summary>
    public List<EndpointState> FindEndpoint(string endpointId)
    {
        lock (_gate)
        {
            var found = _retired.FindAll(s => s.Id == endpointId);
            found.AddRange(Primary.Endpoints.Where(s => s.Id == endpointId));
            found.AddRange(Canary.Endpoints.Where(s => s.Id == endpointId));
            return found;
        }
    }

    public void ForgetDrained()
    {
        lock (_gate) _retired.RemoveAll(s => s.InFlight == 0);
    }

    public RequestContext CreateContext(IFeatureCollection contextFeatures)
    {
        RequestContext context;
        if (contextFeatures is IHostContextContainer<RequestContext> container)
        {
            context = container.HostContext ??= new RequestContext();
        }
        else
        {
            context = new RequestContext();
        }
        context.Initialize(contextFeatures);
        return context;
    }

    public void DisposeContext(RequestContext context, Exception? exception) => context.Reset();

    public async Task ProcessRequestAsync(RequestContext context)
    {
        var runtime = _runtime;
        var started = runtime.Time.GetTimestamp();
        var route = Route;
        var (role, setCookie) = Choose(route, context);
        var pool = Pool(role);
        var endpoint = pool.Acquire(runtime.Random, started);
        if (endpoint is null)
        {
            // The chosen backend has no instance: the other one serves, without a session cookie meant for the first.
            pool = Pool(role == BackendRole.Canary ? BackendRole.Primary : BackendRole.Canary);
            endpoint = pool.Acquire(runtime.Random, started);
            if (endpoint is null)
            {
                context.Response.StatusCode = ProxyError.NoEndpoint.StatusCode();
                MetricsOf(role).Record(ProxyError.NoEndpoint.StatusCode(), runtime.Time.GetTimestamp() - started, runtime.UnixSecond());
                ProxyLog.NoEndpoint(runtime.Logger, Service);
                return;
            }
            role = pool.Role;
            setCookie = null;
        }

        var metrics = MetricsOf(role);
        metrics.Started();
        var mirror = route.Mirrored && (route.MirrorPercent >= 100 || runtime.Random.Next(100) < route.MirrorPercent);
        MirrorCapture? capture = null;
        if (mirror && context.HasBody)
        {
            if (context.Request.Headers.ContentLength > runtime.Options.MirrorBodyLimit)
            {
                mirror = false;
                ProxyLog.MirrorSkipped(runtime.Logger, Service, "request body over the mirror limit");
            }
            else
            {
                capture = new MirrorCapture(runtime.Options.MirrorBodyLimit);
            }
        }

        var result = new ForwardResult(ProxyError.None, 500, 0, null);
        try
        {
            result = await runtime.Forwarder.ForwardAsync(context, endpoint.Prefix, setCookie, capture).ConfigureAwait(false);
            if (result.Error.NothingSent())
            {
                Unreachable(pool, endpoint, result.Error);
                if (pool.Acquire(runtime.Random, runtime.Time.GetTimestamp(), exclude: endpoint) is { } retry)
                {
                    ProxyLog.Retrying(runtime.Logger, Service, pool.Role.ToString(), endpoint.Id, result.Error.ToString(), retry.Id);
                    endpoint.Release();
                    endpoint = retry;
                    result = await runtime.Forwarder.ForwardAsync(context, endpoint.Prefix, setCookie, capture).ConfigureAwait(false);
                    if (result.Error.NothingSent()) Unreachable(pool, endpoint, result.Error);
                }
            }
            if (!result.Error.NothingSent()) endpoint.Reached();
            if (result.Error == ProxyError.ClientAborted)
            {
                ProxyLog.ClientAborted(runtime.Logger, Service, endpoint.Id);
            }
            else if (result.Error != ProxyError.None)
            {
                ProxyLog.ForwardFailed(runtime.Logger, Service, pool.Role.ToString(), endpoint.Id, result.Error.ToString(), result.Status,
                    result.Exception?.GetType().Name ?? "-", result.Exception?.Message ?? "-");
                if (!context.Response.HasStarted && result.Error != ProxyError.ResponseBodyUpstream)
                {
                    context.Response.Headers.Clear();
                    context.Response.StatusCode = result.Status;
                }
            }
        }
        finally
        {
            endpoint.Release();
            metrics.Finished();
            var headersAt = result.HeadersTimestamp != 0 ? result.HeadersTimestamp : runtime.Time.GetTimestamp();
            metrics.Record(result.Status, headersAt - started, runtime.UnixSecond());
        }

        if (mirror) StartMirror(context, capture);
    }

    /// <summary>Passes <paramref name="endpoint"/> over for a while (when others are available) after a failed connect.</summary>
    private void Unreachable(BackendPool pool, EndpointState endpoint, ProxyError error)
    {
        var backoff = _runtime.Options.UnreachableBackoff;
        if (backoff <= TimeSpan.Zero) return;
        var now = _runtime.Time.GetTimestamp();
        var until = now + (long)(backoff.TotalSeconds * _runtime.Time.TimestampFrequency);
        if (endpoint.Avoid(now, until))
            ProxyLog.EndpointUnreachable(_runtime.Logger, Service, pool.Role.ToString(), endpoint.Id, error.ToString(), backoff);
    }

    private (BackendRole Role, string? SetCookie) Choose(RouteModel route, RequestContext context)
    {
        if (route.Mirrored) return (BackendRole.Primary, null);
        if (route.Matchers.Length > 0 && !Matches(route.Matchers, context)) return (BackendRole.Primary, null);
        if (route.CanaryCookie is { } canaryCookie)
        {
            var cookies = context.Request.Headers.Cookie;
            if (cookies.Count > 0)
            {
                if (canaryCookie.IsIn(cookies)) return (BackendRole.Canary, null);
                if (route.PrimaryCookie is { } primaryCookie && primaryCookie.IsIn(cookies)) return (BackendRole.Primary, null);
            }
            return Split(route) == BackendRole.Canary
                ? (BackendRole.Canary, canaryCookie.SetCookie)
                : (BackendRole.Primary, route.PrimaryCookie?.SetCookie);
        }
        if (route.PreviousCanaryCookie is { } previous && context.Request.Headers.Cookie is { Count: > 0 } held && previous.IsIn(held))
        {
            // The rollout that handed out this cookie is over: route as usual and tell the client to drop it.
            return (Split(route), previous.ExpireSetCookie);
        }
        return (Split(route), null);
    }

    private BackendRole Split(RouteModel route)
    {
        if (route.CanaryWeight <= 0) return BackendRole.Primary;
        if (route.CanaryWeight >= route.TotalWeight) return BackendRole.Canary;
        return _runtime.Random.Next(route.TotalWeight) < route.CanaryWeight ? BackendRole.Canary : BackendRole.Primary;
    }

    private static bool Matches(RequestMatcher[] matchers, RequestContext context)
    {
        var headers = context.Request.Headers;
        var query = context.Request.QueryString;
        foreach (var matcher in matchers)
        {
            if (matcher.IsMatch(headers, query)) return true;
        }
        return false;
    }

    /// <summary>Sends the copy to the canary without waiting for it; built now, while the request's features are still valid.</summary>
    private void StartMirror(RequestContext context, MirrorCapture? capture)
    {
        var runtime = _runtime;
        if (capture is { Complete: false })
        {
            capture.Dispose();
            ProxyLog.MirrorSkipped(runtime.Logger, Service, "request body not read to the end or over the mirror limit");
            return;
        }
        if (Interlocked.Increment(ref _mirrorsInFlight) > runtime.Options.MaxMirrorsInFlight)
        {
            Interlocked.Decrement(ref _mirrorsInFlight);
            capture?.Dispose();
            ProxyLog.MirrorSkipped(runtime.Logger, Service, "too many mirrored requests in flight");
            return;
        }
        var endpoint = Canary.Acquire(runtime.Random, runtime.Time.GetTimestamp());
        if (endpoint is null)
        {
            Interlocked.Decrement(ref _mirrorsInFlight);
            capture?.Dispose();
            ProxyLog.MirrorSkipped(runtime.Logger, Service, "no canary endpoint");
            return;
        }
        HttpRequestMessage request;
        try
        {
            request = HttpForwarder.CreateRequest(context, endpoint.Prefix, capture is null ? null : new ReadOnlyMemoryContent(capture.Body));
        }
        catch
        {
            Interlocked.Decrement(ref _mirrorsInFlight);
            endpoint.Release();
            capture?.Dispose();
            throw;
        }
        CanaryMetrics.Started();
        _ = SendMirrorAsync(request, endpoint, capture);
    }

    private async Task SendMirrorAsync(HttpRequestMessage request, EndpointState endpoint, MirrorCapture? capture)
    {
        var runtime = _runtime;
        var started = runtime.Time.GetTimestamp();
        long headersAt = 0;
        var status = 502;
        using var timeout = new CancellationTokenSource(runtime.Options.RequestTimeout, runtime.Time);
        try
        {
            using var response = await runtime.Forwarder.Invoker.SendAsync(request, timeout.Token).ConfigureAwait(false);
            headersAt = runtime.Time.GetTimestamp();
            status = (int)response.StatusCode;
            // The canary's answer is counted, never returned: read it to the end and drop it.
            var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            await using (body.ConfigureAwait(false)) await body.CopyToAsync(Stream.Null, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            if (headersAt == 0) status = timeout.IsCancellationRequested ? 504 : 502;
            ProxyLog.MirrorFailed(runtime.Logger, Service, endpoint.Id, e.GetType().Name);
        }
        finally
        {
            request.Dispose();
            capture?.Dispose();
            endpoint.Release();
            CanaryMetrics.Finished();
            Interlocked.Decrement(ref _mirrorsInFlight);
            CanaryMetrics.Record(status, (headersAt != 0 ? headersAt : runtime.Time.GetTimestamp()) - started, runtime.UnixSecond());
        }
    }
}
