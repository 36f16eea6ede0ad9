using System.Net;
using System.Net.Http.Headers;

namespace Aviary.Hooks.LoadTester;

/// <summary>
/// An HTTP load generator that behaves like hey: <see cref="LoadOptions.Concurrency"/> workers share one
/// connection pool and each sends requests one after the other, optionally rate limited per worker, until the
/// request count, the duration or cancellation ends the run. Transport errors and timeouts are results, never
/// exceptions. Timing and rate limiting use the injected <see cref="TimeProvider"/>.
/// </summary>
public sealed class LoadGenerator
{
    private readonly TimeProvider _time;

    /// <summary>Creates a generator; throws <see cref="ArgumentException"/> when <paramref name="options"/> are not usable.</summary>
    public LoadGenerator(LoadOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException("invalid load options: " + string.Join("; ", errors), nameof(options));
        Options = options;
        _time = timeProvider ?? TimeProvider.System;
    }

    public LoadOptions Options { get; }

    /// <summary>Runs to the end and reports; see <see cref="RunAsync(IProgress{RequestResult}?, CancellationToken)"/>.</summary>
    public Task<LoadReport> RunAsync(CancellationToken cancellationToken) => RunAsync(null, cancellationToken);

    /// <summary>
    /// Sends the load and reports on it. <paramref name="progress"/> hears of every completed request as it
    /// completes, on the worker that sent it (a <see cref="Progress{T}"/> posts it on to its context instead), so a
    /// caller can count failures live and place them in time windows.
    /// Cancelling <paramref name="cancellationToken"/> stops the run at once — requests in flight are abandoned and
    /// not counted — and still returns the report of what completed, as hey does on Ctrl-C; it is the way to end a
    /// <see cref="LoadOptions.Steady"/> run.
    /// </summary>
    public async Task<LoadReport> RunAsync(IProgress<RequestResult>? progress, CancellationToken cancellationToken)
    {
        var options = Options;
        var statistics = new LoadStatistics();
        using var handler = CreateHandler(options);
        using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);

