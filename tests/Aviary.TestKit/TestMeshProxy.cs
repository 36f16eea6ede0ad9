using System.Net;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Aviary.TestKit;

/// <summary>
/// The test mesh's HTTP data plane: Kestrel on 127.0.0.1 in front of the apex service. Each request takes the first
/// rule of the mesh's current <see cref="TestMeshRoutes"/> that matches it (path, method, headers, query parameters,
/// cookies), then one of the rule's destinations by weight — a smooth weighted round robin, so that any 100
/// consecutive requests of a rule follow its weights exactly — and one of that role's endpoints in turn; a mirror
/// copies the request, fire and forget. The endpoints are what tests publish through <see cref="IBackendRegistry"/>
/// (the mesh plays the Endpoints of <c>-primary</c> and <c>-canary</c>), keyed by <see cref="TestMeshTarget.EffectiveRegistryKey"/>.
/// No rule: 404; no endpoint for the role: 503; a backend that does not answer: 502. Every response carries
/// <c>x-mesh-role</c>.
/// </summary>
public sealed class TestMeshProxy : IBackendRegistry, IAsyncDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Host",
    };

    private readonly TestMesh _mesh;
    private readonly WebApplication _app;
    private readonly HttpMessageInvoker _client;
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
        _client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
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
        try
        {
            byte[]? body = null;
            if (rule.Mirror is { Role: { } mirrorRole } && TakeMirror(rule))
            {
                body = await ReadBodyAsync(context.Request);
                _ = MirrorAsync(key, mirrorRole, context.Request, body);
            }
            await ForwardAsync(context, endpoint, role, body);
        }
        finally
        {
            Release(state);
        }
    }

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

    private async Task ForwardAsync(HttpContext context, BackendEndpoint endpoint, BackendRole role, byte[]? body)
    {
        using var message = CreateRequest(context.Request, endpoint, body);
        if (body is null && HasBody(context.Request)) message.Content = new StreamContent(context.Request.Body);
        if (message.Content is not null) CopyContentHeaders(context.Request, message);
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(message, context.RequestAborted);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            if (!context.RequestAborted.IsCancellationRequested) await AnswerAsync(context, 502, $"{role} {endpoint.Id} did not answer: {e.Message}");
            return;
        }
        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (!HopByHop.Contains(name)) context.Response.Headers[name] = new StringValues([.. values]);
            }
            context.Response.Headers["x-mesh-role"] = role == BackendRole.Canary ? "canary" : "primary";
            try
            {
                await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or HttpRequestException)
            {
                context.Abort();
            }
        }
    }

    private async Task MirrorAsync(string key, BackendRole role, HttpRequest original, byte[] body)
    {
        if (!TryAcquire(key, role, out var endpoint, out var state)) return;
        Interlocked.Increment(ref _mirrored);
        try
        {
            using var message = CreateRequest(original, endpoint, body);
            if (message.Content is not null) CopyContentHeaders(original, message);
            using var response = await _client.SendAsync(message, CancellationToken.None);
            await response.Content.CopyToAsync(Stream.Null);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            // A mirror's failure never reaches the client.
        }
        finally
        {
            Release(state);
        }
    }

    private static HttpRequestMessage CreateRequest(HttpRequest request, BackendEndpoint endpoint, byte[]? body)
    {
        var target = new Uri(endpoint.Address, (request.PathBase + request.Path).ToUriComponent() + request.QueryString.ToUriComponent());
        var message = new HttpRequestMessage(new HttpMethod(request.Method), target) { Version = HttpVersion.Version11 };
        foreach (var (name, values) in request.Headers)
        {
            if (HopByHop.Contains(name) || name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase)) continue;
            message.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        }
        if (body is { Length: > 0 }) message.Content = new ByteArrayContent(body);
        return message;
    }

    private static void CopyContentHeaders(HttpRequest request, HttpRequestMessage message)
    {
        foreach (var (name, values) in request.Headers)
        {
            if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase)) message.Content!.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        }
    }

    private static bool HasBody(HttpRequest request) => request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0;

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        if (!HasBody(request)) return [];
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer);
        return buffer.ToArray();
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
        _client.Dispose();
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
