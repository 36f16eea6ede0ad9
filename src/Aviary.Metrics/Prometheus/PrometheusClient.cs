using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Aviary.Core.Abstractions;
using Aviary.Core.Primitives;

namespace Aviary.Metrics.Prometheus;

/// <summary>
/// A client of Prometheus' HTTP API for instant queries (<c>GET /api/v1/query?query=…</c>), as Flagger's Prometheus
/// provider uses it. Every expected failure — no connection, timeout, an HTTP error, an answer that is not one
/// number — is a <see cref="QueryResult"/> error with a message for the events; exceptions are for bugs and for
/// the caller's cancellation. Credentials are read per query and never appear in a message. Thread-safe.
/// </summary>
public sealed class PrometheusClient : IDisposable
{
    /// <summary>The query <see cref="IsOnlineAsync"/> runs; its answer must be 1.</summary>
    public const string OnlineQuery = "vector(1)";

    /// <summary>Answers larger than this are an error (a query that returns that much is wrong for a check anyway).</summary>
    private const int MaxAnswerBytes = 8 * 1024 * 1024;

    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly string _queryUrl;
    private readonly SemaphoreSlim _slots;

    public PrometheusClient(PrometheusClientOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (!options.Address.IsAbsoluteUri || options.Address.Scheme is not ("http" or "https"))
            throw new ArgumentException($"the Prometheus address must be an absolute http or https URL (got {options.Address})", nameof(options));
        if (options.Timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), options.Timeout, "The timeout must be positive.");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConcurrentQueries, 1, nameof(options));
        _slots = new SemaphoreSlim(options.MaxConcurrentQueries, options.MaxConcurrentQueries);
        Options = options;
        _time = timeProvider;
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            UseCookies = false,
            UseProxy = false,
            AllowAutoRedirect = false,
            MaxConnectionsPerServer = options.MaxConcurrentQueries,
        };
        if (options.InsecureSkipVerify) handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan, MaxResponseContentBufferSize = MaxAnswerBytes };
        var root = options.Address.GetLeftPart(UriPartial.Path).TrimEnd('/');
        _queryUrl = root + "/api/v1/query";
        Address = SafeAddress(options.Address);
    }

    public PrometheusClientOptions Options { get; }

    /// <summary>The server's address without user info, for messages.</summary>
    public string Address { get; }

    /// <summary>Runs an instant query at the server's current time. The query is sent on one line (see <see cref="PromQl.Normalize"/>).</summary>
    public async ValueTask<QueryResult> QueryAsync(string query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var text = PromQl.Normalize(query);
        if (text.Length == 0) return QueryResult.Failed("the query is empty");
        using var request = new HttpRequestMessage(HttpMethod.Get, _queryUrl + "?query=" + Uri.EscapeDataString(text));
        foreach (var (name, values) in Options.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, values))
                return QueryResult.Failed($"header '{name}' cannot be sent with a query");
        }
        if (Options.Auth is { } auth)
        {
            var header = Authorization(auth);
            if (!header.Succeeded) return QueryResult.Failed($"cannot read the credentials for Prometheus at {Address}: {header.Error}");
            if (header.Value is { } value) request.Headers.Authorization = value;
        }

        using var timeout = new CancellationTokenSource(Options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var entered = false;
        try
        {
            await _slots.WaitAsync(linked.Token).ConfigureAwait(false);
            entered = true;
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(linked.Token).ConfigureAwait(false);
            return PrometheusResponse.Read((int)response.StatusCode, response.ReasonPhrase, body);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return QueryResult.Failed($"Prometheus at {Address} did not answer within {GoDuration.Format(Options.Timeout)}");
        }
        catch (HttpRequestException e)
        {
            return QueryResult.Failed($"cannot query Prometheus at {Address}: {Describe(e)}");
        }
        finally
        {
            if (entered) _slots.Release();
        }
    }

    /// <summary>Flagger's availability check: <c>vector(1)</c> must answer 1.</summary>
    public async ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken)
    {
        var result = await QueryAsync(OnlineQuery, cancellationToken).ConfigureAwait(false);
        return result.Kind switch
        {
            QueryResultKind.Value when result.Value == 1 => Outcome.Ok,
            QueryResultKind.Value => Outcome.Fail(string.Create(CultureInfo.InvariantCulture,
                $"Prometheus at {Address} answered {result.Value} to {OnlineQuery}, expected 1")),
            _ => Outcome.Fail($"Prometheus at {Address} is not available: {result.Message}"),
        };
    }

    private static Outcome<AuthenticationHeaderValue?> Authorization(PrometheusAuth auth)
    {
        if (auth.Token is { } tokenSource)
        {
            var token = tokenSource.Read();
            if (!token.Succeeded) return Outcome<AuthenticationHeaderValue?>.Fail($"bearer token: {token.Error}");
            return token.Value!.Length == 0 ? Outcome<AuthenticationHeaderValue?>.Ok(null) : new AuthenticationHeaderValue("Bearer", token.Value);
        }
        var user = auth.Username!.Read();
        if (!user.Succeeded) return Outcome<AuthenticationHeaderValue?>.Fail($"username: {user.Error}");
        var password = auth.Password!.Read();
        if (!password.Succeeded) return Outcome<AuthenticationHeaderValue?>.Fail($"password: {password.Error}");
        // Flagger sends basic auth only when both parts are set.
        if (user.Value!.Length == 0 || password.Value!.Length == 0) return Outcome<AuthenticationHeaderValue?>.Ok(null);
        return new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user.Value + ":" + password.Value)));
    }

    private static string Describe(HttpRequestException e) =>
        e.InnerException is { } inner && !string.IsNullOrEmpty(inner.Message) && !e.Message.Contains(inner.Message, StringComparison.Ordinal)
            ? $"{e.Message} ({inner.Message})"
            : e.Message;

    internal static string SafeAddress(Uri address) =>
        address.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped).TrimEnd('/');

    public override string ToString() => $"Prometheus at {Address}";

    public void Dispose()
    {
        _http.Dispose();
        _slots.Dispose();
    }
}
