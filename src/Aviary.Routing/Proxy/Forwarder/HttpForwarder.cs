using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Aviary.Routing.Proxy.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Aviary.Routing.Proxy.Forwarder;

/// <summary>The end of one forwarding attempt: the error (if any), the status the client got, and when the response headers came.</summary>
internal readonly record struct ForwardResult(ProxyError Error, int Status, long HeadersTimestamp, Exception? Exception);

/// <summary>
/// Forwards one request to one instance over a shared, pooled <see cref="HttpMessageInvoker"/> and streams the response
/// back. Steps: build the upstream request (hop-by-hop headers dropped, X-Forwarded-* added, Host kept), send it with a
/// token that fires on client abort or on the request timeout, copy status and headers, then stream the body with
/// zero copies into Kestrel's response pipe, flushing every read so chunks reach the client as they come.
/// </summary>
internal sealed class HttpForwarder : IDisposable
{
    // Read at least this much per upstream read (one Kestrel pool block).
    private const int MinReadSize = 4096;

    private readonly HttpMessageInvoker _invoker;
    private readonly TimeProvider _time;
    private readonly ProxyOptions _options;

    public HttpForwarder(ProxyOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = options.PooledConnectionIdleTimeout,
            // The proxy propagates no trace context of its own: the client's headers pass through untouched.
            ActivityHeadersPropagator = null,
            EnableMultipleHttp2Connections = true,
        };
        _invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    public HttpMessageInvoker Invoker => _invoker;

