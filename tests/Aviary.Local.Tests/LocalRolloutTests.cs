using System.Diagnostics;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Local.Workloads;
using Aviary.Routing.Proxy;
using Aviary.TestKit;

namespace Aviary.Local.Tests;

/// <summary>
/// End to end on the local runtime: real demo-service processes behind the built-in router, real HTTP on
/// 127.0.0.1, a real controller. Timeouts are generous ceilings, never assertions on speed.
/// </summary>
[Collection("local runtime")]
public sealed class LocalRolloutTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private static Task<LocalTestBed> StartAsync(string analysis = LocalTestBed.FastAnalysis, string extraSpec = "") => LocalTestBed.CreateAsync(async bed =>
    {
        bed.WriteWorkload("--version 1.0.0");
        bed.WriteCanary(analysis, extraSpec);
        await bed.StartControllerAsync();
        await bed.WaitForPhaseAsync(CanaryPhase.Initialized, Minute);
        bed.StartLoad();
        await WaitForTrafficAsync(bed);
    });

    private static Task WaitForTrafficAsync(LocalTestBed bed) =>
        Eventually.True(() => bed.Traffic!.Results.Count(r => r.Status == 200) >= 20, Minute, what: "20 answered requests");

    [Fact]
    public async Task Rollout_HealthyRelease_PromotedWithZeroFailedRequests()
    {
        await using var bed = await StartAsync();
        var initial = bed.Status!.LastPromotedSpec;

        bed.WriteWorkload("--version 2.0.0");
        await bed.WaitForAsync(Minute * 2, s => s.Phase == CanaryPhase.Succeeded && s.LastPromotedSpec != initial, "promotion of v2");
        // Keep the load on through the canary's scale-down.
        var workload = bed.Controller!.WorkloadOf("podinfo.test")!;
        await Eventually.True(() => workload.Canary.Snapshot().Count == 0, Minute);
        var answered = bed.Traffic!.Results.Count;
        await Eventually.True(() => bed.Traffic.Results.Count >= answered + 20, Minute, what: "20 more requests after the scale-down");

        var results = bed.Traffic!.Results.ToList();
        Assert.Empty(bed.Traffic.Failures());
        Assert.True(results.Count > 200, $"only {results.Count} requests were sent");
        Assert.Contains(results, r => r.Body?.Contains("\"version\":\"2.0.0\"", StringComparison.Ordinal) == true);
        Assert.All(results.TakeLast(20), r => Assert.Contains("\"version\":\"2.0.0\"", r.Body!, StringComparison.Ordinal));
        Assert.Empty(workload.Canary.Snapshot());
        Assert.Single(workload.Primary.Snapshot());
        Assert.Contains("Promotion completed! Scaling down podinfo.test", bed.Events);
        Assert.Equal(new RouteWeights(100, 0), bed.Controller.Router.GetRoute("podinfo.test").Weights);
    }

    [Fact]
    public async Task Rollout_ReleaseWith20PercentErrors_RolledBackAfterThreshold()
    {
        await using var bed = await StartAsync();

        bed.WriteWorkload("--version 2.0.0 --error-rate 0.2");
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute * 2);

        var status = bed.Status!;
        Assert.Equal(3, status.FailedChecks);
        Assert.Equal(0, status.CanaryWeight);
        Assert.Contains("Rolling back podinfo.test failed checks threshold reached 3", bed.Events);
        Assert.Contains("Canary failed! Scaling down podinfo.test", bed.Events);
        Assert.Contains(bed.Events, e => e.StartsWith("Halt podinfo.test advancement success rate", StringComparison.Ordinal));
        Assert.Equal(new RouteWeights(100, 0), bed.Controller!.Router.GetRoute("podinfo.test").Weights);
        var workload = bed.Controller.WorkloadOf("podinfo.test")!;
        Assert.Empty(workload.Canary.Snapshot());
        Assert.DoesNotContain(bed.Store.Instances("podinfo.test"), i => i.Role == "canary");

        // Afterwards every request is served by the primary, still on v1.
        var after = bed.Traffic!.Results.Count;
        await Eventually.True(() => bed.Traffic.Results.Count >= after + 20);
        var tail = bed.Traffic.Results.Skip(after).ToList();
        Assert.All(tail, r => Assert.Equal(200, r.Status));
        Assert.All(tail, r => Assert.Contains("\"version\":\"1.0.0\"", r.Body!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rollout_ReleaseSlowerThanMaxDuration_RolledBack()
    {
        // A 2.5 s answer completes 2.5 s after the canary first takes traffic, so the checks of the first seconds see
        // no canary request yet ("no values found", a failed check too): six checks a second apart leave room for
        // the slow answers to be judged before the threshold, however slow the machine.
        await using var bed = await StartAsync(LocalTestBed.FastAnalysis.Replace("threshold: 3", "threshold: 6", StringComparison.Ordinal));

        bed.WriteWorkload("--version 2.0.0 --latency 2500ms");
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute * 2);

        Assert.True(bed.Events.Any(e => e.StartsWith("Halt podinfo.test advancement request duration", StringComparison.Ordinal) && e.Contains("> 1.5s", StringComparison.Ordinal)), "no halt on request duration in: " + string.Join(" | ", bed.Events));
        Assert.Contains("Rolling back podinfo.test failed checks threshold reached 6", bed.Events);
        Assert.Empty(bed.Controller!.WorkloadOf("podinfo.test")!.Canary.Snapshot());
    }

    [Fact]
    public async Task Rollout_CommandThatCannotStart_RolledBackAtProgressDeadline()
    {
        await using var bed = await StartAsync(extraSpec: "progressDeadlineSeconds: 4");

        bed.WriteWorkload("--version 2.0.0", command: "/nonexistent/aviary-test-binary");
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute);

        var rollback = Assert.Single(bed.Events, e => e.StartsWith("Rolling back podinfo.test progress deadline exceeded", StringComparison.Ordinal));
        Assert.Contains("canary workload podinfo.test not ready", rollback);
        Assert.Contains("/nonexistent/aviary-test-binary", rollback);
        Assert.Empty(bed.Traffic!.Failures());
    }

    [Fact]
    public async Task Rollout_CanaryNeverReady_RolledBackAtProgressDeadline()
    {
        await using var bed = await StartAsync(extraSpec: "progressDeadlineSeconds: 4");

        bed.WriteWorkload("--version 2.0.0 --never-ready");
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute);

        Assert.Contains(bed.Events, e => e.StartsWith("Rolling back podinfo.test progress deadline exceeded canary workload podinfo.test not ready: waiting for rollout to finish: 0 of 1", StringComparison.Ordinal));
        Assert.Empty(bed.Controller!.WorkloadOf("podinfo.test")!.Canary.Snapshot());
        Assert.Empty(bed.Traffic!.Failures());
    }
}

[CollectionDefinition("local runtime", DisableParallelization = true)]
public sealed class LocalRuntimeCollection;
