using Microsoft.Extensions.Logging;

namespace Aviary.Demo;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "demo {Version} listening on {Addresses}")]
    public static partial void Listening(ILogger logger, string version, string addresses);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "demo {Version} stopping: finishing in-flight requests")]
    public static partial void Stopping(ILogger logger, string version);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "demo {Version} stopped")]
    public static partial void Stopped(ILogger logger, string version);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "injected fault: {Method} {Path} answered 500")]
    public static partial void InjectedFault(ILogger logger, string method, string path);
}
