using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Microsoft.Extensions.Logging;

namespace Aviary.Hooks.Notifiers;

/// <summary>
/// Discord (type <c>discord</c>), as Flagger does it: Slack's message (<see cref="SlackMessage"/>) posted to the
/// webhook's Slack-compatible endpoint, the address with <c>/slack</c> appended to its path unless it ends so already.
/// Native embeds are not used, so an AlertProvider behaves as under Flagger.
/// </summary>
internal sealed class DiscordNotifier(NotifierTarget target, HttpClient http, ILogger logger, TimeSpan timeout, TimeProvider time)
    : ServiceNotifier("discord", target, http, logger, timeout, time)
{
    internal override Uri PostAddress { get; } = SlackEndpoint(target.Address);

    private protected override JsonObject Payload(Alert alert) => SlackMessage.Build(Target, alert, alert.Severity switch
    {
        AlertSeverity.Error => "danger",
        AlertSeverity.Warn => "warning",
        _ => "good",
    });

    internal static Uri SlackEndpoint(Uri address)
    {
        if (address.AbsolutePath.EndsWith("/slack", StringComparison.Ordinal)) return address;
        var builder = new UriBuilder(address);
        builder.Path = builder.Path.TrimEnd('/') + "/slack";
        return builder.Uri;
    }
}
