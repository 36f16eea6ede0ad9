using System.Net;
using Aviary.Core.Primitives;

namespace Aviary.Metrics.Providers;

/// <summary>
/// The HTTP side of a metric provider that asks a vendor's JSON API (Datadog, New Relic, …): one client with the
/// provider's fixed headers, a timeout on the injected clock, and error messages that name the provider, the address,
/// the status and the vendor's own words — never a header's value (keys and tokens travel in headers only).
/// </summary>
internal sealed class HttpApi : IDisposable
{
    private const int MaxAnswerChars = 300;

    private readonly HttpClient _http;
    private readonly string _type;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;

    /// <param name="type">The provider type, for messages.</param>
    /// <param name="address">The API's base address; paths are appended to it.</param>
    /// <param name="headers">Headers sent with every request (credentials).</param>
    public HttpApi(string type, Uri address, IReadOnlyDictionary<string, string> headers, TimeSpan timeout, TimeProvider time)
    {
        _type = type;
        _timeout = timeout;
        _time = time;
        Address = address.GetLeftPart(UriPartial.Path).TrimEnd('/');
        _http = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { Timeout = Timeout.InfiniteTimeSpan };
        foreach (var (name, value) in headers) _http.DefaultRequestHeaders.Add(name, value);
    }

    /// <summary>The base address, without a trailing slash.</summary>
    public string Address { get; }

    /// <summary>GETs <paramref name="pathAndQuery"/>: the status and body, or (status 0) why there is no answer.</summary>
    public Task<(HttpStatusCode Status, string Body, string? Error)> GetAsync(string pathAndQuery, CancellationToken cancellationToken) =>
        SendAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(Address + pathAndQuery)), cancellationToken);

    /// <summary>POSTs <paramref name="json"/> to <paramref name="pathAndQuery"/>, asking for <paramref name="accept"/>.</summary>
    public Task<(HttpStatusCode Status, string Body, string? Error)> PostJsonAsync(string pathAndQuery, string json, string accept, CancellationToken cancellationToken) =>
        SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Address + pathAndQuery))
            {
                Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Accept.ParseAdd(accept);
            return request;
        }, cancellationToken);

    /// <summary>POSTs <paramref name="payload"/> as <paramref name="contentType"/> with per-request <paramref name="headers"/> (a signature).</summary>
    public Task<(HttpStatusCode Status, string Body, string? Error)> PostAsync(string pathAndQuery, byte[] payload, string contentType,
        IEnumerable<KeyValuePair<string, string>> headers, CancellationToken cancellationToken) =>
        SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Address + pathAndQuery)) { Content = new ByteArrayContent(payload) };
            request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
            foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
            return request;
        }, cancellationToken);

    private async Task<(HttpStatusCode Status, string Body, string? Error)> SendAsync(Func<HttpRequestMessage> build, CancellationToken cancellationToken)
    {
        using var deadline = Deadline.After(_timeout, _time, cancellationToken);
        try
        {
            using var request = build();
            using var response = await _http.SendAsync(request, deadline.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false);
            return (response.StatusCode, body, null);
        }
        catch (OperationCanceledException) when (deadline.Expired)
        {
            return (0, "", $"{_type} at {Address} did not answer within {_timeout.TotalSeconds:0.#}s");
        }
        catch (HttpRequestException e)
        {
            return (0, "", $"{_type} at {Address} cannot be reached: {e.Message}");
        }
    }

    /// <summary>The message of a non-200 answer: status, what it usually means, and the vendor's words.</summary>
    public string Refused(HttpStatusCode status, string body)
    {
        var what = status switch
        {
            HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized => "the credentials were refused",
            HttpStatusCode.TooManyRequests => "rate limited",
            >= HttpStatusCode.InternalServerError => "server error",
            _ => "refused the query",
        };
        return $"{_type} at {Address} answered {(int)status} ({what}): {Trim(body)}";
    }

    /// <summary>A vendor's answer shortened to one line for a message.</summary>
    public static string Trim(string text)
    {
        var line = text.ReplaceLineEndings(" ").Trim();
        return line.Length > MaxAnswerChars ? line[..MaxAnswerChars] + "…" : line;
    }

    public void Dispose() => _http.Dispose();
}
