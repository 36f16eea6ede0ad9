using Microsoft.Extensions.Logging;

namespace Aviary.Routing.Proxy;

/// <summary>The proxy's log events. Ids are stable; messages never carry request paths, queries, headers or bodies.</summary>
internal static partial class ProxyLog
{
    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Listening for {Service} on {Address}")]
    public static partial void ListenerStarted(ILogger logger, string service, string address);

    [LoggerMessage(EventId = 502, Level = LogLevel.Information, Message = "Stopped listening for {Service}")]
    public static partial void ListenerStopped(ILogger logger, string service);

    [LoggerMessage(EventId = 503, Level = LogLevel.Warning, Message = "Cannot listen for {Service} on {Address}: {Reason}")]
    public static partial void ListenFailed(ILogger logger, string service, string address, string reason);

    [LoggerMessage(EventId = 504, Level = LogLevel.Information,
        Message = "Routes of {Service} set to {Weights}, {MatchCount} match condition(s), mirror weight {MirrorWeight}, session affinity {Affinity}")]
    public static partial void RouteChanged(ILogger logger, string service, string weights, int matchCount, int mirrorWeight, bool affinity);

    [LoggerMessage(EventId = 505, Level = LogLevel.Information, Message = "Endpoints of {Service} {Backend} set to [{Endpoints}]")]
    public static partial void EndpointsChanged(ILogger logger, string service, string backend, string endpoints);

    [LoggerMessage(EventId = 506, Level = LogLevel.Warning, Message = "Endpoint {EndpointId} of {Service} still has {InFlight} request(s) in flight after {Timeout}")]
    public static partial void DrainTimedOut(ILogger logger, string service, string endpointId, int inFlight, TimeSpan timeout);

    [LoggerMessage(EventId = 507, Level = LogLevel.Debug, Message = "Endpoint {EndpointId} of {Service} drained")]
    public static partial void Drained(ILogger logger, string service, string endpointId);

    [LoggerMessage(EventId = 510, Level = LogLevel.Warning,
        Message = "Forwarding to {Service} {Backend} endpoint {EndpointId} failed: {Error}, answered {Status} ({ExceptionType}: {ExceptionMessage})")]
    public static partial void ForwardFailed(ILogger logger, string service, string backend, string endpointId, string error, int status,
        string exceptionType, string exceptionMessage);

    [LoggerMessage(EventId = 511, Level = LogLevel.Debug,
        Message = "No connection to {Service} {Backend} endpoint {EndpointId} ({Error}); retrying on endpoint {RetryEndpointId}")]
    public static partial void Retrying(ILogger logger, string service, string backend, string endpointId, string error, string retryEndpointId);

    [LoggerMessage(EventId = 516, Level = LogLevel.Warning,
        Message = "No connection to {Service} {Backend} endpoint {EndpointId} ({Error}); passing it over for {Backoff} while others are available")]
    public static partial void EndpointUnreachable(ILogger logger, string service, string backend, string endpointId, string error, TimeSpan backoff);

    [LoggerMessage(EventId = 512, Level = LogLevel.Warning, Message = "No endpoint for {Service} in either backend; answered 503")]
    public static partial void NoEndpoint(ILogger logger, string service);

    [LoggerMessage(EventId = 513, Level = LogLevel.Debug, Message = "Mirror to {Service} canary endpoint {EndpointId} failed: {Error}")]
    public static partial void MirrorFailed(ILogger logger, string service, string endpointId, string error);

    [LoggerMessage(EventId = 514, Level = LogLevel.Debug, Message = "Request to {Service} not mirrored: {Reason}")]
    public static partial void MirrorSkipped(ILogger logger, string service, string reason);

    [LoggerMessage(EventId = 515, Level = LogLevel.Debug, Message = "Client of {Service} went away; upstream call to endpoint {EndpointId} cancelled")]
    public static partial void ClientAborted(ILogger logger, string service, string endpointId);
}