        // Ending by duration stops new requests only; cancellation also aborts those in flight.
        using var durationEnd = !options.Steady && options.Duration is { } duration
            ? new CancellationTokenSource(duration, _time)
            : new CancellationTokenSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, durationEnd.Token);

        var countMode = !options.Steady && options.Duration is null;
        var tickets = new Tickets(countMode ? options.Requests : long.MaxValue);
        var workers = countMode ? Math.Min(options.Concurrency, options.Requests) : options.Concurrency;

        var run = new Run(options, invoker, statistics, progress, tickets, _time, _time.GetTimestamp(), _time.GetUtcNow());
        var tasks = new Task[workers];
        for (var i = 0; i < workers; i++)
            tasks[i] = Task.Run(() => run.WorkAsync(stop.Token, cancellationToken), CancellationToken.None);
        await Task.WhenAll(tasks).ConfigureAwait(false);

        return statistics.ToReport(_time.GetElapsedTime(run.StartTimestamp));
    }

    private static SocketsHttpHandler CreateHandler(LoadOptions options) => new()
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = !options.DisableRedirects,
        AutomaticDecompression = options.DisableCompression ? DecompressionMethods.None : DecompressionMethods.GZip,
        // hey keeps up to one idle connection per worker (at most 500); the pool has no other limit.
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
        // hey does not verify certificates: load tests target canaries behind self-signed certificates.
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
    };

    /// <summary>The request budget of a count-limited run, shared by the workers, so exactly n requests are sent.</summary>
    private sealed class Tickets(long count)
    {
        private long _left = count;

        public bool TryTake() => Interlocked.Decrement(ref _left) >= 0;
    }

    private sealed class Run(
        LoadOptions options,
        HttpMessageInvoker invoker,
        LoadStatistics statistics,
        IProgress<RequestResult>? progress,
        Tickets tickets,
        TimeProvider time,
        long startTimestamp,
        DateTimeOffset startedAt)
    {
        private readonly HttpMethod _method = HttpMethod.Parse(options.Method);
        private readonly string _goMethod = options.Method.Length == 0 ? "" : options.Method[..1].ToUpperInvariant() + options.Method[1..].ToLowerInvariant();

        public long StartTimestamp => startTimestamp;

        public async Task WorkAsync(CancellationToken stop, CancellationToken abort)
        {
            // A ticker like Go's time.Tick: the first tick after one interval; missed ticks are dropped, not bunched.
            using var throttle = options.RateLimit > 0
                ? new PeriodicTimer(Max(TimeSpan.FromSeconds(1 / options.RateLimit), LoadOptions.MinimumInterval), time)
                : null;
            while (!stop.IsCancellationRequested && tickets.TryTake())
            {
                if (throttle is not null)
                {
                    try
                    {
                        if (!await throttle.WaitForNextTickAsync(stop).ConfigureAwait(false)) return;
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                        return;
                    }
                }
                if (await SendAsync(abort).ConfigureAwait(false) is not { } result) return;
                statistics.Add(result);
                progress?.Report(result);
            }
        }

        /// <summary>One request, read to the end; null when the run was cancelled meanwhile.</summary>
        private async Task<RequestResult?> SendAsync(CancellationToken abort)
        {
            var sent = time.GetTimestamp();
            var offset = time.GetElapsedTime(startTimestamp, sent);
            using var timeout = options.Timeout > TimeSpan.Zero ? new CancellationTokenSource(options.Timeout, time) : null;
            using var linked = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(abort, timeout.Token);
            var token = linked?.Token ?? abort;
            using var request = CreateRequest();
            RequestResult Failed(RequestFailure failure, string message) =>
                new(offset, startedAt + offset, time.GetElapsedTime(sent), 0, 0, failure, $"{_goMethod} \"{options.Url}\": {message}");
            try
            {
                using var response = await invoker.SendAsync(request, token).ConfigureAwait(false);
                var bytes = await DrainAsync(response.Content, token).ConfigureAwait(false);
                return new RequestResult(offset, startedAt + offset, time.GetElapsedTime(sent), (int)response.StatusCode, bytes, RequestFailure.None, null);
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                return null;
            }
            catch (OperationCanceledException) when (timeout?.IsCancellationRequested == true)
            {
                return Failed(RequestFailure.Timeout,
                    $"request timed out after {options.Timeout.TotalSeconds:0.###}s (Client.Timeout exceeded while awaiting the answer)");
            }
            catch (HttpRequestException e)
            {
                return Failed(Classify(e.HttpRequestError), Describe(e));
            }
            catch (HttpIOException e)
            {
                return Failed(Classify(e.HttpRequestError), Describe(e));
            }
            catch (IOException e)
            {
                return Failed(RequestFailure.Connection, Describe(e));
            }
        }

        private HttpRequestMessage CreateRequest()
        {
            var request = new HttpRequestMessage(_method, options.Url)
            {
                Version = HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            if (!options.Body.IsEmpty)
            {
                request.Content = new ReadOnlyMemoryContent(options.Body);
                request.Content.Headers.TryAddWithoutValidation("Content-Type", options.ContentType);
            }
            request.Headers.TryAddWithoutValidation("User-Agent", options.UserAgent);
            foreach (var (name, value) in options.Headers)
            {
                if (IsContentHeader(name))
                {
                    if (request.Content is null) continue;
                    request.Content.Headers.Remove(name);
                    request.Content.Headers.TryAddWithoutValidation(name, value);
                }
                else
                {
                    request.Headers.Remove(name);
                    request.Headers.TryAddWithoutValidation(name, value);
                }
            }
            if (options.Host is { } host) request.Headers.Host = host;
            if (options.DisableKeepAlives) request.Headers.ConnectionClose = true;
            return request;
        }

        private static bool IsContentHeader(string name) =>
            name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Expires", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Last-Modified", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Allow", StringComparison.OrdinalIgnoreCase);

        private static async Task<long> DrainAsync(HttpContent content, CancellationToken token)
        {
            var stream = await content.ReadAsStreamAsync(token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new byte[16 * 1024];
                long total = 0;
                int read;
                while ((read = await stream.ReadAsync(buffer, token).ConfigureAwait(false)) > 0) total += read;
                return total;
            }
        }

        private static RequestFailure Classify(HttpRequestError error) => error switch
        {
            HttpRequestError.NameResolutionError => RequestFailure.NameResolution,
            HttpRequestError.ConnectionError => RequestFailure.Connection,
            HttpRequestError.ResponseEnded => RequestFailure.Connection,
            HttpRequestError.SecureConnectionError => RequestFailure.Tls,
            HttpRequestError.HttpProtocolError or HttpRequestError.InvalidResponse or HttpRequestError.ConfigurationLimitExceeded
                or HttpRequestError.VersionNegotiationError => RequestFailure.Protocol,
            _ => RequestFailure.Other,
        };

        /// <summary>The exception's message with its innermost cause, on one line.</summary>
        private static string Describe(Exception e)
        {
            var message = e.Message;
            var inner = e.InnerException;
            while (inner?.InnerException is not null) inner = inner.InnerException;
            if (inner is not null && !message.Contains(inner.Message, StringComparison.Ordinal)) message += ": " + inner.Message;
            return message.ReplaceLineEndings(" ");
        }

        private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
    }
}
