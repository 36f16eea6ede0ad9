namespace Aviary.Cli.Tests.Demo;

/// <summary><c>aviary demo --fast</c> end to end: real processes, real router, real load.</summary>
public sealed class DemoCommandTests
{
    [Fact]
    public async Task Demo_Fast_PromotesTheGoodReleaseWithoutFailuresAndRollsBackTheBadOne()
    {
        var state = Path.Combine(Path.GetTempPath(), "aviary-demo-test-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var (exit, output, error) = await CliRunner.RunAsync("demo", "--fast", "--port", "0", "--state", state);

            Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
            var summary = output[output.LastIndexOf("Summary", StringComparison.Ordinal)..].Split('\n');
            var v2 = summary.Single(l => l.StartsWith("v2", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var v3 = summary.Single(l => l.StartsWith("v3", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["v2", "2.0.0", "promoted"], v2[..3]);
            Assert.Equal("0", v2[5]); // failed requests during the good release
            Assert.True(int.Parse(v2[4], System.Globalization.CultureInfo.InvariantCulture) > 100, "the good release saw too little traffic");
            Assert.Equal(["v3", "3.0.0", "rolled", "back"], v3[..4]);
            // The demo's canary is judged against the primary (analysis.judge), so a machine slowed by other work slows
            // both alike and does not roll the healthy release back; the bad one is rolled back by the judge.
            Assert.Contains("Rolling back podinfo.demo the judge found the canary worse than the primary: error rate", output);
            // The dashboard's address comes first, so that the rollout can be watched live (BrowserTests shows the page).
            Assert.Matches(@"^Dashboard: http://127\.0\.0\.1:\d+/ui/ \(the rollout, live; log in with the token in .+ to act\)$", output.Split('\n')[0].TrimEnd('\r'));
        }
        finally
        {
            if (Directory.Exists(state)) Directory.Delete(state, recursive: true);
        }
    }
}
