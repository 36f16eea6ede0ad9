using System.Globalization;

namespace Aviary.Hooks.LoadTester;

/// <summary>A latency percentile: <see cref="Percent"/>% of the answers took at most <see cref="Latency"/>.</summary>
public sealed record LatencyPercentile(int Percent, TimeSpan Latency);

/// <summary>One bar of the response time histogram: answers slower than the previous mark and at most <see cref="Mark"/>.</summary>
public sealed record HistogramBucket(TimeSpan Mark, long Count);

/// <summary>
/// The outcome of a load run, as hey reports it. Latency figures cover answered requests only (any status code);
/// requests without an answer are counted in <see cref="ErrorDistribution"/>.
/// </summary>
public sealed record LoadReport
{
    /// <summary>Percentiles reported, hey's.</summary>
    public static IReadOnlyList<int> Percentiles { get; } = [10, 25, 50, 75, 90, 95, 99];

    /// <summary>Wall time of the whole run.</summary>
    public required TimeSpan Total { get; init; }

    /// <summary>Completed requests, answered or not.</summary>
    public required long Requests { get; init; }

    /// <summary>Requests that got an answer (any status code).</summary>
    public required long Responses { get; init; }

    /// <summary>Requests that got no answer.</summary>
    public long Errors => Requests - Responses;

    /// <summary>Requests that got no answer or a 5xx answer.</summary>
    public long Failures => Errors + StatusCodeDistribution.Where(s => s.Key >= 500).Sum(s => s.Value);

    /// <summary>Completed requests per second of <see cref="Total"/> (hey counts errors too).</summary>
    public double RequestsPerSecond => Total > TimeSpan.Zero ? Requests / Total.TotalSeconds : 0;

    /// <summary>Fastest answer; zero without answers.</summary>
    public required TimeSpan Fastest { get; init; }

    /// <summary>Slowest answer; zero without answers.</summary>
    public required TimeSpan Slowest { get; init; }

    /// <summary>Mean latency of the answers; zero without answers.</summary>
    public required TimeSpan Average { get; init; }

    /// <summary>Bytes of all answers' bodies.</summary>
    public required long TotalBytes { get; init; }

    /// <summary>Latency at each of <see cref="Percentiles"/> (nearest rank); empty without answers.</summary>
    public required IReadOnlyList<LatencyPercentile> LatencyDistribution { get; init; }

    /// <summary>hey's histogram: eleven marks from the fastest to the slowest answer; empty without answers.</summary>
    public required IReadOnlyList<HistogramBucket> Histogram { get; init; }

    /// <summary>Answers per status code, by code.</summary>
    public required IReadOnlyDictionary<int, long> StatusCodeDistribution { get; init; }

    /// <summary>Requests without an answer, per error message.</summary>
    public required IReadOnlyDictionary<string, long> ErrorDistribution { get; init; }

    /// <summary>Builds a report from results collected elsewhere, for example those of one time window.</summary>
    public static LoadReport FromResults(IEnumerable<RequestResult> results, TimeSpan total)
    {
        ArgumentNullException.ThrowIfNull(results);
        var statistics = new LoadStatistics();
        foreach (var result in results) statistics.Add(result);
        return statistics.ToReport(total);
    }

    /// <summary>
    /// Writes the summary hey prints: Summary, Response time histogram, Latency distribution, Status code
    /// distribution and Error distribution (hey's per-phase "Details" are not measured and not printed).
    /// </summary>
    public void WriteHeySummary(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var inv = CultureInfo.InvariantCulture;
        writer.Write('\n');
        writer.Write("Summary:\n");
        writer.Write(string.Create(inv, $"  Total:\t{Secs(Total)} secs\n"));
        writer.Write(string.Create(inv, $"  Slowest:\t{Secs(Slowest)} secs\n"));
        writer.Write(string.Create(inv, $"  Fastest:\t{Secs(Fastest)} secs\n"));
        writer.Write(string.Create(inv, $"  Average:\t{Secs(Average)} secs\n"));
        writer.Write(string.Create(inv, $"  Requests/sec:\t{RequestsPerSecond.ToString("F4", inv)}\n"));
        if (TotalBytes > 0 && Responses > 0)
        {
            writer.Write('\n');
            writer.Write(string.Create(inv, $"  Total data:\t{TotalBytes} bytes\n"));
            writer.Write(string.Create(inv, $"  Size/request:\t{TotalBytes / Responses} bytes\n"));
        }

        writer.Write("\nResponse time histogram:\n");
        var tallest = Histogram.Count == 0 ? 0 : Histogram.Max(b => b.Count);
        foreach (var bucket in Histogram)
        {
            // Bars scaled to 40 characters for the tallest, rounded as hey rounds them.
            var bar = tallest > 0 ? (int)((bucket.Count * 40 + tallest / 2) / tallest) : 0;
            writer.Write(string.Create(inv, $"  {bucket.Mark.TotalSeconds.ToString("F3", inv)} [{bucket.Count}]\t|{new string('■', bar)}\n"));
        }

        writer.Write("\n\nLatency distribution:\n");
        foreach (var p in LatencyDistribution)
            writer.Write(string.Create(inv, $"  {p.Percent}% in {Secs(p.Latency)} secs\n"));

        writer.Write("\nStatus code distribution:\n");
        foreach (var (code, count) in StatusCodeDistribution.OrderBy(s => s.Key))
            writer.Write(string.Create(inv, $"  [{code}]\t{count} responses\n"));

        if (ErrorDistribution.Count > 0)
        {
            writer.Write("\nError distribution:\n");
            foreach (var (error, count) in ErrorDistribution.OrderByDescending(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal))
                writer.Write(string.Create(inv, $"  [{count}]\t{error}\n"));
        }
        writer.Write('\n');
    }

    /// <summary>The summary as a string.</summary>
    public string ToHeySummary()
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        WriteHeySummary(writer);
        return writer.ToString();
    }

    private static string Secs(TimeSpan value) => value.TotalSeconds.ToString("F4", CultureInfo.InvariantCulture);
}
