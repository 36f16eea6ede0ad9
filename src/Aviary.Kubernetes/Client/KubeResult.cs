using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// Why a request failed, from the Status object's <c>reason</c> (or the HTTP code when it has none), plus the
/// client-side failures that never reached an answer.
/// </summary>
public enum KubeErrorReason
{
    /// <summary>A reason this client does not know (see <see cref="KubeError.Status"/>).</summary>
    Unknown,

    /// <summary>400.</summary>
    BadRequest,

    /// <summary>401: no or wrong credentials.</summary>
    Unauthorized,

    /// <summary>403: RBAC (or admission) denied it.</summary>
    Forbidden,

    /// <summary>404.</summary>
    NotFound,

    /// <summary>405.</summary>
    MethodNotAllowed,

    /// <summary>409 with reason AlreadyExists: a create found the name taken.</summary>
    AlreadyExists,

    /// <summary>409 with reason Conflict: the resourceVersion of an update is stale.</summary>
    Conflict,

    /// <summary>410: a resourceVersion (watch, list continue token) is too old; re-list.</summary>
    Expired,

    /// <summary>413.</summary>
    RequestEntityTooLarge,

    /// <summary>415.</summary>
    UnsupportedMediaType,

    /// <summary>422: the object fails validation (schema, immutable field).</summary>
    Invalid,

    /// <summary>429: throttled by the server (after the client's own retries).</summary>
    TooManyRequests,

    /// <summary>500.</summary>
    InternalError,

    /// <summary>503.</summary>
    ServiceUnavailable,

    /// <summary>504 or reason Timeout/ServerTimeout: the server gave up.</summary>
    ServerTimeout,

    /// <summary>No answer: connection refused, TLS failure (e.g. an untrusted server certificate), reset.</summary>
    Unreachable,

    /// <summary>No answer within the client's request timeout.</summary>
    ClientTimeout,

    /// <summary>An answer the client cannot read (not JSON, wrong shape), or credentials it cannot read.</summary>
    ClientError,
}

/// <summary>A failed request: the HTTP code (0 when there was no answer), the reason, a message, and the server's Status if any.</summary>
public sealed record KubeError(int Code, KubeErrorReason Reason, string Message, KubeStatus? Status = null)
{
    /// <summary>Builds the error of an HTTP answer from its body (a Status object, or anything else).</summary>
    public static KubeError FromResponse(int code, string? body)
    {
        KubeStatus? status = null;
        if (!string.IsNullOrWhiteSpace(body) && body.TrimStart().StartsWith('{'))
        {
            try
            {
                status = JsonSerializer.Deserialize<KubeStatus>(body, KubeJson.Options);
                if (status?.Kind != "Status") status = null;
            }
            catch (JsonException)
            {
                // Not a Status: the body is the message.
            }
        }
        var reason = ReasonOf(status?.Reason, code);
        var message = status?.Message is { Length: > 0 } m ? m
            : string.IsNullOrWhiteSpace(body) ? $"HTTP {code.ToString(CultureInfo.InvariantCulture)}"
            : Truncate(body.Trim(), 500);
        return new KubeError(code, reason, message, status);
    }

    /// <summary>Maps a Status reason (and the code, when the reason is missing or unknown) to <see cref="KubeErrorReason"/>.</summary>
    public static KubeErrorReason ReasonOf(string? reason, int code) => reason switch
    {
        "BadRequest" => KubeErrorReason.BadRequest,
        "Unauthorized" => KubeErrorReason.Unauthorized,
        "Forbidden" => KubeErrorReason.Forbidden,
        "NotFound" => KubeErrorReason.NotFound,
        "MethodNotAllowed" => KubeErrorReason.MethodNotAllowed,
        "AlreadyExists" => KubeErrorReason.AlreadyExists,
        "Conflict" => KubeErrorReason.Conflict,
        "Gone" or "Expired" => KubeErrorReason.Expired,
        "RequestEntityTooLarge" => KubeErrorReason.RequestEntityTooLarge,
        "UnsupportedMediaType" => KubeErrorReason.UnsupportedMediaType,
        "Invalid" => KubeErrorReason.Invalid,
        "TooManyRequests" => KubeErrorReason.TooManyRequests,
        "InternalError" => KubeErrorReason.InternalError,
        "ServiceUnavailable" => KubeErrorReason.ServiceUnavailable,
        "Timeout" or "ServerTimeout" => KubeErrorReason.ServerTimeout,
        _ => code switch
        {
            400 => KubeErrorReason.BadRequest,
            401 => KubeErrorReason.Unauthorized,
            403 => KubeErrorReason.Forbidden,
            404 => KubeErrorReason.NotFound,
            405 => KubeErrorReason.MethodNotAllowed,
            409 => KubeErrorReason.Conflict,
            410 => KubeErrorReason.Expired,
            413 => KubeErrorReason.RequestEntityTooLarge,
            415 => KubeErrorReason.UnsupportedMediaType,
            422 => KubeErrorReason.Invalid,
            429 => KubeErrorReason.TooManyRequests,
            500 => KubeErrorReason.InternalError,
            503 => KubeErrorReason.ServiceUnavailable,
            504 => KubeErrorReason.ServerTimeout,
            _ => KubeErrorReason.Unknown,
        },
    };

