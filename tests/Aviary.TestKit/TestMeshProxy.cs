using System.Net;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Aviary.Routing.Proxy.Forwarder;
using Aviary.Routing.Proxy.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Aviary.TestKit;

/// <summary>
/// The test mesh's HTTP data plane: Kestrel on 127.0.0.1 in front of the apex service. Each request takes the first
/// rule of the mesh's current <see cref="TestMeshRoutes"/> that matches it (path, method, headers, query parameters,
/// cookies), then one of the rule's destinations by weight — a smooth weighted round robin, so that any 100
/// consecutive requests of a rule follow its weights exactly — and one of that role's endpoints in turn; a mirror
/// copies the request, fire and forget. Requests go through the product's forwarder (the built-in router's
/// <see cref="HttpForwarder"/>), so the mesh forwards exactly as Aviary's own data plane does. The endpoints are what tests publish through <see cref="IBackendRegistry"/>
/// (the mesh plays the Endpoints of <c>-primary</c> and <c>-canary</c>), keyed by <see cref="TestMeshTarget.EffectiveRegistryKey"/>.
/// No rule: 404; no endpoint for the role: 503; a backend that does not answer: 502. Every response carries
/// <c>x-mesh-role</c>.
/// </summary>
public sealed class TestMeshProxy : IBackendRegistry, IAsyncDisposable
{
    /// <summary>The largest request body the mesh copies to a mirror.</summary>
    private const int MirrorBodyLimit = 1 << 20;

