using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Microsoft.Extensions.Logging;

namespace Aviary.Hooks.Notifiers;

/// <summary>
/// Rocket.Chat (type <c>rocket</c>): Slack's message (<see cref="SlackMessage"/>), which Rocket.Chat's incoming
/// webhooks accept, with Flagger's hex colors (blue, red for errors) and orange for warnings.
/// </summary>
internal sealed class RocketNotifier(NotifierTarget target, HttpClient http, ILogger logger, TimeSpan timeout, TimeProvider time)
    : ServiceNotifier("rocket", target, http, logger, timeout, time)
{
    private protected override JsonObject Payload(Alert alert) => SlackMessage.Build(Target, alert, alert.Severity switch
    {
        AlertSeverity.Error => "#FF0000",
        AlertSeverity.Warn => "#FFA500",
        _ => "#0076D7",
    });
}
