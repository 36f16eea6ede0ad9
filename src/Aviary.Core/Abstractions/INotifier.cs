using Aviary.Core.Model;
using Aviary.Core.Policy;

namespace Aviary.Core.Abstractions;

/// <summary>Sends alerts: Slack, Teams, Discord, Rocket.Chat, Google Chat or a generic webhook.</summary>
public interface INotifier
{
    /// <summary>
    /// Posts <paramref name="alert"/> through the AlertProvider named by <paramref name="provider"/>, or through the
    /// runtime's default notifier when it is null (a canary without <c>analysis.alerts</c>).
    /// </summary>
    ValueTask PostAsync(NamedReference? provider, Alert alert, CancellationToken cancellationToken);
}

/// <summary>An alert about one canary.</summary>
public sealed record Alert(
    string Canary,
    string Namespace,
    string Message,
    AlertSeverity Severity,
    IReadOnlyList<AlertField> Fields);

public sealed record AlertField(string Name, string Value);
