using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Aviary.Routing.Proxy.Hosting;

/// <summary>
/// One request as the proxy sees it: Kestrel's features, read once. Kestrel keeps one context per connection (or
/// HTTP/2 stream) and hands it back for the next request, so the per-connection parts — the client address as text,
/// the timeout source — are made once per connection rather than per request.
/// </summary>
internal sealed class RequestContext
{
    private IPAddress? _remoteAddress;
    private string? _remoteAddressText;
    private CancellationTokenSource? _timeout;
    private CancellationTokenRegistration _abortRegistration;

    public IFeatureCollection Features { get; private set; } = null!;
    public IHttpRequestFeature Request { get; private set; } = null!;
    public IHttpResponseFeature Response { get; private set; } = null!;
    public IHttpResponseBodyFeature ResponseBody { get; private set; } = null!;
    public IHttpRequestLifetimeFeature Lifetime { get; private set; } = null!;
    private IHttpConnectionFeature? _connection;
    private IHttpRequestBodyDetectionFeature? _bodyDetection;
    private IRequestBodyPipeFeature? _bodyPipe;

    /// <summary>Cancelled when the client goes away.</summary>
    public CancellationToken Aborted { get; private set; }

    public void Initialize(IFeatureCollection features)
    {
        Features = features;
        Request = features.GetRequiredFeature<IHttpRequestFeature>();
        Response = features.GetRequiredFeature<IHttpResponseFeature>();
        ResponseBody = features.GetRequiredFeature<IHttpResponseBodyFeature>();
        Lifetime = features.GetRequiredFeature<IHttpRequestLifetimeFeature>();
        _connection = features.Get<IHttpConnectionFeature>();
        _bodyDetection = features.Get<IHttpRequestBodyDetectionFeature>();
        _bodyPipe = features.Get<IRequestBodyPipeFeature>();
        Aborted = Lifetime.RequestAborted;
    }

    public void Reset()
    {
        Features = null!;
        Request = null!;
        Response = null!;
        ResponseBody = null!;
        Lifetime = null!;
        _bodyPipe = null;
        _bodyDetection = null;
        Aborted = default;
    }

    public bool HasBody => _bodyDetection?.CanHaveBody ?? (Request.Headers.ContentLength > 0 || Request.Headers.TransferEncoding.Count > 0);

    public PipeReader BodyReader => _bodyPipe?.Reader ?? PipeReader.Create(Request.Body);

    /// <summary>The origin-form target to send upstream: the raw target as received, so nothing is decoded and re-encoded.</summary>
    public string Target
    {
        get
        {
            var raw = Request.RawTarget;
            if (raw.Length > 0 && raw[0] == '/') return raw;
            // Absolute-form ("http://host/path") or asterisk-form: rebuild from the parsed parts.
            var path = new PathString(Request.PathBase + Request.Path).ToUriComponent();
            return (path.Length == 0 ? "/" : path) + Request.QueryString;
        }
    }

    public string? RemoteAddress
    {
        get
        {
            var address = _connection?.RemoteIpAddress;
            if (address is null) return null;
            if (!ReferenceEquals(address, _remoteAddress))
            {
                _remoteAddress = address;
                _remoteAddressText = address.IsIPv4MappedToIPv6 ? address.MapToIPv4().ToString() : address.ToString();
            }
            return _remoteAddressText;
        }
    }

    /// <summary>A token cancelled when the client goes away or <paramref name="timeout"/> passes, whichever first.</summary>
    public CancellationToken StartTimeout(TimeSpan timeout, TimeProvider time)
    {
        _timeout ??= new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
#pragma warning disable RS0030 // This source was made with a TimeProvider, so CancelAfter runs on that clock; one source is reused per connection.
        _timeout.CancelAfter(timeout);
#pragma warning restore RS0030
        _abortRegistration = Aborted.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _timeout);
        return _timeout.Token;
    }

    /// <summary>The timeout (not the client's abort) fired.</summary>
    public bool TimedOut => _timeout is { IsCancellationRequested: true } && !Aborted.IsCancellationRequested;

    /// <summary>Keeps the token but stops its timer: the response headers arrived, the body streams without a limit.</summary>
#pragma warning disable RS0030 // As above: the source runs on the injected TimeProvider.
    public void StopTimeout() => _timeout?.CancelAfter(Timeout.InfiniteTimeSpan);
#pragma warning restore RS0030

    public void EndTimeout()
    {
        _abortRegistration.Dispose();
        _abortRegistration = default;
        if (_timeout is not null && !_timeout.TryReset())
        {
            _timeout.Dispose();
            _timeout = null;
        }
    }
}
