namespace Aviary.Kubernetes.Client;

/// <summary>
/// A token bucket like client-go's: <see cref="Burst"/> requests may go at once, then <see cref="Qps"/> per second.
/// A request that finds the bucket empty reserves the next token and waits for it, so waiting requests go out in
/// order, evenly spaced. Thread-safe; time comes from the <see cref="TimeProvider"/> (monotonic timestamps).
/// </summary>
public sealed class KubeRateLimiter
{
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private double _tokens;
    private long _last;

    /// <param name="qps">Sustained requests per second; 0 or less disables the limit.</param>
    /// <param name="burst">Bucket size: requests allowed at once after a quiet period (at least 1).</param>
    public KubeRateLimiter(double qps, int burst, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (double.IsNaN(qps)) throw new ArgumentOutOfRangeException(nameof(qps), qps, "QPS must be a number.");
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        Qps = qps;
        Burst = burst;
        _time = timeProvider;
        _tokens = burst;
        _last = timeProvider.GetTimestamp();
    }

    public double Qps { get; }

    public int Burst { get; }

    /// <summary>False when <see cref="Qps"/> is 0 or less: every request goes at once.</summary>
    public bool Enabled => Qps > 0;

    /// <summary>Takes a token now, or reserves the next one and returns how long to wait for it (zero when none).</summary>
    public TimeSpan Reserve()
    {
        if (!Enabled) return TimeSpan.Zero;
        lock (_gate)
        {
            Refill();
            _tokens -= 1;
            return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / Qps);
        }
    }

    /// <summary>Waits until a request may go (a token is taken). A cancelled wait gives its token back.</summary>
    public async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        var wait = Reserve();
        if (wait <= TimeSpan.Zero) return;
        try
        {
            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_gate) _tokens = Math.Min(Burst, _tokens + 1);
            throw;
        }
    }

    /// <summary>Tokens available now (negative: reserved by waiting requests).</summary>
    public double Available
    {
        get
        {
            lock (_gate)
            {
                Refill();
                return _tokens;
            }
        }
    }

    private void Refill()
    {
        var now = _time.GetTimestamp();
        var elapsed = _time.GetElapsedTime(_last, now);
        _last = now;
        if (elapsed > TimeSpan.Zero) _tokens = Math.Min(Burst, _tokens + elapsed.TotalSeconds * Qps);
    }
}
