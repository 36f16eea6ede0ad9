using Aviary.Core.Model;
using Aviary.TestKit;

namespace Aviary.Cli.Tests.Local;

/// <summary>get, describe, events and apply against a running controller (real processes, real HTTP).</summary>
public sealed class LocalVerbsTests
{
    private static Task<LocalTestBed> StartAsync() => LocalTestBed.CreateAsync(async bed =>
    {
        bed.WriteWorkload("--version 1.0.0");
        bed.WriteCanary(LocalTestBed.FastAnalysis);
        await bed.StartControllerAsync();
        await bed.WaitForPhaseAsync(CanaryPhase.Initialized, TimeSpan.FromMinutes(1));
    });

    [Fact]
    public async Task GetDescribeEvents_RunningController_ShowStatusAndEvents()
    {
        await using var bed = await StartAsync();

        var get = await CliRunner.RunAsync("get", "canaries", "--state", bed.State);
        Assert.Equal(0, get.Exit);
        var lines = get.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("NAMESPACE", lines[0], StringComparison.Ordinal);
        Assert.Contains("LASTTRANSITIONTIME", lines[0], StringComparison.Ordinal);
        Assert.Equal(["test", "podinfo", "Initialized", "0"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[..4]);

        var describe = await CliRunner.RunAsync("describe", "canary", "podinfo", "--state", bed.State);
        Assert.Equal(0, describe.Exit);
        Assert.Contains("Phase:                 Initialized", describe.Out);
        Assert.Contains("Initialization done! podinfo.test", describe.Out);
        Assert.Contains("Synced", describe.Out);

        var events = await CliRunner.RunAsync("events", "--canary", "podinfo", "-n", "test", "--state", bed.State, "-o", "json");
        Assert.Equal(0, events.Exit);
        Assert.Contains("\"message\":\"Initialization done! podinfo.test\"", events.Out);

        var missing = await CliRunner.RunAsync("describe", "canary", "nope", "--state", bed.State);
        Assert.Equal(1, missing.Exit);
        Assert.Contains("canary nope not found; known: test/podinfo", missing.Err);
    }

    [Fact]
    public async Task Apply_NewWorkloadVersion_StartsARolloutThatIsPromoted()
    {
        await using var bed = await StartAsync();
        var before = bed.Status!.LastPromotedSpec;
        var file = Path.Combine(bed.Dir, "v2.yaml");
        File.WriteAllText(file, File.ReadAllText(Path.Combine(bed.Manifests, "workload.yaml")).Replace("1.0.0", "2.0.0", StringComparison.Ordinal));
        bed.StartLoad();

        var apply = await CliRunner.RunAsync("apply", "-f", file, "--state", bed.State);
        Assert.True(apply.Exit == 0, apply.Err);
        Assert.Contains("Workload/podinfo applied", apply.Out);
        await bed.WaitForAsync(TimeSpan.FromMinutes(2), s => s.Phase == CanaryPhase.Succeeded && s.LastPromotedSpec != before, "promotion of the applied version");
    }

    [Fact]
    public async Task Apply_InvalidManifest_IsRefusedWithFieldPaths()
    {
        await using var bed = await StartAsync();
        var file = Path.Combine(bed.Dir, "bad.yaml");
        File.WriteAllText(file, """
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata: {name: podinfo, namespace: test}
            spec:
              targetRef: {apiVersion: aviary.dev/v1alpha1, kind: Workload, name: podinfo}
              service: {port: 9898}
              analysis: {interval: 10x, stepWeight: 10}
            """);

        var apply = await CliRunner.RunAsync("apply", "-f", file, "--state", bed.State);
        Assert.Equal(1, apply.Exit);
        Assert.Contains("spec.analysis.interval: '10x' is not a duration such as 30s or 1m", apply.Err);
        Assert.False(Directory.Exists(Path.Combine(bed.State, "applied")) && Directory.EnumerateFiles(Path.Combine(bed.State, "applied")).Any());
    }

    [Fact]
    public async Task Apply_NoController_SaysHowToStartOne()
    {
        var apply = await CliRunner.RunAsync("apply", "-f", Path.Combine(RepoPaths.Examples, "podinfo-istio.yaml"), "--state", Path.Combine(Path.GetTempPath(), "nothing-here"));
        Assert.Equal(1, apply.Exit);
        Assert.Contains("no controller is running", apply.Err);
    }

    [Theory]
    [InlineData("validate")]
    [InlineData("simulate")]
    [InlineData("run")]
    [InlineData("apply")]
    [InlineData("get", "canaries")]
    [InlineData("describe", "canary")]
    [InlineData("events")]
    [InlineData("demo")]
    public async Task Help_EveryVerb_ShowsAnExample(params string[] verb)
    {
        var (exit, output, _) = await CliRunner.RunAsync([.. verb, "--help"]);
        Assert.Equal(0, exit);
        Assert.Contains("Example:", output);
    }
}
