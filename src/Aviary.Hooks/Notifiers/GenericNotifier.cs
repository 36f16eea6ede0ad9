using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Microsoft.Extensions.Logging;

namespace Aviary.Hooks.Notifiers;

/// <summary>
/// Aviary's <c>generic</c> type: the alert as JSON, for any receiver —
/// <c>{"canary", "namespace", "message", "severity": "info"|"warn"|"error", "fields": [{"name", "value"}],
/// "time": RFC 3339 UTC}</c>.
/// </summary>
internal sealed class GenericNotifier(NotifierTarget target, HttpClient http, ILogger logger, TimeSpan timeout, TimeProvider time)
    : ServiceNotifier("generic", target, http, logger, timeout, time)
{
    private protected override JsonObject Payload(Alert alert)
    {
        var fields = new JsonArray();
        foreach (var field in alert.Fields) fields.Add(new JsonObject { ["name"] = field.Name, ["value"] = field.Value });
        return new JsonObject
        {
            ["canary"] = alert.Canary,
            ["namespace"] = alert.Namespace,
            ["message"] = alert.Message,
            ["severity"] = SeverityName(alert.Severity),
            ["fields"] = fields,
            ["time"] = Time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
        };
    }
}
