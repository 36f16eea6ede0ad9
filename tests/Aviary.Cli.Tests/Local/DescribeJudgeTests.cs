using Aviary.Core.Model;
using Aviary.Core.Scheduling;
using Aviary.Local.Store;

namespace Aviary.Cli.Tests.Local;

/// <summary><c>aviary describe</c> shows the judge's latest numbers per metric: why it advanced, held or rolled back.</summary>
public sealed class DescribeJudgeTests
{
    [Fact]
    public async Task Describe_CanaryRolledBackByTheJudge_ShowsRatesBoundsMarginAndEvidence()
    {
        var dir = Path.Combine(Path.GetTempPath(), "aviary-describe-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var now = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
            AnalysisCheck Judge(string metric, CheckResult result, double canaryRate, double primaryRate, double lower, double upper, double evidence) =>
                new(now, "judge", metric, canaryRate, null, null, result, $"{metric}: the judge's explanation")
                {
                    Details = new Dictionary<string, double>
                    {
                        ["canaryRate"] = canaryRate, ["primaryRate"] = primaryRate, ["lower"] = lower, ["upper"] = upper, ["evidence"] = evidence,
                        ["rejectAt"] = 200, ["margin"] = 0.5, ["canaryRequests"] = 600, ["primaryRequests"] = 5400,
                    },
                };
            var store = StateStore.Open(Path.Combine(dir, "state.db"));
            {
                var status = CanaryStatus.Empty with { Phase = CanaryPhase.Failed };
                store.SaveTick("podinfo.test", "test", "podinfo", new TickOutcome(status, [], [Judge("request-success-rate", CheckResult.Pass, 1, 0.5, -0.2, 0.9, 3)], null, []), now);
                store.SaveTick("podinfo.test", "test", "podinfo", new TickOutcome(status, [],
                    [Judge("request-success-rate", CheckResult.Fail, 10, 0.5, 7.1, 11.8, 1.5e9), Judge("request-duration", CheckResult.Pass, 2, 2.1, -1.5, 1.2, 0.4)], null, []), now.AddMinutes(1));
            }

            await using var api = await StateApiServer.StartAsync(dir, store);
            var describe = await CliRunner.RunAsync("describe", "canary", "podinfo", "-n", "test", "--state", dir);

            Assert.Equal(0, describe.Exit);
            var lines = describe.Out.Split('\n');
            Assert.Contains(lines, l => l.StartsWith("Judge (sequential, latest per metric):", StringComparison.Ordinal));
            var errors = Assert.Single(lines, l => l.TrimStart().StartsWith("request-success-rate", StringComparison.Ordinal) && l.Contains("% of", StringComparison.Ordinal));
            Assert.Contains("10% of 600", errors, StringComparison.Ordinal);
            Assert.Contains("0.5% of 5400", errors, StringComparison.Ordinal);
            Assert.Contains("7.1 .. 11.8", errors, StringComparison.Ordinal);
            Assert.Contains("1500000000", errors, StringComparison.Ordinal);
            Assert.Contains("worse: roll back", errors, StringComparison.Ordinal);
            var latency = Assert.Single(lines, l => l.TrimStart().StartsWith("request-duration", StringComparison.Ordinal) && l.Contains("% of", StringComparison.Ordinal));
            Assert.Contains("not shown worse", latency, StringComparison.Ordinal);
        }
        finally
        {
            StateStore.CloseAll();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("get", "canaries")]
    [InlineData("describe", "canary", "podinfo")]
    [InlineData("events")]
    public async Task Reads_StateFileButNoController_SayHowToStartOne(params string[] verb)
    {
        // The CLI reads through the controller's API, never the state file: a state.db alone is not enough.
        var dir = Path.Combine(Path.GetTempPath(), "aviary-noapi-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var store = StateStore.Open(Path.Combine(dir, "state.db"));
            store.SaveTick("podinfo.test", "test", "podinfo", new TickOutcome(CanaryStatus.Empty with { Phase = CanaryPhase.Initialized }, [], [], null, []),
                new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));

            var result = await CliRunner.RunAsync([.. verb, "--state", dir]);

            Assert.Equal(1, result.Exit);
            Assert.Contains("no controller is running", result.Err, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", result.Err, StringComparison.Ordinal);
        }
        finally
        {
            StateStore.CloseAll();
            Directory.Delete(dir, recursive: true);
        }
    }
}
