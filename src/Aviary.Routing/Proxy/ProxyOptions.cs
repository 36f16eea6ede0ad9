namespace Aviary.Routing.Proxy;

/// <summary>Settings of the built-in proxy, shared by every service it serves.</summary>
public sealed record ProxyOptions
{
    /// <summary>Longest wait to establish a TCP connection to an instance; default 5 seconds.
    /// A connection that could not be established is retried once on another instance of the same backend.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest wait from sending a request to an instance until its response headers arrive; default 100 seconds
    /// (HttpClient's default). On expiry the client gets 504. The response body is then streamed without a time limit.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Longest wait for in-flight requests when a listener stops or the proxy is disposed; default 30 seconds.
    /// Requests still running then are aborted.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest request body, in bytes, copied to the canary when mirroring; default 1 MiB. Requests with a
    /// larger body are served by the primary as usual but are not mirrored. This is the only body the proxy buffers.</summary>
    public int MirrorBodyLimit { get; init; } = 1024 * 1024;

    /// <summary>Most mirrored requests in flight per service; a request to mirror beyond that is not mirrored; default 256.
    /// Keeps a slow canary from piling up fire-and-forget copies.</summary>
    public int MaxMirrorsInFlight { get; init; } = 256;

    /// <summary>After a connection to an instance could not be made, the instance is passed over for this long whenever
    /// another instance of its backend is available (passive health); default 5 seconds. Zero turns this off.</summary>
    public TimeSpan UnreachableBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an idle pooled connection to an instance is kept; default 60 seconds.</summary>
    public TimeSpan PooledConnectionIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Runs request processing on the socket I/O threads instead of queueing it to the thread pool (Kestrel's
    /// <c>UnsafePreferInlineScheduling</c>); default false. The proxy never blocks a thread, so this is safe for it and
    /// saves a thread hop per read, which pays on machines with few cores.</summary>
    public bool InlineScheduling { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming every invalid setting.</summary>
    public void Validate()
    {
        List<string> errors = [];
        if (ConnectTimeout <= TimeSpan.Zero) errors.Add($"{nameof(ConnectTimeout)} must be positive");
        if (RequestTimeout <= TimeSpan.Zero) errors.Add($"{nameof(RequestTimeout)} must be positive");
        if (DrainTimeout < TimeSpan.Zero) errors.Add($"{nameof(DrainTimeout)} must not be negative");
        if (MirrorBodyLimit < 0) errors.Add($"{nameof(MirrorBodyLimit)} must not be negative");
        if (MaxMirrorsInFlight < 0) errors.Add($"{nameof(MaxMirrorsInFlight)} must not be negative");
        if (UnreachableBackoff < TimeSpan.Zero) errors.Add($"{nameof(UnreachableBackoff)} must not be negative");
        if (PooledConnectionIdleTimeout <= TimeSpan.Zero) errors.Add($"{nameof(PooledConnectionIdleTimeout)} must be positive");
        if (errors.Count > 0) throw new ArgumentException("Invalid proxy options: " + string.Join("; ", errors));
    }
}
