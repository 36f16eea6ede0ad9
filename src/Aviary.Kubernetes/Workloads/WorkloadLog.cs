using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Workloads;

/// <summary>The Kubernetes workloads' log events (ids 3100–3199).</summary>
internal static partial class WorkloadLog
{
    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "{Kind} {Name}.{Namespace} created")]
    public static partial void PrimaryCreated(ILogger logger, string kind, string name, string @namespace);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "Copy {Kind} {Name}.{Namespace} synced")]
    public static partial void ConfigSynced(ILogger logger, string kind, string name, string @namespace);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Debug, Message = "Optional {Kind} {Name}.{Namespace} does not exist; not tracked")]
    public static partial void OptionalConfigMissing(ILogger logger, string kind, string name, string @namespace);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Information, Message = "{Kind} {Name}.{Namespace} promoted to revision {Revision}")]
    public static partial void PrimaryPromoted(ILogger logger, string kind, string name, string @namespace, string revision);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Information, Message = "Scaled {Kind} {Name}.{Namespace} to {Replicas} replicas")]
    public static partial void Scaled(ILogger logger, string kind, string name, string @namespace, long replicas);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Information, Message = "DaemonSet {Name}.{Namespace} {Action} (node selector {Key})")]
    public static partial void DaemonSetScaled(ILogger logger, string name, string @namespace, string action, string key);

    [LoggerMessage(EventId = 5107, Level = LogLevel.Information, Message = "HorizontalPodAutoscaler {Name}.{Namespace} created")]
    public static partial void AutoscalerCreated(ILogger logger, string name, string @namespace);

    [LoggerMessage(EventId = 5108, Level = LogLevel.Information, Message = "HorizontalPodAutoscaler {Name}.{Namespace} updated")]
    public static partial void AutoscalerUpdated(ILogger logger, string name, string @namespace);
}
