namespace Aviary.Hooks.LoadTester;

/// <summary>
/// What <see cref="LoadGenerator"/> sends, with hey's defaults. The run ends after <see cref="Requests"/> requests,
/// or after <see cref="Duration"/> when it is set, or when the run's token is cancelled when <see cref="Steady"/>.
/// </summary>
public sealed record LoadOptions
{
    /// <summary>hey's User-Agent, kept so that servers and dashboards see the traffic they expect from a load test.</summary>
    public const string DefaultUserAgent = "hey/0.0.1";

    /// <summary>Longest wait between two requests of one worker the rate limiter can express: 1 ms (1,000 QPS per worker).</summary>
    internal static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(1);

    /// <summary>The target, an absolute http or https URL.</summary>
    public required Uri Url { get; init; }

    /// <summary>HTTP method (hey <c>-m</c>). Default GET.</summary>
    public string Method { get; init; } = "GET";

    /// <summary>
    /// Request headers in order (hey <c>-H</c>, <c>-A</c>, <c>-a</c>); a later header of the same name replaces an earlier one,
    /// as hey's <c>Header.Set</c> does. Content headers apply only when there is a body.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>Request body (hey <c>-d</c> or <c>-D</c>). Default empty: no body is sent.</summary>
    public ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>Content-Type of the body (hey <c>-T</c>). Default text/html, hey's.</summary>
    public string ContentType { get; init; } = "text/html";

    /// <summary>Host header override (hey <c>-host</c>). Default: the URL's host.</summary>
    public string? Host { get; init; }

    /// <summary>User-Agent (hey <c>-U</c> prepends to hey's). Default <see cref="DefaultUserAgent"/>.</summary>
    public string UserAgent { get; init; } = DefaultUserAgent;

    /// <summary>Number of workers sending requests one after the other (hey <c>-c</c>). Default 50.</summary>
    public int Concurrency { get; init; } = 50;

    /// <summary>
    /// Total number of requests (hey <c>-n</c>), sent exactly (hey itself drops the remainder of n / c).
    /// Ignored when <see cref="Duration"/> or <see cref="Steady"/> is set. Default 200.
    /// </summary>
    public int Requests { get; init; } = 200;

    /// <summary>
    /// Send requests for this long (hey <c>-z</c>), then stop sending; requests in flight finish (within
    /// <see cref="Timeout"/>). Default none.
    /// </summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Send requests until the run's token is cancelled, ignoring <see cref="Requests"/> and <see cref="Duration"/>. Default false.</summary>
    public bool Steady { get; init; }

    /// <summary>
    /// Rate limit in requests per second PER WORKER (hey <c>-q</c>): the total rate is at most this times
    /// <see cref="Concurrency"/>. A worker's first request waits one interval. 0 means no limit (the default);
    /// limits above 1,000 act as 1,000.
    /// </summary>
    public double RateLimit { get; init; }

    /// <summary>Timeout of each request, from sending to the last byte of the answer (hey <c>-t</c>, in seconds there). Zero means none. Default 20 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Close the connection after each request (hey <c>-disable-keepalive</c>). Default false.</summary>
    public bool DisableKeepAlives { get; init; }

    /// <summary>Do not ask for gzip answers (hey <c>-disable-compression</c>). Default false.</summary>
    public bool DisableCompression { get; init; }

    /// <summary>Do not follow redirects (hey <c>-disable-redirects</c>). Default false.</summary>
    public bool DisableRedirects { get; init; }

    /// <summary>Every problem with these options (empty when they are usable).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Url is null || !Url.IsAbsoluteUri || (Url.Scheme != Uri.UriSchemeHttp && Url.Scheme != Uri.UriSchemeHttps))
            errors.Add($"URL must be an absolute http or https URL, got '{Url}'");
        if (string.IsNullOrEmpty(Method) || !Method.All(IsTokenChar))
            errors.Add($"invalid method '{Method}'");
        if (Concurrency < 1) errors.Add("concurrency must be at least 1");
        if (!Steady && Duration is null && Requests < 1) errors.Add("requests must be at least 1");
        if (!Steady && Duration is { } d && d <= TimeSpan.Zero) errors.Add("duration must be positive");
        if (double.IsNaN(RateLimit) || double.IsInfinity(RateLimit) || RateLimit < 0) errors.Add("rate limit must be a non-negative number");
        if (Timeout < TimeSpan.Zero) errors.Add("timeout must not be negative");
        foreach (var (name, _) in Headers)
            if (string.IsNullOrEmpty(name) || !name.All(IsTokenChar)) errors.Add($"invalid header name '{name}'");
        return errors;
    }

    /// <summary>RFC 9110 token characters (methods and header names).</summary>
    internal static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);
}
