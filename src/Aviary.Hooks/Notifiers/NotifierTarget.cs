namespace Aviary.Hooks.Notifiers;

/// <summary>
/// Where and as whom a notifier posts, resolved from an AlertProvider: the address (from <c>spec.address</c> or the
/// secret's <c>address</c> key), Slack's bearer token (the secret's <c>token</c> key), the proxy, the channel and the
/// user name. The address and the token are secrets (an incoming-webhook address embeds its token):
/// <see cref="ToString"/> never shows them.
/// </summary>
public sealed class NotifierTarget
{
    /// <summary>Flagger's default channel.</summary>
    public const string DefaultChannel = "general";

    /// <summary>The user name posts carry when the provider names none (Flagger uses <c>flagger</c>).</summary>
    public const string DefaultUsername = "aviary";

    /// <summary>The service's webhook (or API) address; absolute http or https.</summary>
    public required Uri Address { get; init; }

    /// <summary>A bearer token sent with Slack posts (e.g. to <c>chat.postMessage</c>); null for none.</summary>
    public string? Token { get; init; }

    /// <summary>An HTTP proxy to post through (<c>spec.proxy</c>); null to connect directly.</summary>
    public Uri? Proxy { get; init; }

    /// <summary>The channel of Slack-like services. Default <see cref="DefaultChannel"/>.</summary>
    public string Channel { get; init; } = DefaultChannel;

    /// <summary>The user name of Slack-like services. Default <see cref="DefaultUsername"/>.</summary>
    public string Username { get; init; } = DefaultUsername;

    public override string ToString() => $"NotifierTarget(channel {Channel}, username {Username}; address hidden)";
}
