using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Microsoft.Extensions.Logging;

namespace Aviary.Hooks.Notifiers;

/// <summary>
/// Microsoft Teams (type <c>msteams</c>): the legacy actionable MessageCard Flagger sends to an incoming webhook —
/// <c>themeColor</c> by severity (Flagger's blue, red for errors; orange for warnings), <c>name.namespace</c> as
/// summary and subtitle, the message as title and the alert's fields as facts.
/// </summary>
internal sealed class TeamsNotifier(NotifierTarget target, HttpClient http, ILogger logger, TimeSpan timeout, TimeProvider time)
    : ServiceNotifier("msteams", target, http, logger, timeout, time)
{
    private protected override JsonObject Payload(Alert alert)
    {
        var facts = new JsonArray();
        foreach (var field in alert.Fields) facts.Add(new JsonObject { ["name"] = field.Name, ["value"] = field.Value });
        return new JsonObject
        {
            ["@type"] = "MessageCard",
            ["@context"] = "http://schema.org/extensions",
            ["themeColor"] = alert.Severity switch
            {
                AlertSeverity.Error => "FF0000",
                AlertSeverity.Warn => "FFA500",
                _ => "0076D7",
            },
            ["summary"] = Id(alert),
            ["sections"] = new JsonArray(new JsonObject
            {
                ["activityTitle"] = alert.Message,
                ["activitySubtitle"] = Id(alert),
                ["facts"] = facts,
            }),
        };
    }
}
