using Microsoft.Extensions.Logging;

namespace Aviary.Routing.HAProxy;

/// <summary>The HAProxy router's log events (ids 100–199 of the routing project; the built-in proxy uses 1–99).</summary>
internal static partial class HAProxyLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "HAProxy started (master pid {MasterPid}, worker pid {WorkerPid}) with {Config}")]
    public static partial void Started(ILogger logger, int masterPid, int workerPid, string config);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "HAProxy reloaded its configuration (worker pid {WorkerPid})")]
    public static partial void Reloaded(ILogger logger, int workerPid);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "HAProxy exited with code {ExitCode} ({Output}); starting it again in {Delay}")]
    public static partial void Died(ILogger logger, int exitCode, string output, TimeSpan delay);

    [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "Cannot start HAProxy again: {Error}")]
    public static partial void RestartFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 104, Level = LogLevel.Error, Message = "Supervising HAProxy failed")]
    public static partial void SupervisorError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "Stopping HAProxy pid {Pid} left by a previous run")]
    public static partial void StoppingStale(ILogger logger, int pid);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "HAProxy (master pid {Pid}) stopped")]
    public static partial void Stopped(ILogger logger, int pid);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Routing {Service} through HAProxy backend {Backend} ({Where})")]
    public static partial void ServiceAdded(ILogger logger, string service, string backend, string where);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "Routes of {Service} set to {Weights}: server weights primary [{Primary}], canary [{Canary}]")]
    public static partial void WeightsApplied(ILogger logger, string service, string weights, string primary, string canary);

    [LoggerMessage(EventId = 112, Level = LogLevel.Information, Message = "Endpoints of {Service} {Role} set to [{Endpoints}]")]
    public static partial void EndpointsChanged(ILogger logger, string service, string role, string endpoints);

    [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "No free {Role} slot of {Service} for endpoint {EndpointId} (all {Slots} are taken); it gets no traffic")]
    public static partial void NoFreeSlot(ILogger logger, string service, string role, string endpointId, int slots);

    [LoggerMessage(EventId = 114, Level = LogLevel.Warning, Message = "Cannot apply the routing of {Service} to HAProxy: {Error}; retrying")]
    public static partial void ApplyFailed(ILogger logger, string service, string error);

    [LoggerMessage(EventId = 115, Level = LogLevel.Warning, Message = "Endpoint {EndpointId} of {Service} still has {Sessions} session(s) after {Timeout}")]
    public static partial void DrainTimedOut(ILogger logger, string service, string endpointId, long sessions, TimeSpan timeout);

    [LoggerMessage(EventId = 116, Level = LogLevel.Debug, Message = "Endpoint {EndpointId} of {Service} drained; slot {Slot} freed")]
    public static partial void Drained(ILogger logger, string service, string endpointId, string slot);

    [LoggerMessage(EventId = 117, Level = LogLevel.Error, Message = "Applying routes to HAProxy failed")]
    public static partial void ApplierError(ILogger logger, Exception exception);
}
