using Aviary.Core.Primitives;

namespace Aviary.Kubernetes.Client;

/// <summary>How <see cref="KubeClient"/> behaves; every default is documented and safe for an operator.</summary>
public sealed record KubeClientOptions
{
    /// <summary>
    /// Sustained requests per second (token bucket). Default 100: client-go's default of 5 stalled Flagger at about
    /// 50 canaries; with reads from informers a canary's tick costs only its writes (about 2–4 while its weight
    /// moves), so 100 keeps about 300 canaries at a 10 s interval on schedule. 0 or less disables the limit. Watches
    /// count once, when they (re)connect. The operator's flag: <c>--kube-api-qps</c>.
    /// </summary>
    public double Qps { get; init; } = 100;

    /// <summary>Requests allowed at once after a quiet period. Default 200 (<c>--kube-api-burst</c>).</summary>
    public int Burst { get; init; } = 200;

    /// <summary>Time allowed for one request, from sending it to reading the whole answer (not for watches). Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the server keeps one watch open (its <c>timeoutSeconds</c>) before the client reconnects from the last
    /// resourceVersion; each watch picks a random value between this and twice this, like client-go, so that many
    /// watches do not reconnect together. Default 5 minutes.
    /// </summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often a token file (in-cluster, kubeconfig <c>tokenFile</c>) is read again, as it rotates. Default 1 minute.</summary>
    public TimeSpan TokenRefreshInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Retries of an update that meets 409 Conflict (<see cref="ResourceClient{T}.UpdateWithRetryAsync"/>).</summary>
    public RetryOptions ConflictRetry { get; init; } = new();

    /// <summary>How often a request answered 429 Too Many Requests is sent again (after Retry-After, at most 10 s each). Default 5.</summary>
    public int ThrottledRetries { get; init; } = 5;

    /// <summary>Page size of the initial list of <see cref="ResourceClient{T}.WatchAllAsync"/> and of <see cref="ResourceClient{T}.ListAllAsync"/>. Default 500.</summary>
    public int ListPageSize { get; init; } = 500;

    /// <summary>Waits between failed watch reconnections: from <see cref="RetryOptions.InitialDelay"/> doubling to <see cref="RetryOptions.MaxDelay"/>. Default 1 s to 30 s.</summary>
    public RetryOptions WatchBackoff { get; init; } = new() { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(30), MaxAttempts = int.MaxValue };

    /// <summary>The field manager named in server-side apply and sent with writes. Default <c>aviary</c>.</summary>
    public string FieldManager { get; init; } = "aviary";

    /// <summary>The User-Agent header. Default <c>aviary/{version}</c>.</summary>
    public string UserAgent { get; init; } = "aviary/" + (typeof(KubeClientOptions).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");

    /// <summary>Randomness for jitter (retries, watch timeouts); injected so tests are reproducible. Default <see cref="Random.Shared"/>.</summary>
    public Random Random { get; init; } = Random.Shared;

    internal void Validate()
    {
        if (double.IsNaN(Qps)) throw new ArgumentOutOfRangeException(nameof(Qps), Qps, "QPS must be a number.");
        ArgumentOutOfRangeException.ThrowIfLessThan(Burst, 1, nameof(Burst));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RequestTimeout, TimeSpan.Zero, nameof(RequestTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(WatchTimeout, TimeSpan.FromSeconds(1), nameof(WatchTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TokenRefreshInterval, TimeSpan.Zero, nameof(TokenRefreshInterval));
        ArgumentOutOfRangeException.ThrowIfNegative(ThrottledRetries, nameof(ThrottledRetries));
        ArgumentOutOfRangeException.ThrowIfLessThan(ListPageSize, 1, nameof(ListPageSize));
        ArgumentException.ThrowIfNullOrEmpty(FieldManager, nameof(FieldManager));
        ArgumentNullException.ThrowIfNull(Random, nameof(Random));
        ConflictRetry.Validate();
        WatchBackoff.Validate();
    }
}

/// <summary>Bounded retries with exponential backoff and jitter.</summary>
public sealed record RetryOptions
{
    /// <summary>Attempts in all, the first included. Default 10.</summary>
    public int MaxAttempts { get; init; } = 10;

    /// <summary>Wait before the second attempt. Default 10 ms.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Longest wait between attempts. Default 1 s.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Each wait is the previous one times this. Default 2.</summary>
    public double Factor { get; init; } = 2;

    /// <summary>Each wait is lengthened by a random fraction up to this. Default 0.5.</summary>
    public double Jitter { get; init; } = 0.5;

    /// <summary>The wait before attempt <paramref name="attempt"/> + 1 (attempt counts from 1).</summary>
    public TimeSpan Delay(int attempt, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return new Backoff(InitialDelay, MaxDelay, Factor, Jitter).Delay(Math.Max(1, attempt), random);
    }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAttempts, 1, nameof(MaxAttempts));
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialDelay, TimeSpan.Zero, nameof(InitialDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDelay, InitialDelay, nameof(MaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(Factor, 1, nameof(Factor));
        ArgumentOutOfRangeException.ThrowIfNegative(Jitter, nameof(Jitter));
    }
}
