using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// Aviary's small Kubernetes REST client. One instance per API server and identity; thread-safe; dispose it at
/// the end. Requests go through a client-side token bucket (<see cref="KubeClientOptions.Qps"/>,
/// <see cref="KubeClientOptions.Burst"/>), authenticate with the configuration's token, token file, client
/// certificate or basic auth, and trust only the configured CAs. Work on a resource through
/// <see cref="Resource{T}(ResourceType)"/> (typed) or <see cref="Resource(ResourceType)"/> (<see cref="JsonObject"/>);
/// find a resource by group, version and kind with <see cref="Catalog"/>. Expected failures are
/// <see cref="KubeResult{T}"/> errors, never exceptions.
/// </summary>
public sealed class KubeClient : IDisposable
{
    private const int MaxErrorBodyBytes = 64 * 1024;

    private readonly HttpClient _http;
    private readonly string _root;
    private readonly TokenSource _tokens;
    private readonly ServerCertificateValidator _validator;
    private readonly ILogger _logger;

    /// <param name="config">Where the server is and how to authenticate (see <see cref="KubeClientConfig"/>).</param>
    /// <param name="options">Limits and retries; defaults when null.</param>
    /// <param name="timeProvider">The clock for timeouts, rate limits, backoff and token refresh; the system's when null.</param>
    /// <param name="loggerFactory">Where the client logs (category <c>Aviary.Kubernetes.Client</c>); nowhere when null.</param>
    public KubeClient(KubeClientConfig config, KubeClientOptions? options = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        options ??= new KubeClientOptions();
        options.Validate();
        if (config.Server.Scheme is not ("https" or "http")) throw new ArgumentException($"the server must be an http(s) URL: {config.Server}", nameof(config));
        Config = config;
        Options = options;
        Time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Aviary.Kubernetes.Client");
        RateLimiter = new KubeRateLimiter(options.Qps, options.Burst, Time);
        _tokens = new TokenSource(config.Credentials, options.TokenRefreshInterval, Time, _logger);
        _validator = new ServerCertificateValidator(config, Time);
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.GZip,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        handler.SslOptions.RemoteCertificateValidationCallback = _validator.Validate;
        if (config.Credentials.ClientCertificate is { } certificate)
            handler.SslOptions.ClientCertificates = [certificate];
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _root = config.Server.GetLeftPart(UriPartial.Path).TrimEnd('/');
        Catalog = new ResourceCatalog(this, _logger);
    }

    public KubeClientConfig Config { get; }

    public KubeClientOptions Options { get; }

    /// <summary>Requests by verb, resource and code, and the rate limiter's waits.</summary>
    public KubeClientMetrics Metrics { get; } = new();

    /// <summary>The informers' cache, once <see cref="EnableCache"/> has been called; null: every read goes to the server.</summary>
    public KubeCache? Cache { get; private set; }

    /// <summary>
    /// Answers reads from informers from now on (see <see cref="KubeCache"/>); call once, before the client is shared.
    /// Disposing the client stops them.
    /// </summary>
    public KubeCache EnableCache(KubeCacheOptions? options = null)
    {
        if (Cache is not null) throw new InvalidOperationException("the cache is already enabled");
        return Cache = new KubeCache(this, options ?? new KubeCacheOptions());
    }

    /// <summary>The client-side rate limiter every request waits on.</summary>
    public KubeRateLimiter RateLimiter { get; }

    /// <summary>Maps group/version/kind to resources: the built-in <see cref="KubeResources"/> table, then discovery.</summary>
    public ResourceCatalog Catalog { get; }

    internal TimeProvider Time { get; }

    internal ILogger Logger => _logger;

    /// <summary>Objects of <paramref name="type"/> as <see cref="JsonObject"/> (every field kept).</summary>
    public ResourceClient<JsonObject> Resource(ResourceType type) => new(this, type);

    /// <summary>
    /// Objects of <paramref name="type"/> as <typeparamref name="T"/>, (de)serialized with <see cref="KubeJson.Options"/>.
    /// For updates, give the model a <c>[JsonExtensionData]</c> dictionary so that fields it lacks survive a PUT.
    /// </summary>
    public ResourceClient<T> Resource<T>(ResourceType type)
        where T : class => new(this, type);

