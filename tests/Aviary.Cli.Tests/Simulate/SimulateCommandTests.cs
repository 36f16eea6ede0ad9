using System.Text.Json;
using Aviary.TestKit;

namespace Aviary.Cli.Tests.Simulate;

/// <summary><c>aviary simulate</c> reproduces the seeds' rollouts.</summary>
public sealed class SimulateCommandTests
{
    private static readonly string Istio = Path.Combine(RepoPaths.Examples, "podinfo-istio.yaml");
    private static readonly string Linkerd = Path.Combine(RepoPaths.Examples, "podinfo-linkerd.yaml");

    private static List<JsonElement> Lines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public async Task Simulate_Seed2GoodRelease_AdvancesInStepsOf5To50ThenSucceeds()
    {
        var (exit, output, _) = await CliRunner.RunAsync("simulate", "-f", Istio, "--output", "json");

        Assert.Equal(0, exit);
        var ticks = Lines(output);
        var advances = ticks.SelectMany(t => t.GetProperty("events").EnumerateArray().Select(e => e.GetString()!))
            .Where(e => e.StartsWith("Advance podinfo.test canary weight ", StringComparison.Ordinal))
            .Select(e => int.Parse(e["Advance podinfo.test canary weight ".Length..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, 10).Select(i => i * 5), advances);
        Assert.True(ticks.Max(t => t.GetProperty("canaryWeight").GetInt32()) <= 50);
        var last = ticks[^1];
        Assert.Equal("Succeeded", last.GetProperty("phase").GetString());
        Assert.Equal(0, last.GetProperty("canaryWeight").GetInt32());
        Assert.Equal(100, last.GetProperty("primaryWeight").GetInt32());
        foreach (var field in new[] { "tick", "time", "phase", "canaryWeight", "primaryWeight", "failedChecks", "iterations", "events" })
            Assert.True(last.TryGetProperty(field, out _), field);
        Assert.Contains(ticks, t => t.GetProperty("events").EnumerateArray().Any(e => e.GetString() == "Copying podinfo.test template spec to podinfo-primary.test"));
    }

    [Fact]
    public async Task Simulate_Seed2BadRelease_FailsAfterExactlyFiveFailedChecks()
    {
        var scenario = Path.Combine(RepoPaths.Examples, "scenarios", "bad-release.yaml");
        var (exit, output, _) = await CliRunner.RunAsync("simulate", "-f", Istio, "--scenario", scenario, "--output", "json");

        Assert.Equal(1, exit);
        var ticks = Lines(output);
        var last = ticks[^1];
        Assert.Equal("Failed", last.GetProperty("phase").GetString());
        Assert.Equal(5, last.GetProperty("failedChecks").GetInt32());
        Assert.Equal(0, last.GetProperty("canaryWeight").GetInt32());
        var events = last.GetProperty("events").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("Rolling back podinfo.test failed checks threshold reached 5", events);
        Assert.Contains("Canary failed! Scaling down podinfo.test", events);
        var halts = ticks.SelectMany(t => t.GetProperty("events").EnumerateArray()).Count(e => e.GetString() == "Halt podinfo.test advancement success rate 60.00% < 99%");
        Assert.Equal(5, halts);
        // The first analysis tick starts at 5%; the next three pass (10, 15, 20) and the 4th fails.
        Assert.Equal(20, ticks.Where(t => t.GetProperty("failedChecks").GetInt32() == 0).Max(t => t.GetProperty("canaryWeight").GetInt32()));
    }

    [Fact]
    public async Task Simulate_Seed1_PromotesInStepsOf10()
    {
        var (exit, output, _) = await CliRunner.RunAsync("simulate", "-f", Linkerd, "-o", "json");

        Assert.Equal(0, exit);
        var weights = Lines(output).Select(t => t.GetProperty("canaryWeight").GetInt32()).Distinct().Where(w => w > 0);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => i * 10), weights);
    }

    [Fact]
    public async Task Simulate_TicksRunOut_Exits2()
    {
        var scenario = CliRunner.TempFile("ticks: 4\n");
        var (exit, output, _) = await CliRunner.RunAsync("simulate", "-f", Istio, "-s", scenario, "-o", "json");

        Assert.Equal(2, exit);
        Assert.Equal(4, Lines(output).Count);
    }

    [Fact]
    public async Task Simulate_InvalidCanary_Exits3WithValidationErrors()
    {
        var canary = CliRunner.TempFile("""
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata: {name: podinfo}
            spec:
              targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
              service: {port: 9898}
              analysis:
                interval: 10x
                stepWeight: 150
            """);
        var (exit, output, error) = await CliRunner.RunAsync("simulate", "-f", canary);

        Assert.Equal(3, exit);
        Assert.Empty(output);
        Assert.Contains("spec.analysis.interval: '10x' is not a duration such as 30s or 1m", error);
        Assert.Contains("spec.analysis.stepWeight: must be between 1 and 100 (got 150)", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task Simulate_InvalidScenario_Exits3()
    {
        var scenario = CliRunner.TempFile("ticks: many\nwebhooks:\n  load-test: [700]\n");
        var (exit, _, error) = await CliRunner.RunAsync("simulate", "-f", Istio, "-s", scenario);

        Assert.Equal(3, exit);
        Assert.Contains("ticks: must be an integer (got string 'many')", error);
        Assert.Contains("webhooks.load-test[0]: must be an HTTP status between 100 and 599 (got 700)", error);
    }

    [Fact]
    public async Task Simulate_TextOutput_PrintsATableRowPerTick()
    {
        var (exit, output, _) = await CliRunner.RunAsync("simulate", "-f", Istio);

        Assert.Equal(0, exit);
        Assert.Contains("TICK", output);
        Assert.Contains("Advance podinfo.test canary weight 50", output);
        Assert.Contains("Result: Succeeded", output);
    }

    [Fact]
    public async Task Simulate_MissingFile_Exits3WithoutStackTrace()
    {
        var (exit, _, error) = await CliRunner.RunAsync("simulate", "-f", "/nonexistent/canary.yaml");

        Assert.Equal(3, exit);
        Assert.Contains("cannot read", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task Simulate_CanaryWithWarnings_PrintsThemAsValidateDoes()
    {
        var file = Path.Combine(Path.GetTempPath(), $"aviary-simulate-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, File.ReadAllText(Linkerd).Replace("stepWeight: 10\n    maxWeight: 100", "stepWeights: [50, 150]", StringComparison.Ordinal));
        try
        {
            var (exit, _, err) = await CliRunner.RunAsync("simulate", "-f", file);
            var validate = await CliRunner.RunAsync("validate", "-f", file);

            Assert.Equal(0, exit);
            const string warning = "Canary/podinfo: warning: spec.analysis.stepWeights[1]: 150 is above 100: capped at 100, as Flagger caps a step at the maximum weight";
            Assert.Contains($"{file}: {warning}", err, StringComparison.Ordinal);
            Assert.Contains(warning, validate.Err, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
