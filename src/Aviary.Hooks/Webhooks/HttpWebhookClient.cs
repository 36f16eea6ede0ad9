using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;

namespace Aviary.Hooks.Webhooks;

/// <summary>
/// Calls webhooks over HTTP the way Flagger does: a JSON POST of the payload with the hook's timeout; any 2xx is
/// success; a failure's (truncated) body explains it. Transport errors and timeouts are results, never exceptions.
/// </summary>
public sealed class HttpWebhookClient : IWebhookClient, IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly HttpClient _client;
    private readonly HttpClient _insecure;
    private readonly TimeProvider _time;

    public HttpWebhookClient(TimeProvider time)
    {
        _time = time;
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

    public async ValueTask<WebhookResult> CallAsync(WebhookCheck hook, WebhookPayload payload, CancellationToken cancellationToken)
    {
        var body = new Payload(payload.Name, payload.Namespace, payload.Phase, payload.Checksum,
            payload.Metadata.Count == 0 ? null : payload.Metadata);
        WebhookResult result = WebhookResult.Unreachable("not called");
        for (var attempt = 0; attempt <= hook.Retries; attempt++)
        {
            if (attempt > 0) await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(8000, 250 * Math.Pow(2, attempt - 1))), _time, cancellationToken);
            result = await CallOnceAsync(hook, body, cancellationToken);
            // Retry what may pass on another try: no answer, 429 and 5xx.
            if (result.Succeeded || result.StatusCode is { } s && s != 429 && s < 500) break;
        }
        return result;
    }

    private async Task<WebhookResult> CallOnceAsync(WebhookCheck hook, Payload body, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(hook.Timeout);
        try
        {
            var client = hook.DisableTls ? _insecure : _client;
            using var response = await client.PostAsJsonAsync(hook.Url, body, Json, timeout.Token);
            var text = response.IsSuccessStatusCode ? null : await ReadSomeAsync(response, timeout.Token);
            return WebhookResult.FromStatus((int)response.StatusCode, text);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return WebhookResult.Unreachable($"timed out after {Core.Primitives.GoDuration.Format(hook.Timeout)}");
        }
        catch (HttpRequestException e)
        {
            return WebhookResult.Unreachable(e.InnerException?.Message ?? e.Message);
        }
    }

    private static async Task<string> ReadSomeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var buffer = new char[1024];
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        var read = await reader.ReadBlockAsync(buffer, cancellationToken);
        return new string(buffer, 0, read);
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
