using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Routers;

/// <summary>The routers' log events (ids 300–349 of the Kubernetes project).</summary>
internal static partial class KubeRouterLog
{
    [LoggerMessage(EventId = 5300, Level = LogLevel.Information, Message = "{Kind} {Name}.{Namespace} created")]
    public static partial void Created(ILogger logger, string kind, string name, string @namespace);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Information, Message = "{Kind} {Name}.{Namespace} updated")]
    public static partial void Updated(ILogger logger, string kind, string name, string @namespace);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Debug, Message = "{Kind} {Name}.{Namespace} routes {Weights}")]
    public static partial void Routed(ILogger logger, string kind, string name, string @namespace, string weights);

    [LoggerMessage(EventId = 5303, Level = LogLevel.Information, Message = "{Kind} {Name}.{Namespace} restored from annotation {Annotation}")]
    public static partial void Restored(ILogger logger, string kind, string name, string @namespace, string annotation);

    [LoggerMessage(EventId = 5304, Level = LogLevel.Debug, Message = "{Kind} {Name}.{Namespace} changed while being written (409); reading it again (attempt {Attempt})")]
    public static partial void Conflict(ILogger logger, string kind, string name, string @namespace, int attempt);
}
