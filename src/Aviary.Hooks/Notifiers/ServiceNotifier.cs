using Aviary.Core.Primitives;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Microsoft.Extensions.Logging;

namespace Aviary.Hooks.Notifiers;

/// <summary>
/// A notifier bound to one service and address (one AlertProvider): formats an alert as the service expects and posts
/// it as JSON, with a 5-second timeout as Flagger does. Failures are results (<see cref="SendAsync"/>) or log lines
/// (<see cref="PostAsync"/>), never exceptions, and their text never holds the address or the token.
/// Implementations, one per AlertProvider type, are made by <see cref="Create"/>.
/// </summary>
public abstract partial class ServiceNotifier : INotifier
{
    /// <summary>The AlertProvider types with a notifier, Flagger's and Aviary's <c>generic</c>.</summary>
    public static IReadOnlyList<string> Types { get; } = ["slack", "msteams", "discord", "rocket", "gchat", "generic"];

    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly MediaTypeHeaderValue JsonType = new("application/json") { CharSet = "utf-8" };

    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <summary>The clock of the post's timeout and of payload timestamps.</summary>
    private protected TimeProvider Time => _time;

    private protected ServiceNotifier(string type, NotifierTarget target, HttpClient http, ILogger logger, TimeSpan timeout, TimeProvider time)
    {
        _time = time;
        Type = type;
        Target = target;
        _http = http;
        _logger = logger;
        Timeout = timeout;
    }

    /// <summary>The AlertProvider type, e.g. <c>slack</c>.</summary>
    public string Type { get; }

    /// <summary>The timeout of one post.</summary>
    public TimeSpan Timeout { get; }

    internal NotifierTarget Target { get; }

    /// <summary>The address posted to (Discord's adds <c>/slack</c>).</summary>
    internal virtual Uri PostAddress => Target.Address;

    /// <summary>Flagger's default post timeout.</summary>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Makes the notifier of AlertProvider type <paramref name="type"/>; an unknown type is an error, never a
    /// fallback. <paramref name="http"/> must already use <see cref="NotifierTarget.Proxy"/>
    /// (<see cref="CreateHttpClient"/>); it is not disposed by the notifier.
    /// </summary>
    public static Outcome<ServiceNotifier> Create(
        string type, NotifierTarget target, HttpClient http, TimeProvider time, ILogger logger, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        if (!target.Address.IsAbsoluteUri || target.Address.Scheme is not ("http" or "https"))
            return Outcome<ServiceNotifier>.Fail("the address is not an absolute http or https URL");
        var t = timeout ?? DefaultTimeout;
        return type switch
        {
            "slack" => new SlackNotifier(target, http, logger, t, time),
            "msteams" => new TeamsNotifier(target, http, logger, t, time),
            "discord" => new DiscordNotifier(target, http, logger, t, time),
            "rocket" => new RocketNotifier(target, http, logger, t, time),
            "gchat" => new GoogleChatNotifier(target, http, logger, t, time),
            "generic" => new GenericNotifier(target, http, logger, t, time),
            _ => Outcome<ServiceNotifier>.Fail($"provider {type} not supported (supported: {string.Join(", ", Types)})"),
        };
    }

    /// <summary>An HTTP client for notifiers: through <paramref name="proxy"/> when given (its user info as credentials).</summary>
    public static HttpClient CreateHttpClient(Uri? proxy)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2), UseCookies = false };
        if (proxy is not null)
        {
            var webProxy = new WebProxy(new UriBuilder(proxy) { UserName = "", Password = "" }.Uri);
            if (!string.IsNullOrEmpty(proxy.UserInfo))
            {
                var parts = proxy.UserInfo.Split(':', 2);
                webProxy.Credentials = new NetworkCredential(Uri.UnescapeDataString(parts[0]), parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "");
            }
            handler.Proxy = webProxy;
            handler.UseProxy = true;
        }
        return new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    /// <summary>The exact JSON body posted for <paramref name="alert"/>.</summary>
    public string FormatPayload(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return Payload(alert).ToJsonString(Json);
    }

    /// <summary>The service's message for <paramref name="alert"/>.</summary>
    private protected abstract JsonObject Payload(Alert alert);

    /// <summary>The bearer token to send, if any (Slack's).</summary>
    private protected virtual string? BearerToken => null;

    /// <summary>Reads a 2xx answer: a service may report failure in it (Slack's API answers <c>"ok": false</c>).</summary>
    private protected virtual Outcome CheckAnswer(string body) => Outcome.Ok;

    /// <summary>Posts <paramref name="alert"/> and reports how it went; the error never holds the address or the token.</summary>
    public async ValueTask<Outcome> SendAsync(Alert alert, CancellationToken cancellationToken)
    {
        var body = Encoding.UTF8.GetBytes(FormatPayload(alert));
        using var timeout = Deadline.After(Timeout, _time, cancellationToken);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, PostAddress) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = JsonType;
            if (BearerToken is { Length: > 0 } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is < 200 or >= 300) return Outcome.Fail(Redact($"sending notification bad response {status}: {Truncate(text.Trim())}"));
            var answer = CheckAnswer(text);
            return answer.Succeeded ? answer : Outcome.Fail(Redact(answer.Error!));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Outcome.Fail($"sending notification timed out after {Timeout.TotalSeconds:0.###}s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException or InvalidOperationException)
        {
            return Outcome.Fail(Redact($"sending notification failed: {e.InnerException?.Message ?? e.Message}"));
        }
    }

    /// <summary>Posts <paramref name="alert"/>; a failure is logged (without the address), never thrown.</summary>
    public async ValueTask PostAsync(NamedReference? provider, Alert alert, CancellationToken cancellationToken)
    {
        var result = await SendAsync(alert, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded) LogSendFailed(_logger, Type, $"{alert.Canary}.{alert.Namespace}", result.Error!);
    }

    /// <summary>Removes the address, its path and query, and the token from <paramref name="text"/>.</summary>
    internal string Redact(string text)
    {
        foreach (var secret in new[] { Target.Address.OriginalString, Target.Address.AbsoluteUri, PostAddress.AbsoluteUri, Target.Address.PathAndQuery, Target.Token })
        {
            if (secret is { Length: > 1 } && secret != "/") text = text.Replace(secret, "<redacted>", StringComparison.Ordinal);
        }
        return text;
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";

    private protected static string Id(Alert alert) => $"{alert.Canary}.{alert.Namespace}";

    private protected static string SeverityName(AlertSeverity severity) => severity switch
    {
        AlertSeverity.Warn => "warn",
        AlertSeverity.Error => "error",
        _ => "info",
    };

    [LoggerMessage(EventId = 3110, Level = LogLevel.Warning, Message = "{Type} alert for {Canary} not sent: {Error}")]
    private static partial void LogSendFailed(ILogger logger, string type, string canary, string error);
}
