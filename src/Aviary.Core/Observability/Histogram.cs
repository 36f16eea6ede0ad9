namespace Aviary.Core.Observability;

/// <summary>
/// A thread-safe Prometheus histogram: fixed upper bounds, a count per bucket and a sum. Recording is lock-free, so it
/// can sit on hot paths (every API request, every work item).
/// </summary>
public sealed class Histogram
{
    private readonly double[] _bounds;
    private readonly long[] _counts;
    private long _sumMicros;

    /// <param name="bounds">Upper bounds, ascending, without +Inf.</param>
    public Histogram(IReadOnlyList<double> bounds)
    {
        ArgumentNullException.ThrowIfNull(bounds);
        _bounds = [.. bounds];
        _counts = new long[_bounds.Length + 1];
    }

    /// <summary>Seconds-scale bounds from 1 ms to 60 s, for latencies and lags.</summary>
    public static IReadOnlyList<double> SecondsBuckets { get; } = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    public IReadOnlyList<double> Bounds => _bounds;

    public long Count
    {
        get
        {
            long total = 0;
            foreach (var c in _counts) total += Interlocked.Read(in c);
            return total;
        }
    }

    public double Sum => Interlocked.Read(ref _sumMicros) / 1e6;

    public void Observe(double value)
    {
        var i = 0;
        while (i < _bounds.Length && value > _bounds[i]) i++;
        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sumMicros, (long)(value * 1e6));
    }

    public void Observe(TimeSpan value) => Observe(Math.Max(0, value.TotalSeconds));

    /// <summary>The value below which <paramref name="quantile"/> of the observations fall, interpolated within its bucket.</summary>
    public double Quantile(double quantile)
    {
        var counts = _counts.Select(c => Interlocked.Read(in c)).ToArray();
        var total = counts.Sum();
        if (total == 0) return 0;
        var rank = quantile * total;
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            if (seen + counts[i] >= rank && counts[i] > 0)
            {
                var lower = i == 0 ? 0 : _bounds[i - 1];
                var upper = i < _bounds.Length ? _bounds[i] : _bounds[^1];
                return lower + (upper - lower) * ((rank - seen) / counts[i]);
            }
            seen += counts[i];
        }
        return _bounds[^1];
    }

    /// <summary>Writes the histogram's samples (the caller writes the family line once).</summary>
    public void Write(PrometheusWriter writer, string name, params (string Name, string Value)[] labels)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Histogram(name, _bounds, [.. _counts.Select(c => Interlocked.Read(in c))], Sum, labels);
    }
}
