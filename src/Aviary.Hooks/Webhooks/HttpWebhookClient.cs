using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Core.Primitives;

namespace Aviary.Hooks.Webhooks;

/// <summary>
/// Calls webhooks over HTTP the way Flagger does: a JSON POST of <c>{name, namespace, phase, checksum, metadata}</c>
/// (metadata left out when empty) with the hook's timeout per attempt; any 2xx is success; a failure's body, truncated,
/// explains it. A hook with <c>retries</c> is tried again after no answer, a 429 or a 5xx, waiting 250 ms, 500 ms,
/// 1 s, … (at most 8 s) between tries. <c>disableTLS</c> skips certificate checks. With <see cref="WebhookSigning"/>
/// every attempt is signed (<see cref="WebhookSignature"/>). Transport errors and timeouts are results, never exceptions.
/// </summary>
public sealed class HttpWebhookClient : IWebhookClient, IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private static readonly MediaTypeHeaderValue JsonType = new("application/json");

    private readonly HttpClient _client;
    private readonly HttpClient _insecure;
    private readonly TimeProvider _time;
    private readonly byte[]? _secret;

    /// <summary>Creates a client; <paramref name="signing"/> (default none) reads its secret here, once.</summary>
    /// <exception cref="InvalidOperationException">Signing is configured but its secret cannot be read.</exception>
    public HttpWebhookClient(TimeProvider time, WebhookSigning? signing = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _secret = signing?.ReadSecret();
        _client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2), UseCookies = false })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _insecure = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            UseCookies = false,
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>The waits between tries: 250 ms, doubling at each retry up to 8 s.</summary>
    public static Backoff Retry { get; } = new(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(8));

    public async ValueTask<WebhookResult> CallAsync(WebhookCheck hook, WebhookPayload payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(hook);
        ArgumentNullException.ThrowIfNull(payload);
        var body = JsonSerializer.SerializeToUtf8Bytes(Body(payload), Json);
        WebhookResult result = WebhookResult.Unreachable("not called");
        for (var attempt = 0; attempt <= Math.Max(0, hook.Retries); attempt++)
        {
            if (attempt > 0) await Task.Delay(Retry.Delay(attempt), _time, cancellationToken).ConfigureAwait(false);
            result = await CallOnceAsync(hook, body, cancellationToken).ConfigureAwait(false);
            // Retry what may pass on another try: no answer, 429 and 5xx.
            if (result.Succeeded || result.StatusCode is { } s && s != 429 && s < 500) break;
        }
        return result;
    }

    /// <summary>Flagger's payload; metadata is left out when empty, as Flagger's <c>omitempty</c> does.</summary>
    internal static object Body(WebhookPayload payload) => new Payload(payload.Name, payload.Namespace, payload.Phase, payload.Checksum,
        payload.Metadata.Count == 0 ? null : payload.Metadata);

    private async Task<WebhookResult> CallOnceAsync(WebhookCheck hook, byte[] body, CancellationToken cancellationToken)
    {
        using var timeout = Deadline.After(hook.Timeout, _time, cancellationToken);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, hook.Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = JsonType;
            if (_secret is not null)
            {
                var now = _time.GetUtcNow().ToUnixTimeSeconds();
                request.Headers.Add(WebhookSignature.TimestampHeader, now.ToString(CultureInfo.InvariantCulture));
                request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Compute(_secret, now, body));
            }
            var client = hook.DisableTls ? _insecure : _client;
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var text = response.IsSuccessStatusCode ? null : await ReadSomeAsync(response, timeout.Token).ConfigureAwait(false);
            return WebhookResult.FromStatus((int)response.StatusCode, text);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return WebhookResult.Unreachable($"timed out after {GoDuration.Format(hook.Timeout)}");
        }
        catch (HttpRequestException e)
        {
            return WebhookResult.Unreachable(e.InnerException?.Message ?? e.Message);
        }
    }

    private static async Task<string> ReadSomeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var buffer = new char[1024];
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
            var read = await reader.ReadBlockAsync(buffer, cancellationToken).ConfigureAwait(false);
            return new string(buffer, 0, read);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            // The status explains the failure; a body cut short adds nothing.
            return "";
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _insecure.Dispose();
    }

    private sealed record Payload(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("namespace")] string Namespace,
        [property: JsonPropertyName("phase")] string Phase,
        [property: JsonPropertyName("checksum")] string Checksum,
        [property: JsonPropertyName("metadata")] IReadOnlyDictionary<string, string>? Metadata);
}
