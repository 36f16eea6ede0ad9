namespace Aviary.Hooks.LoadTester;

/// <summary>
/// Accumulates results from concurrent workers. Like hey, it keeps at most <see cref="MaxLatencies"/> latencies for
/// the distributions; counts, sums and the extremes cover every result.
/// </summary>
internal sealed class LoadStatistics
{
    /// <summary>hey's cap: distributions describe the first million answers.</summary>
    public const int MaxLatencies = 1_000_000;

    private readonly Lock _gate = new();
    private readonly List<TimeSpan> _latencies = [];
    private readonly Dictionary<int, long> _statusCodes = [];
    private readonly Dictionary<string, long> _errors = new(StringComparer.Ordinal);
    private long _requests;
    private long _responses;
    private long _bytes;
    private TimeSpan _sum;
    private TimeSpan _fastest = TimeSpan.MaxValue;
    private TimeSpan _slowest = TimeSpan.MinValue;

    public void Add(in RequestResult result)
    {
        lock (_gate)
        {
            _requests++;
            if (result.IsError)
            {
                var key = result.Error ?? result.Failure.ToString();
                _errors[key] = _errors.GetValueOrDefault(key) + 1;
                return;
            }
            _responses++;
            _bytes += result.Bytes;
            _sum += result.Latency;
            if (result.Latency < _fastest) _fastest = result.Latency;
            if (result.Latency > _slowest) _slowest = result.Latency;
            if (_latencies.Count < MaxLatencies) _latencies.Add(result.Latency);
            _statusCodes[result.StatusCode] = _statusCodes.GetValueOrDefault(result.StatusCode) + 1;
        }
    }

    public LoadReport ToReport(TimeSpan total)
    {
        lock (_gate)
        {
            var sorted = _latencies.ToArray();
            Array.Sort(sorted);
            var any = _responses > 0;
            var fastest = any ? _fastest : TimeSpan.Zero;
            var slowest = any ? _slowest : TimeSpan.Zero;
            return new LoadReport
            {
                Total = total,
                Requests = _requests,
                Responses = _responses,
                Fastest = fastest,
                Slowest = slowest,
                Average = any ? _sum / _responses : TimeSpan.Zero,
                TotalBytes = _bytes,
                LatencyDistribution = Percentiles(sorted),
                Histogram = Histogram(sorted, fastest, slowest),
                StatusCodeDistribution = new SortedDictionary<int, long>(_statusCodes),
                ErrorDistribution = new Dictionary<string, long>(_errors, StringComparer.Ordinal),
            };
        }
    }

    /// <summary>Nearest-rank percentiles of sorted latencies.</summary>
    private static List<LatencyPercentile> Percentiles(TimeSpan[] sorted)
    {
        if (sorted.Length == 0) return [];
        return [.. LoadReport.Percentiles.Select(p =>
        {
            var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
            return new LatencyPercentile(p, sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)]);
        })];
    }

    /// <summary>
    /// hey's histogram: marks at fastest + i·(slowest − fastest)/10 for i in 0..9, then the slowest; each latency
    /// counts in the first mark at or above it.
    /// </summary>
    private static List<HistogramBucket> Histogram(TimeSpan[] sorted, TimeSpan fastest, TimeSpan slowest)
    {
        if (sorted.Length == 0) return [];
        const int Bars = 10;
        var marks = new TimeSpan[Bars + 1];
        var step = (slowest - fastest) / Bars;
        for (var i = 0; i < Bars; i++) marks[i] = fastest + step * i;
        marks[Bars] = slowest;
        var counts = new long[Bars + 1];
        var bucket = 0;
        foreach (var latency in sorted)
        {
            while (bucket < Bars && latency > marks[bucket]) bucket++;
            counts[bucket]++;
        }
        return [.. marks.Select((mark, i) => new HistogramBucket(mark, counts[i]))];
    }
}
