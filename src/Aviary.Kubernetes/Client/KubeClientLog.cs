using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Client;

/// <summary>The REST client's log events (ids 1–99 of the Kubernetes project). Tokens and keys are never logged.</summary>
internal static partial class KubeClientLog
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Debug, Message = "{Method} {Path} answered {Code} in {ElapsedMs} ms")]
    public static partial void Request(ILogger logger, string method, string path, int code, long elapsedMs);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "{Method} {Path} failed: {Error}")]
    public static partial void RequestFailed(ILogger logger, string method, string path, string error);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "{Method} {Path} was throttled by the server (429); retrying in {Delay}")]
    public static partial void Throttled(ILogger logger, string method, string path, TimeSpan delay);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Debug, Message = "Update of {Resource} {Namespace}/{Name} met a conflict (attempt {Attempt}); reading it again in {Delay}")]
    public static partial void ConflictRetry(ILogger logger, string resource, string? @namespace, string name, int attempt, TimeSpan delay);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Warning, Message = "Cannot read the token file {Path}: {Error}; keeping the previous token")]
    public static partial void TokenFileUnreadable(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Debug, Message = "Watch of {Resource} in {Namespace} ended; resuming from resourceVersion {ResourceVersion}")]
    public static partial void WatchResumed(ILogger logger, string resource, string @namespace, string resourceVersion);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Information, Message = "Watch of {Resource} in {Namespace} expired at resourceVersion {ResourceVersion} (410 Gone); listing again")]
    public static partial void WatchExpired(ILogger logger, string resource, string @namespace, string resourceVersion);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Warning, Message = "Watch of {Resource} in {Namespace} failed: {Error}; retrying in {Delay}")]
    public static partial void WatchFailed(ILogger logger, string resource, string @namespace, string error, TimeSpan delay);

    [LoggerMessage(EventId = 5013, Level = LogLevel.Debug, Message = "Listed {Count} {Resource} in {Namespace} at resourceVersion {ResourceVersion}")]
    public static partial void Listed(ILogger logger, int count, string resource, string @namespace, string resourceVersion);

    [LoggerMessage(EventId = 5020, Level = LogLevel.Debug, Message = "Discovered {Kind} of {ApiVersion} as resource {Resource}")]
    public static partial void Discovered(ILogger logger, string kind, string apiVersion, string resource);
}
