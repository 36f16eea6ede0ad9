using Aviary.Core.Policy;

namespace Aviary.Core.Abstractions;

/// <summary>Calls a canary's webhooks (gates, hooks, load tests, event hooks).</summary>
public interface IWebhookClient
{
    ValueTask<WebhookResult> CallAsync(WebhookCheck hook, WebhookPayload payload, CancellationToken cancellationToken);
}

/// <summary>Flagger's webhook payload; event hooks add eventMessage, eventType and timestamp to the metadata.</summary>
public sealed record WebhookPayload(string Name, string Namespace, string Phase, string Checksum, IReadOnlyDictionary<string, string> Metadata);

/// <summary>A webhook's answer. Any 2xx is success (Flagger accepts only 200–202).</summary>
public sealed record WebhookResult(int? StatusCode, string? Error)
{
    public bool Succeeded => Error is null && StatusCode is >= 200 and < 300;

    /// <summary>Classifies an HTTP answer; <paramref name="body"/> (truncated) explains a failure.</summary>
    public static WebhookResult FromStatus(int statusCode, string? body = null)
    {
        if (statusCode is >= 200 and < 300) return new(statusCode, null);
        var text = string.IsNullOrWhiteSpace(body) ? "" : ": " + Truncate(body.Trim(), 200);
        return new(statusCode, $"status {statusCode}{text}");
    }

    public static WebhookResult Unreachable(string error) => new(null, error);

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max] + "…";
}