    internal static KubeError Client(KubeErrorReason reason, string message) => new(0, reason, message);

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";

    public override string ToString() => Code == 0 ? $"{Reason}: {Message}" : $"{Code.ToString(CultureInfo.InvariantCulture)} {Reason}: {Message}";
}

/// <summary>
/// The outcome of a request: a value, or a <see cref="KubeError"/>. Expected failures (NotFound, Conflict,
/// AlreadyExists, Forbidden, an unreachable server…) are data; use <see cref="GetValueOrThrow"/> where a failure
/// is a bug. Exceptions from the client itself are for bad arguments and the caller's cancellation.
/// </summary>
public readonly record struct KubeResult<T>
{
    private readonly T? _value;

    private KubeResult(T? value, KubeError? error)
    {
        _value = value;
        Error = error;
    }

    /// <summary>The failure, or null on success.</summary>
    public KubeError? Error { get; }

    public bool Succeeded => Error is null;

    /// <summary>The value; throws <see cref="KubeApiException"/> when the request failed.</summary>
    public T Value => Error is null ? _value! : throw new KubeApiException(Error);

    public bool IsNotFound => Error?.Reason == KubeErrorReason.NotFound;

    public bool IsConflict => Error?.Reason == KubeErrorReason.Conflict;

    public bool IsAlreadyExists => Error?.Reason == KubeErrorReason.AlreadyExists;

    public bool IsForbidden => Error?.Reason == KubeErrorReason.Forbidden;

    public static KubeResult<T> Ok(T value) => new(value, null);

    public static KubeResult<T> Fail(KubeError error) => new(default, error ?? throw new ArgumentNullException(nameof(error)));

    /// <summary>The value, or <see cref="KubeApiException"/> with the server's Status.</summary>
    public T GetValueOrThrow() => Value;

    /// <summary>The value when it succeeded, else <paramref name="fallback"/>.</summary>
    public T? ValueOr(T? fallback) => Error is null ? _value : fallback;

    /// <summary>The same failure with another value type.</summary>
    public KubeResult<TOther> Cast<TOther>() => Error is null
        ? throw new InvalidOperationException("a successful result has a value to convert, not an error")
        : KubeResult<TOther>.Fail(Error);

    public override string ToString() => Error is null ? $"ok: {_value}" : Error.ToString();
}

/// <summary>A failed request turned into an exception (by <see cref="KubeResult{T}.GetValueOrThrow"/>).</summary>
public sealed class KubeApiException : Exception
{
    public KubeApiException(KubeError error)
        : base((error ?? throw new ArgumentNullException(nameof(error))).ToString()) => Error = error;

    public KubeApiException()
        : this(KubeError.Client(KubeErrorReason.Unknown, "unknown error"))
    {
    }

    public KubeApiException(string message)
        : this(KubeError.Client(KubeErrorReason.Unknown, message))
    {
    }

    public KubeApiException(string message, Exception innerException)
        : base(message, innerException) => Error = KubeError.Client(KubeErrorReason.Unknown, message);

    public KubeError Error { get; }

    /// <summary>The HTTP code (0 without an answer).</summary>
    public int Code => Error.Code;

    public KubeErrorReason Reason => Error.Reason;

    /// <summary>The server's Status object, if it sent one.</summary>
    public KubeStatus? Status => Error.Status;
}

/// <summary>Kubernetes' <c>Status</c> object (meta/v1), as sent with every error.</summary>
public sealed record KubeStatus
{
    public string? Kind { get; init; }

    public string? ApiVersion { get; init; }

    /// <summary><c>Success</c> or <c>Failure</c>.</summary>
    [JsonPropertyName("status")]
    public string? Outcome { get; init; }

    public string? Message { get; init; }

    /// <summary>A CamelCase reason such as <c>NotFound</c>, <c>Conflict</c>, <c>Expired</c>.</summary>
    public string? Reason { get; init; }

    public int Code { get; init; }

    /// <summary>name, group, kind, uid, causes, retryAfterSeconds.</summary>
    public JsonObject? Details { get; init; }
}
