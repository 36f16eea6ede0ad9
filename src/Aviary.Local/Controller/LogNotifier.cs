using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Microsoft.Extensions.Logging;

namespace Aviary.Local.Controller;

/// <summary>The default notifier when no AlertProvider is configured: alerts go to the controller's log.</summary>
public sealed partial class LogNotifier(ILogger logger) : INotifier
{
    public ValueTask PostAsync(NamedReference? provider, Alert alert, CancellationToken cancellationToken)
    {
        LogAlert(logger, alert.Severity.ToString().ToLowerInvariant(), $"{alert.Canary}.{alert.Namespace}", alert.Message);
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "alert ({Severity}) {Canary}: {Message}")]
    private static partial void LogAlert(ILogger logger, string severity, string canary, string message);
}
