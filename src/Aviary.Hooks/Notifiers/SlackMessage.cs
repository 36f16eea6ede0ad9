using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;

namespace Aviary.Hooks.Notifiers;

/// <summary>
/// The Slack message Flagger sends, also understood by Rocket.Chat's and Discord's Slack-compatible webhooks:
/// channel, username, <c>:rocket:</c> as icon, and one attachment with a color, <c>name.namespace</c> as author, the
/// message as markdown text and the alert's fields (not short).
/// </summary>
internal static class SlackMessage
{
    public static JsonObject Build(NotifierTarget target, Alert alert, string color)
    {
        var fields = new JsonArray();
        foreach (var field in alert.Fields)
            fields.Add(new JsonObject { ["title"] = field.Name, ["value"] = field.Value, ["short"] = false });
        return new JsonObject
        {
            ["channel"] = target.Channel,
            ["username"] = target.Username,
            ["icon_emoji"] = ":rocket:",
            ["attachments"] = new JsonArray(new JsonObject
            {
                ["color"] = color,
                ["author_name"] = $"{alert.Canary}.{alert.Namespace}",
                ["text"] = alert.Message,
                ["mrkdwn_in"] = new JsonArray("text"),
                ["fields"] = fields,
            }),
        };
    }
}
