using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Services;

/// <summary>The Services' log events (ids 3200–3299).</summary>
internal static partial class ServicesLog
{
    [LoggerMessage(EventId = 5201, Level = LogLevel.Information, Message = "Service {Name}.{Namespace} created")]
    public static partial void Created(ILogger logger, string name, string @namespace);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Information, Message = "Service {Name}.{Namespace} updated")]
    public static partial void Updated(ILogger logger, string name, string @namespace);

    [LoggerMessage(EventId = 5203, Level = LogLevel.Information, Message = "Service {Name}.{Namespace} reverted to {Target}")]
    public static partial void ApexReverted(ILogger logger, string name, string @namespace, string target);
}