    private readonly TestMesh _mesh;
    private readonly WebApplication _app;
    private readonly HttpForwarder _forwarder = new(new ProxyOptions(), TimeProvider.System);
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Key, BackendRole Role), Pool> _pools = [];
    private readonly Dictionary<(string Key, string Id), EndpointState> _endpoints = [];
    private readonly Dictionary<TestMeshRule, TestMeshPicker> _pickers = new(ReferenceEqualityComparer.Instance);
    private TestMeshRoutes? _pickersFor;
    private long _requests;
    private long _mirrored;

    private TestMeshProxy(TestMesh mesh, WebApplication app)
    {
        _mesh = mesh;
        _app = app;
    }

    /// <summary>Where clients send requests for the apex, e.g. <c>http://127.0.0.1:40123</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Requests answered (any status).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Copies sent to a mirror.</summary>
    public long Mirrored => Interlocked.Read(ref _mirrored);

    internal static async Task<TestMeshProxy> StartAsync(TestMesh mesh, int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, port);
            k.Limits.MaxRequestBodySize = null;
            k.AddServerHeader = false;
        });
        var app = builder.Build();
        var proxy = new TestMeshProxy(mesh, app);
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        var address = app.Urls.First();
        proxy.Address = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return proxy;
    }

    public void SetEndpoints(string service, BackendRole role, IReadOnlyList<BackendEndpoint> endpoints)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentNullException.ThrowIfNull(endpoints);
        lock (_lock)
        {
            if (!_pools.TryGetValue((service, role), out var pool)) _pools[(service, role)] = pool = new Pool();
            pool.Endpoints = [.. endpoints];
            foreach (var e in endpoints)
            {
                if (!_endpoints.ContainsKey((service, e.Id))) _endpoints[(service, e.Id)] = new EndpointState();
            }
        }
    }

    public IReadOnlyList<BackendEndpoint> GetEndpoints(string service, BackendRole role)
    {
        lock (_lock) return _pools.TryGetValue((service, role), out var pool) ? pool.Endpoints : [];
    }

    public async Task<bool> DrainAsync(string service, string endpointId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Task idle;
        lock (_lock)
        {
            if (!_endpoints.TryGetValue((service, endpointId), out var state) || state.InFlight == 0) return true;
            state.Idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            idle = state.Idle.Task;
        }
        try
        {
            await idle.WaitAsync(timeout, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var request = Describe(context.Request);
        var routes = _mesh.Routes;
        var rule = routes.Select(request);
        if (rule is null)
        {
            await AnswerAsync(context, 404, $"no route for {request.Method} {request.Path} in {routes}");
            return;
        }
        var destination = Pick(routes, rule);
        if (destination?.Role is not { } role)
        {
            await AnswerAsync(context, 503, $"no backend for {destination?.Service ?? "(none)"} in {routes}");
            return;
        }
        var key = _mesh.Target.EffectiveRegistryKey;
        if (!TryAcquire(key, role, out var endpoint, out var state))
        {
            await AnswerAsync(context, 503, $"no healthy upstream for {role} of {key}");
            return;
        }
        var forwarded = new RequestContext();
        forwarded.Initialize(context.Features);
        var capture = rule.Mirror is { Role: not null } && TakeMirror(rule) ? new MirrorCapture(MirrorBodyLimit) : null;
        try
        {
            context.Response.Headers["x-mesh-role"] = role == BackendRole.Canary ? "canary" : "primary";
            foreach (var (name, value) in (rule.ResponseHeaders ?? []).Concat(destination.ResponseHeaders ?? []))
                context.Response.Headers.Append(name, value);
            var result = await _forwarder.ForwardAsync(forwarded, Prefix(endpoint), null, capture);
            if (result.Error is not (ProxyError.None or ProxyError.ClientAborted) && !context.Response.HasStarted)
                await AnswerAsync(context, result.Status, $"{role} {endpoint.Id} did not answer: {result.Error} {result.Exception?.Message}");
            if (capture is { Complete: true } && rule.Mirror is { Role: { } mirrorRole } && TryAcquire(key, mirrorRole, out var mirrorEndpoint, out var mirrorState))
            {
                // Built now, while the request's features are valid; sent without waiting.
                var copy = HttpForwarder.CreateRequest(forwarded, Prefix(mirrorEndpoint), capture.Body.Length > 0 ? new ReadOnlyMemoryContent(capture.Body) : null);
                _ = MirrorAsync(copy, mirrorState, capture);
                capture = null;
            }
        }
        finally
        {
            capture?.Dispose();
            forwarded.Reset();
            Release(state);
        }
    }

    private static string Prefix(BackendEndpoint endpoint) => endpoint.Address.GetLeftPart(UriPartial.Authority);

    private static TestMeshRequest Describe(HttpRequest request)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers) headers[name] = values.ToString();
        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, values) in request.Query) query[name] = values.ToString();
        var cookies = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in request.Cookies) cookies[name] = value;
        return new TestMeshRequest(request.Method, request.Path.Value ?? "/", headers, query, cookies);
    }

    private TestMeshDestination? Pick(TestMeshRoutes routes, TestMeshRule rule)
    {
        lock (_lock)
        {
            if (!ReferenceEquals(_pickersFor, routes))
            {
                _pickers.Clear();
                _pickersFor = routes;
            }
            if (!_pickers.TryGetValue(rule, out var picker)) _pickers[rule] = picker = new TestMeshPicker(rule);
            return picker.Next();
        }
    }

    private bool TakeMirror(TestMeshRule rule)
    {
        lock (_lock) return _pickers.TryGetValue(rule, out var picker) && picker.TakeMirror();
    }

    private bool TryAcquire(string key, BackendRole role, out BackendEndpoint endpoint, out EndpointState state)
    {
        lock (_lock)
        {
            endpoint = null!;
            state = null!;
            if (!_pools.TryGetValue((key, role), out var pool) || pool.Endpoints.Length == 0) return false;
            endpoint = pool.Endpoints[(int)(pool.Next++ % pool.Endpoints.Length)];
            state = _endpoints[(key, endpoint.Id)];
            state.InFlight++;
            return true;
        }
    }

    private void Release(EndpointState state)
    {
        lock (_lock)
        {
            state.InFlight--;
            if (state.InFlight == 0 && state.Idle is { } idle)
            {
                state.Idle = null;
                idle.TrySetResult();
            }
        }
    }

    private async Task MirrorAsync(HttpRequestMessage message, EndpointState state, MirrorCapture capture)
    {
        Interlocked.Increment(ref _mirrored);
        try
        {
            using var response = await _forwarder.Invoker.SendAsync(message, CancellationToken.None);
            await response.Content.CopyToAsync(Stream.Null);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            // A mirror's failure never reaches the client.
        }
        finally
        {
            message.Dispose();
            capture.Dispose();
            Release(state);
        }
    }

    private static async Task AnswerAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(text);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _forwarder.Dispose();
    }

    public override string ToString() => $"test mesh proxy of {_mesh.Target} at {Address}";

    private sealed class Pool
    {
        public BackendEndpoint[] Endpoints { get; set; } = [];

        public long Next { get; set; }
    }

    private sealed class EndpointState
    {
        public int InFlight { get; set; }

        public TaskCompletionSource? Idle { get; set; }
    }
}
