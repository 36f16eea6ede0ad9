namespace Aviary.Routing.Proxy.Forwarder;

/// <summary>How forwarding one request ended; expected failures are values, not exceptions.</summary>
internal enum ProxyError
{
    None,

    /// <summary>No connection to the instance could be made (refused, unreachable); nothing was sent. 502, retried elsewhere.</summary>
    ConnectFailed,

    /// <summary>Connecting took longer than <see cref="ProxyOptions.ConnectTimeout"/>; nothing was sent. 504, retried elsewhere.</summary>
    ConnectTimeout,

    /// <summary>No response headers within <see cref="ProxyOptions.RequestTimeout"/>. 504.</summary>
    RequestTimeout,

    /// <summary>The request failed after the connection was made (reset, malformed response). 502.</summary>
    RequestFailed,

    /// <summary>Reading the client's request body failed. 400.</summary>
    RequestBodyClient,

    /// <summary>The instance failed while streaming the response body; the client connection is aborted. Counted as 502.</summary>
    ResponseBodyUpstream,

    /// <summary>The client went away; the upstream call is cancelled. Counted as 499 (nginx's "client closed request").</summary>
    ClientAborted,

    /// <summary>Neither backend has an instance. 503.</summary>
    NoEndpoint,
}

internal static class ProxyErrorExtensions
{
    public const int ClientClosedRequest = 499;

    public static int StatusCode(this ProxyError error) => error switch
    {
        ProxyError.None => 200,
        ProxyError.ConnectTimeout or ProxyError.RequestTimeout => 504,
        ProxyError.RequestBodyClient => 400,
        ProxyError.ClientAborted => ClientClosedRequest,
        ProxyError.NoEndpoint => 503,
        _ => 502,
    };

    public static bool NothingSent(this ProxyError error) => error is ProxyError.ConnectFailed or ProxyError.ConnectTimeout;
}
