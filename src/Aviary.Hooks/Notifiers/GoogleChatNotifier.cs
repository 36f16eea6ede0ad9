using System.Net;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Microsoft.Extensions.Logging;

namespace Aviary.Hooks.Notifiers;

/// <summary>
/// Google Chat (type <c>gchat</c>): the card Flagger sends — a header (title, <c>name.namespace</c> as subtitle),
/// then one section with the message in grey bold and one section per field (name, then the value in grey bold).
/// Unlike Flagger, the title is Aviary, there is no header image, and the texts are HTML-escaped, because card text
/// paragraphs are read as HTML.
/// </summary>
internal sealed class GoogleChatNotifier(NotifierTarget target, HttpClient http, ILogger logger, TimeSpan timeout, TimeProvider time)
    : ServiceNotifier("gchat", target, http, logger, timeout, time)
{
    private protected override JsonObject Payload(Alert alert)
    {
        var sections = new JsonArray { Section($"<font color=#848484><strong>{Html(alert.Message)}</strong></font>") };
        foreach (var field in alert.Fields)
            sections.Add(Section($"{Html(field.Name)}<br><font color=#848484><strong>{Html(field.Value)}</strong></font>"));
        return new JsonObject
        {
            ["cards"] = new JsonArray(new JsonObject
            {
                ["header"] = new JsonObject { ["title"] = "Aviary", ["subtitle"] = Id(alert) },
                ["sections"] = sections,
            }),
        };
    }

    private static JsonObject Section(string text) => new()
    {
        ["widgets"] = new JsonArray(new JsonObject { ["textParagraph"] = new JsonObject { ["text"] = text } }),
    };

    private static string Html(string text) => WebUtility.HtmlEncode(text);
}