    /// <summary>Forwards the request to <paramref name="prefix"/> (<c>http://host:port</c>) and, on success, streams the response.</summary>
    /// <param name="setCookie">A Set-Cookie value to add to the response (session affinity), or null.</param>
    /// <param name="capture">Where to keep a copy of the request body for the mirror, or null.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ForwardResult> ForwardAsync(RequestContext context, string prefix, string? setCookie, MirrorCapture? capture)
    {
        var content = context.HasBody ? new StreamingRequestContent(context.BodyReader, capture) : null;
        if (content is null) capture?.MarkComplete();
        using var request = CreateRequest(context, prefix, content);
        var token = context.StartTimeout(_options.RequestTimeout, _time);
        try
        {
            HttpResponseMessage response;
            try
            {
                response = await _invoker.SendAsync(request, token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                var error = Classify(e, context, content);
                return new ForwardResult(error, error.StatusCode(), _time.GetTimestamp(), e);
            }
            var headersAt = _time.GetTimestamp();
            context.StopTimeout();
            using (response)
            {
                var status = (int)response.StatusCode;
                CopyResponseHeaders(response, context, setCookie);
                var bodyError = await CopyResponseBodyAsync(response, context, token).ConfigureAwait(false);
                if (bodyError.Error != ProxyError.None)
                {
                    return new ForwardResult(bodyError.Error, bodyError.Error == ProxyError.ClientAborted
                        ? ProxyErrorExtensions.ClientClosedRequest : 502, headersAt, bodyError.Exception);
                }
                return new ForwardResult(ProxyError.None, status, headersAt, null);
            }
        }
        finally
        {
            context.EndTimeout();
        }
    }

    private static ProxyError Classify(Exception e, RequestContext context, StreamingRequestContent? content)
    {
        if (context.Aborted.IsCancellationRequested) return ProxyError.ClientAborted;
        if (content is { ClientFailed: true }) return ProxyError.RequestBodyClient;
        if (context.TimedOut) return ProxyError.RequestTimeout;
        if (content is not { Started: true })
        {
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError }) return ProxyError.ConnectFailed;
            // SocketsHttpHandler reports ConnectTimeout as a cancellation wrapping a TimeoutException.
            if (e.InnerException is TimeoutException || e is TimeoutException) return ProxyError.ConnectTimeout;
        }
        return ProxyError.RequestFailed;
    }

    /// <summary>Builds a request for <paramref name="prefix"/> from the client's request (also used for mirrors).</summary>
    public static HttpRequestMessage CreateRequest(RequestContext context, string prefix, HttpContent? content)
    {
        var incoming = context.Request;
        var request = new HttpRequestMessage(HttpMethod.Parse(incoming.Method), new Uri(prefix + context.Target, UriKind.Absolute))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            Content = content,
        };
        CopyRequestHeaders(context, request);
        return request;
    }

    private static void CopyRequestHeaders(RequestContext context, HttpRequestMessage request)
    {
        var headers = context.Request.Headers;
        var connection = headers.Connection;
        string? host = null;
        StringValues forwardedFor = default;
        foreach (var (name, values) in headers)
        {
            if (HeaderRules.IsHopByHop(name) || (connection.Count > 0 && HeaderRules.IsNamedIn(connection, name))) continue;
            if (string.Equals(name, "Host", StringComparison.OrdinalIgnoreCase))
            {
                host = values.ToString();
                continue;
            }
            if (string.Equals(name, "X-Forwarded-For", StringComparison.OrdinalIgnoreCase))
            {
                forwardedFor = values;
                continue;
            }
            if (string.Equals(name, "X-Forwarded-Proto", StringComparison.OrdinalIgnoreCase)
                || string.Equals(name, "X-Forwarded-Host", StringComparison.OrdinalIgnoreCase)) continue;
            AddHeader(request, name, values);
        }

        // The instance sees the Host the client asked for, and where the request came from.
        if (!string.IsNullOrEmpty(host)) request.Headers.TryAddWithoutValidation("Host", host);
        if (context.RemoteAddress is { } client)
        {
            var value = forwardedFor.Count == 0 ? client : string.Join(", ", forwardedFor.ToArray()) + ", " + client;
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", value);
        }
        else if (forwardedFor.Count > 0)
        {
            AddHeader(request, "X-Forwarded-For", forwardedFor);
        }
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", context.Request.Scheme);
        if (!string.IsNullOrEmpty(host)) request.Headers.TryAddWithoutValidation("X-Forwarded-Host", host);
    }

    private static void AddHeader(HttpRequestMessage request, string name, StringValues values)
    {
        if (values.Count == 1)
        {
            var value = values[0];
            if (value is null || HeaderRules.HasNewLine(value)) return;
            if (request.Headers.TryAddWithoutValidation(name, value)) return;
            request.Content ??= new EmptyContent();
            request.Content.Headers.TryAddWithoutValidation(name, value);
            return;
        }
        if (values.Count == 0) return;
        // Several Cookie fields must become one, joined with "; " (HttpClient would join them with ",").
        if (string.Equals(name, "Cookie", StringComparison.OrdinalIgnoreCase))
        {
            AddHeader(request, name, string.Join("; ", values.ToArray()));
            return;
        }
        var array = values.ToArray();
        foreach (var value in array)
        {
            if (HeaderRules.HasNewLine(value)) return;
        }
        if (request.Headers.TryAddWithoutValidation(name, array)) return;
        request.Content ??= new EmptyContent();
        request.Content.Headers.TryAddWithoutValidation(name, array);
    }

    private static void CopyResponseHeaders(HttpResponseMessage response, RequestContext context, string? setCookie)
    {
        var target = context.Response;
        target.StatusCode = (int)response.StatusCode;
        var headers = target.Headers;
        Copy(response.Headers.NonValidated, headers);
        Copy(response.Content.Headers.NonValidated, headers);
        if (setCookie is not null) headers.Append("Set-Cookie", setCookie);

        static void Copy(HttpHeadersNonValidated from, IHeaderDictionary to)
        {
            foreach (var (name, values) in from)
            {
                if (HeaderRules.IsHopByHop(name)) continue;
                if (values.Count == 1)
                {
                    to[name] = values.ToString();
                    continue;
                }
                var array = new string[values.Count];
                var i = 0;
                foreach (var value in values) array[i++] = value;
                to[name] = array;
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<(ProxyError Error, Exception? Exception)> CopyResponseBodyAsync(
        HttpResponseMessage response, RequestContext context, CancellationToken token)
    {
        var writer = context.ResponseBody.Writer;
        Stream source;
        try
        {
            // SocketsHttpHandler's response content hands out its connection stream without I/O: no Task needed.
            source = response.Content.ReadAsStream(token);
        }
        catch (Exception e)
        {
            return (context.Aborted.IsCancellationRequested ? ProxyError.ClientAborted : ProxyError.ResponseBodyUpstream, e);
        }
        await using (source.ConfigureAwait(false))
        {
            while (true)
            {
                int read;
                try
                {
                    read = await source.ReadAsync(writer.GetMemory(MinReadSize), token).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    if (context.Aborted.IsCancellationRequested) return (ProxyError.ClientAborted, e);
                    context.Lifetime.Abort();
                    return (ProxyError.ResponseBodyUpstream, e);
                }
                if (read == 0) return (ProxyError.None, null);
                writer.Advance(read);
                try
                {
                    var flushed = await writer.FlushAsync(token).ConfigureAwait(false);
                    if (flushed.IsCanceled || flushed.IsCompleted) return (ProxyError.ClientAborted, null);
                }
                catch (Exception e)
                {
                    return (ProxyError.ClientAborted, e);
                }
            }
        }
    }

    public void Dispose() => _invoker.Dispose();
}
