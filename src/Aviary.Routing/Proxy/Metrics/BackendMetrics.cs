namespace Aviary.Routing.Proxy.Metrics;

/// <summary>
/// The traffic counters of one backend of one service. Every counter is cumulative and updated with interlocked adds
/// only (no lock on the request path). Windows come from a ring of per-second checkpoints: the first request of each
/// second copies the cumulative counters into the ring, and a window is "now minus the checkpoint at its start".
/// A second without a checkpoint had no request, so the next checkpoint (or the current counters) stands for it.
/// </summary>
internal sealed class BackendMetrics
{
    /// <summary>Seconds of history kept for windows: more than the 15 minutes the analysis may ask for.</summary>
    public const int HistorySeconds = 1024;

    private const int MaxStatus = 1000;

    private readonly long[] _byStatus = new long[MaxStatus];
    private readonly long[] _buckets = new long[LatencyBuckets.Count];
    private readonly Checkpoint?[] _history = new Checkpoint?[HistorySeconds];
    private readonly double _ticksPerMs;
    private long _latencyTicks;
    private long _lastSecond = long.MinValue;
    private int _inFlight;

    private readonly long _since;

    /// <param name="timestampFrequency">Of the clock latencies are measured with.</param>
    /// <param name="sinceUnixSecond">When counting began: a window that starts before it is incomplete.</param>
    public BackendMetrics(long timestampFrequency, long sinceUnixSecond)
    {
        _ticksPerMs = timestampFrequency / 1000.0;
        _since = sinceUnixSecond;
    }

    public int InFlight => Volatile.Read(ref _inFlight);

    public void Started() => Interlocked.Increment(ref _inFlight);

    public void Finished() => Interlocked.Decrement(ref _inFlight);

    /// <summary>Counts one answered request (a proxy error counts with the status the client got).</summary>
    /// <param name="status">HTTP status, 100..999.</param>
    /// <param name="elapsedTicks">Latency in <see cref="TimeProvider.GetTimestamp"/> ticks.</param>
    /// <param name="unixSecond">The current second, for the windows.</param>
    public void Record(int status, long elapsedTicks, long unixSecond)
    {
        if (unixSecond != Volatile.Read(ref _lastSecond)) TakeCheckpoint(unixSecond);
        Interlocked.Increment(ref _byStatus[(uint)status < MaxStatus ? status : 0]);
        Interlocked.Increment(ref _buckets[LatencyBuckets.IndexOf(Math.Max(0, elapsedTicks) / _ticksPerMs)]);
        Interlocked.Add(ref _latencyTicks, Math.Max(0, elapsedTicks));
    }

    private void TakeCheckpoint(long unixSecond)
    {
        var last = Volatile.Read(ref _lastSecond);
        // One thread per second wins; a clock that goes back leaves the history alone.
        if (unixSecond <= last || Interlocked.CompareExchange(ref _lastSecond, unixSecond, last) != last) return;
        var (total, serverErrors, buckets) = Capture();
        Volatile.Write(ref _history[Slot(unixSecond)], new Checkpoint(unixSecond, total, serverErrors, buckets));
    }

    private static int Slot(long second) => (int)(((second % HistorySeconds) + HistorySeconds) % HistorySeconds);

    private (long Total, long ServerErrors, long[] Buckets) Capture()
    {
        var buckets = new long[_buckets.Length];
        long total = 0;
        for (var i = 0; i < buckets.Length; i++) total += buckets[i] = Volatile.Read(ref _buckets[i]);
        long serverErrors = 0;
        for (var s = 500; s < 600; s++) serverErrors += Volatile.Read(ref _byStatus[s]);
        return (total, serverErrors, buckets);
    }

    /// <summary>Traffic during the last <paramref name="seconds"/> whole seconds, the current one included.</summary>
    public TrafficWindow Window(int seconds, long unixNow)
    {
        seconds = Math.Clamp(seconds, 1, HistorySeconds - 1);
        // The second counting began is only partly counted: the window is complete when it starts after that second.
        var complete = unixNow - seconds + 1 > _since;
        var (total, serverErrors, buckets) = Capture();
        for (var second = unixNow - seconds + 1; second <= unixNow; second++)
        {
            if (Volatile.Read(ref _history[Slot(second)]) is { } start && start.Second == second)
            {
                total -= start.Total;
                serverErrors -= start.ServerErrors;
                for (var i = 0; i < buckets.Length; i++) buckets[i] -= start.Buckets[i];
                return new TrafficWindow(total, serverErrors, LatencyBuckets.UpperBoundsMs, buckets) { Complete = complete };
            }
        }
        return new TrafficWindow(0, 0, LatencyBuckets.UpperBoundsMs, new long[buckets.Length]) { Complete = complete };
    }

    /// <summary>Cumulative counts per status code (only codes seen).</summary>
    public IEnumerable<(int Status, long Count)> StatusCounts()
    {
        for (var s = 0; s < MaxStatus; s++)
        {
            var count = Volatile.Read(ref _byStatus[s]);
            if (count > 0) yield return (s, count);
        }
    }

    /// <summary>Cumulative count per status class: index 0 is 1xx, 4 is 5xx (codes outside 100..599 are left out).</summary>
    public long[] ClassCounts()
    {
        var classes = new long[5];
        for (var s = 100; s < 600; s++) classes[s / 100 - 1] += Volatile.Read(ref _byStatus[s]);
        return classes;
    }

    /// <summary>Cumulative bucket counts (not cumulative over buckets) and the latency sum in milliseconds.</summary>
    public (long[] Buckets, double SumMs) Histogram()
    {
        var buckets = new long[_buckets.Length];
        for (var i = 0; i < buckets.Length; i++) buckets[i] = Volatile.Read(ref _buckets[i]);
        return (buckets, Volatile.Read(ref _latencyTicks) / _ticksPerMs);
    }

    private sealed record Checkpoint(long Second, long Total, long ServerErrors, long[] Buckets);
}
