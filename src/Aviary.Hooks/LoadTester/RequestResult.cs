namespace Aviary.Hooks.LoadTester;

/// <summary>Why a request got no answer.</summary>
public enum RequestFailure
{
    /// <summary>The request was answered (any status code).</summary>
    None,

    /// <summary>No complete answer within <see cref="LoadOptions.Timeout"/>.</summary>
    Timeout,

    /// <summary>The host name could not be resolved.</summary>
    NameResolution,

    /// <summary>The connection could not be made or broke (refused, reset, closed early).</summary>
    Connection,

    /// <summary>The TLS handshake failed.</summary>
    Tls,

    /// <summary>The server answered something that is not valid HTTP/1.1.</summary>
    Protocol,

    /// <summary>Any other transport error.</summary>
    Other,
}

/// <summary>One completed request: its answer's status code, or why there was none.</summary>
/// <param name="Offset">When the request was sent, from the start of the run.</param>
/// <param name="StartedAt">When the request was sent, on the run's <see cref="TimeProvider"/>.</param>
/// <param name="Latency">From sending to the last byte of the answer (or to the failure).</param>
/// <param name="StatusCode">The answer's status code; 0 when <see cref="Failure"/> is not <see cref="RequestFailure.None"/>.</param>
/// <param name="Bytes">Bytes of the answer's body as read (after decompression).</param>
/// <param name="Failure">Why there was no answer; <see cref="RequestFailure.None"/> when there was one.</param>
/// <param name="Error">The transport error in hey's style (<c>Get "url": message</c>); null when answered.</param>
public readonly record struct RequestResult(
    TimeSpan Offset,
    DateTimeOffset StartedAt,
    TimeSpan Latency,
    int StatusCode,
    long Bytes,
    RequestFailure Failure,
    string? Error)
{
    /// <summary>When the answer (or the failure) came.</summary>
    public DateTimeOffset CompletedAt => StartedAt + Latency;

    /// <summary>True when the request got no answer.</summary>
    public bool IsError => Failure != RequestFailure.None;

    /// <summary>True when the request failed as a success rate counts it: no answer, or a 5xx answer.</summary>
    public bool IsFailure => IsError || StatusCode >= 500;
}
