using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Microsoft.Extensions.Logging;

namespace Aviary.Hooks.Notifiers;

/// <summary>
/// Slack (type <c>slack</c>): Flagger's message (<see cref="SlackMessage"/>) with Slack's attachment colors by severity
/// (<c>good</c>, <c>warning</c>, <c>danger</c>; Flagger uses only good and danger), posted to an incoming webhook, or to
/// <c>chat.postMessage</c> with the secret's <c>token</c> as a bearer token; the API's <c>"ok": false</c> answer is a failure.
/// </summary>
internal sealed class SlackNotifier(NotifierTarget target, HttpClient http, ILogger logger, TimeSpan timeout, TimeProvider time)
    : ServiceNotifier("slack", target, http, logger, timeout, time)
{
    private protected override JsonObject Payload(Alert alert) => SlackMessage.Build(Target, alert, alert.Severity switch
    {
        AlertSeverity.Error => "danger",
        AlertSeverity.Warn => "warning",
        _ => "good",
    });

    private protected override string? BearerToken => Target.Token;

    private protected override Outcome CheckAnswer(string body)
    {
        // Incoming webhooks answer "ok"; the Web API answers 200 with {"ok": false, "error": "..."} on failure.
        if (!body.TrimStart().StartsWith('{')) return Outcome.Ok;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.False)
            {
                var error = doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : "unknown error";
                return Outcome.Fail($"Slack refused the message: {error}");
            }
        }
        catch (JsonException)
        {
        }
        return Outcome.Ok;
    }
}
