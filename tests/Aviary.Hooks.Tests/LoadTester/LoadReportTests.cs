using Aviary.Hooks.LoadTester;

namespace Aviary.Hooks.Tests.LoadTester;

public sealed class LoadReportTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static RequestResult Answer(double seconds, int status = 200, long bytes = 0) =>
        new(TimeSpan.Zero, Start, TimeSpan.FromSeconds(seconds), status, bytes, RequestFailure.None, null);

    private static RequestResult Failure(string error) =>
        new(TimeSpan.Zero, Start, TimeSpan.FromSeconds(1), 0, 0, RequestFailure.Connection, error);

    [Fact]
    public void FromResults_HundredLatencies_PercentilesAndExtremes()
    {
        var results = Enumerable.Range(1, 100).Select(ms => Answer(ms / 1000.0)).Reverse();

        var report = LoadReport.FromResults(results, TimeSpan.FromSeconds(2));

        Assert.Equal(100, report.Requests);
        Assert.Equal(50, report.RequestsPerSecond);
        Assert.Equal(TimeSpan.FromMilliseconds(1), report.Fastest);
        Assert.Equal(TimeSpan.FromMilliseconds(100), report.Slowest);
        Assert.Equal(TimeSpan.FromMilliseconds(50.5), report.Average);
        Assert.Equal(
            [(10, 10), (25, 25), (50, 50), (75, 75), (90, 90), (95, 95), (99, 99)],
            report.LatencyDistribution.Select(p => (p.Percent, (int)Math.Round(p.Latency.TotalMilliseconds))));
        Assert.Equal(11, report.Histogram.Count);
        Assert.Equal(100, report.Histogram.Sum(b => b.Count));
        Assert.Equal(TimeSpan.FromMilliseconds(1), report.Histogram[0].Mark);
        Assert.Equal(TimeSpan.FromMilliseconds(100), report.Histogram[^1].Mark);
    }

    [Fact]
    public void FromResults_NoAnswers_ZeroesAndEmptyDistributions()
    {
        var report = LoadReport.FromResults([Failure("boom"), Failure("boom"), Failure("bang")], TimeSpan.FromSeconds(1));

        Assert.Equal(3, report.Errors);
        Assert.Equal(TimeSpan.Zero, report.Average);
        Assert.Empty(report.LatencyDistribution);
        Assert.Empty(report.Histogram);
        Assert.Equal(new Dictionary<string, long> { ["boom"] = 2, ["bang"] = 1 }, report.ErrorDistribution);
        var summary = report.ToHeySummary();
        Assert.Contains("  Average:\t0.0000 secs\n", summary, StringComparison.Ordinal);
        Assert.Contains("Error distribution:\n  [2]\tboom\n  [1]\tbang\n", summary, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteHeySummary_SmallRun_HeysLayout()
    {
        var report = LoadReport.FromResults(
            [Answer(1), Answer(2, status: 500), Failure("Get \"http://x/\": boom")], TimeSpan.FromSeconds(4));
        var bar = new string('■', 40);

        var summary = report.ToHeySummary();

        Assert.Equal(
            "\nSummary:\n" +
            "  Total:\t4.0000 secs\n" +
            "  Slowest:\t2.0000 secs\n" +
            "  Fastest:\t1.0000 secs\n" +
            "  Average:\t1.5000 secs\n" +
            "  Requests/sec:\t0.7500\n" +
            "\nResponse time histogram:\n" +
            $"  1.000 [1]\t|{bar}\n" +
            "  1.100 [0]\t|\n  1.200 [0]\t|\n  1.300 [0]\t|\n  1.400 [0]\t|\n  1.500 [0]\t|\n" +
            "  1.600 [0]\t|\n  1.700 [0]\t|\n  1.800 [0]\t|\n  1.900 [0]\t|\n" +
            $"  2.000 [1]\t|{bar}\n" +
            "\n\nLatency distribution:\n" +
            "  10% in 1.0000 secs\n  25% in 1.0000 secs\n  50% in 1.0000 secs\n  75% in 2.0000 secs\n" +
            "  90% in 2.0000 secs\n  95% in 2.0000 secs\n  99% in 2.0000 secs\n" +
            "\nStatus code distribution:\n" +
            "  [200]\t1 responses\n" +
            "  [500]\t1 responses\n" +
            "\nError distribution:\n" +
            "  [1]\tGet \"http://x/\": boom\n" +
            "\n",
            summary);
        Assert.Equal(2, report.Failures);
    }

    [Fact]
    public void WriteHeySummary_UnevenBars_ScaledToForty()
    {
        var results = Enumerable.Repeat(Answer(0.1), 4).Append(Answer(0.2));

        var summary = LoadReport.FromResults(results, TimeSpan.FromSeconds(1)).ToHeySummary();

        Assert.Contains($"  0.100 [4]\t|{new string('■', 40)}\n", summary, StringComparison.Ordinal);
        Assert.Contains($"  0.200 [1]\t|{new string('■', 10)}\n", summary, StringComparison.Ordinal);
    }
}