    /// <summary>The server's <c>/version</c> (gitVersion, major, minor, platform…).</summary>
    public async Task<KubeResult<JsonObject>> GetVersionAsync(CancellationToken cancellationToken = default)
    {
        var result = await SendAsync(HttpMethod.Get, "/version", null, cancellationToken).ConfigureAwait(false);
        return AsObject(result);
    }

    /// <summary>
    /// Sends any request (e.g. a TokenRequest or SelfSubjectAccessReview) with a JSON body; the answer's JSON, or the
    /// error. <paramref name="pathAndQuery"/> starts with <c>/</c> and is relative to the server URL (a path prefix in it is kept).
    /// </summary>
    public Task<KubeResult<JsonNode?>> SendAsync(HttpMethod method, string pathAndQuery, JsonNode? body, CancellationToken cancellationToken = default) =>
        SendAsync(method, pathAndQuery, body?.ToJsonString(KubeJson.Options), "application/json", cancellationToken);

    internal async Task<KubeResult<JsonNode?>> SendAsync(HttpMethod method, string pathAndQuery, string? body, string contentType,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentException.ThrowIfNullOrEmpty(pathAndQuery);
        for (var attempt = 0; ; attempt++)
        {
            await WaitForLimiterAsync(cancellationToken).ConfigureAwait(false);
            var started = Time.GetTimestamp();
            using var timeout = new CancellationTokenSource(Options.RequestTimeout, Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            try
            {
                using var request = CreateRequest(method, pathAndQuery, body, contentType, out var authError);
                if (authError is not null) return KubeResult<JsonNode?>.Fail(authError);
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token).ConfigureAwait(false);
                var text = await response.Content.ReadAsStringAsync(linked.Token).ConfigureAwait(false);
                var code = (int)response.StatusCode;
                Metrics.Request(method, pathAndQuery, code);
                KubeClientLog.Request(_logger, method.Method, PathOnly(pathAndQuery), code, (long)Time.GetElapsedTime(started).TotalMilliseconds);
                if (response.IsSuccessStatusCode) return Parse(text);
                // A plugin's token may have been revoked or expired early: run the plugin again once, as client-go does.
                if (code == 401 && attempt == 0 && _tokens.Invalidate()) continue;
                var error = KubeError.FromResponse(code, text.Length > MaxErrorBodyBytes ? text[..MaxErrorBodyBytes] : text);
                if (error.Reason == KubeErrorReason.TooManyRequests && attempt < Options.ThrottledRetries)
                {
                    var delay = RetryAfter(response);
                    KubeClientLog.Throttled(_logger, method.Method, PathOnly(pathAndQuery), delay);
                    await Task.Delay(delay, Time, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                return KubeResult<JsonNode?>.Fail(error);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Metrics.Request(method, pathAndQuery, 0);
                return Failed(method, pathAndQuery, KubeError.Client(KubeErrorReason.ClientTimeout,
                    $"{method} {PathOnly(pathAndQuery)}: no answer from {Config.Server} within {Options.RequestTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s"));
            }
            catch (HttpRequestException e)
            {
                Metrics.Request(method, pathAndQuery, 0);
                return Failed(method, pathAndQuery, Unreachable(e));
            }
        }
    }

    /// <summary>Opens a streaming GET (a watch): the response once its headers arrived, or the error.</summary>
    internal async Task<(HttpResponseMessage? Response, KubeError? Error)> OpenStreamAsync(string pathAndQuery, CancellationToken cancellationToken)
    {
        await WaitForLimiterAsync(cancellationToken).ConfigureAwait(false);
        using var timeout = new CancellationTokenSource(Options.RequestTimeout, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        HttpResponseMessage? response = null;
        try
        {
            using var request = CreateRequest(HttpMethod.Get, pathAndQuery, null, null, out var authError);
            if (authError is not null) return (null, authError);
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            Metrics.Request(HttpMethod.Get, pathAndQuery, (int)response.StatusCode);
            if (response.IsSuccessStatusCode) return (response, null);
            var text = await response.Content.ReadAsStringAsync(linked.Token).ConfigureAwait(false);
            var error = KubeError.FromResponse((int)response.StatusCode, text);
            response.Dispose();
            return (null, error);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            response?.Dispose();
            return (null, KubeError.Client(KubeErrorReason.ClientTimeout, $"GET {PathOnly(pathAndQuery)}: no answer from {Config.Server} within {Options.RequestTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s"));
        }
        catch (HttpRequestException e)
        {
            response?.Dispose();
            return (null, Unreachable(e));
        }
        catch
        {
            response?.Dispose();
            throw;
        }
    }

    private async ValueTask WaitForLimiterAsync(CancellationToken cancellationToken)
    {
        var started = Time.GetTimestamp();
        await RateLimiter.WaitAsync(cancellationToken).ConfigureAwait(false);
        Metrics.RateLimiterWait.Observe(Time.GetElapsedTime(started));
    }

    private HttpRequestMessage CreateRequest(HttpMethod method, string pathAndQuery, string? body, string? contentType, out KubeError? authError)
    {
        if (!pathAndQuery.StartsWith('/')) throw new ArgumentException($"the path must start with '/': {pathAndQuery}", nameof(pathAndQuery));
        var request = new HttpRequestMessage(method, _root + pathAndQuery);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.UserAgent.ParseAdd(Options.UserAgent);
        authError = null;
        var (token, tokenError) = _tokens.Current();
        if (tokenError is not null)
        {
            authError = KubeError.Client(KubeErrorReason.ClientError, tokenError);
        }
        else if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        else if (Config.Credentials.Username is { } user)
        {
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + Config.Credentials.Password));
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
        }
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType ?? "application/json");
        }
        return request;
    }

    private KubeResult<JsonNode?> Failed(HttpMethod method, string pathAndQuery, KubeError error)
    {
        KubeClientLog.RequestFailed(_logger, method.Method, PathOnly(pathAndQuery), error.Message);
        return KubeResult<JsonNode?>.Fail(error);
    }

    private KubeError Unreachable(HttpRequestException e)
    {
        var tls = e.InnerException is AuthenticationException ? _validator.LastFailure : null;
        var detail = tls ?? (e.InnerException is { Message.Length: > 0 } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal)
            ? $"{e.Message} ({inner.Message})"
            : e.Message);
        return KubeError.Client(KubeErrorReason.Unreachable, $"cannot reach {Config.Server}: {detail}");
    }

    private static KubeResult<JsonNode?> Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return KubeResult<JsonNode?>.Ok(null);
        try
        {
            return KubeResult<JsonNode?>.Ok(JsonNode.Parse(text));
        }
        catch (JsonException e)
        {
            return KubeResult<JsonNode?>.Fail(KubeError.Client(KubeErrorReason.ClientError, "the server's answer is not JSON: " + e.Message));
        }
    }

    internal static KubeResult<JsonObject> AsObject(KubeResult<JsonNode?> result) =>
        !result.Succeeded ? KubeResult<JsonObject>.Fail(result.Error!)
        : result.Value is JsonObject o ? KubeResult<JsonObject>.Ok(o)
        : KubeResult<JsonObject>.Fail(KubeError.Client(KubeErrorReason.ClientError, "the server's answer is not a JSON object"));

    private TimeSpan RetryAfter(HttpResponseMessage response)
    {
        var seconds = response.Headers.RetryAfter?.Delta?.TotalSeconds
            ?? (response.Headers.TryGetValues("Retry-After", out var values)
                && double.TryParse(values.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? s : 1);
        return TimeSpan.FromSeconds(Math.Clamp(seconds, 0.1, 10));
    }

    private static string PathOnly(string pathAndQuery)
    {
        var q = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        return q < 0 ? pathAndQuery : pathAndQuery[..q];
    }

    public override string ToString() => "Kubernetes client for " + Config;

    public void Dispose()
    {
        // Informers end with their watches' connections.
        Cache?.Cancel();
        _http.Dispose();
    }
}
