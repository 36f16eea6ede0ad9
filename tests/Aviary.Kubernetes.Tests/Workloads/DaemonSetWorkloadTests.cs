using System.Text.Json.Nodes;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Workloads;
using Aviary.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Tests.Workloads;

[Collection(KubeCollection.Name)]
public sealed class DaemonSetWorkloadTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    private async Task<(KubeTestBed Bed, CanaryPolicy Canary, DaemonSetWorkload Workload)> PodinfoAsync(string prefix)
    {
        var bed = await KubeTestBed.CreateAsync(Server, prefix);
        await bed.ApplyConfigsAsync();
        await bed.ApplyPodinfoAsync(kind: "DaemonSet");
        var canary = await bed.CreateCanaryAsync(kind: "DaemonSet");
        return (bed, canary, new DaemonSetWorkload(bed.Client, bed.Clock, NullLogger.Instance));
    }

    private static JsonObject? NodeSelector(JsonObject daemonSet) => daemonSet["spec"]!["template"]!["spec"]!["nodeSelector"] as JsonObject;

    [Fact]
    public async Task EnsurePrimaryAsync_PodinfoDaemonSet_CreatesPrimaryWithConfigCopiesOwnedByTheCanary()
    {
        var (bed, canary, workload) = await PodinfoAsync("ds-bootstrap");
        using var _ = bed;

        var result = await workload.EnsurePrimaryAsync(canary, default);

        Assert.True(result.Succeeded, result.Error);
        var primary = await bed.GetAsync(bed.DaemonSets, "podinfo-primary");
        Assert.Equal("""{"matchLabels":{"app":"podinfo-primary"}}""", primary["spec"]!["selector"]!.ToJsonString());
        Assert.Equal("RollingUpdate", primary["spec"]!["updateStrategy"]!["type"]!.GetValue<string>());
        Assert.Equal(3, primary["spec"]!["minReadySeconds"]!.GetValue<int>());
        var template = primary["spec"]!["template"]!;
        Assert.Equal("podinfo-primary", template["metadata"]!["labels"]!["app"]!.GetValue<string>());
        Assert.Equal("podinfo-config-primary", template["spec"]!["volumes"]![0]!["configMap"]!["name"]!.GetValue<string>());
        Assert.Equal(KubeTestBed.Time(bed.Clock.GetUtcNow()), primary["metadata"]!["annotations"]!["aviary.dev/rollout-started"]!.GetValue<string>());
        DeploymentWorkloadTests.AssertOwnedBy(primary, canary);
        DeploymentWorkloadTests.AssertOwnedBy(await bed.GetAsync(bed.ConfigMaps, "podinfo-config-primary"), canary);
        Assert.Null(NodeSelector(await bed.GetAsync(bed.DaemonSets, "podinfo")));
    }

    [Fact]
    public async Task EnsurePrimaryAsync_OnDeleteStrategy_IsRefusedAsFlaggerDoes()
    {
        using var bed = await KubeTestBed.CreateAsync(Server, "ds-ondelete");
        await bed.ApplyConfigsAsync();
        await Server.ApplyAsync(bed.PodinfoYaml(kind: "DaemonSet").Replace("updateStrategy: {type: RollingUpdate}", "updateStrategy: {type: OnDelete}",
            StringComparison.Ordinal));
        var canary = await bed.CreateCanaryAsync(kind: "DaemonSet");

        var result = await new DaemonSetWorkload(bed.Client, bed.Clock, NullLogger.Instance).EnsurePrimaryAsync(canary, default);

        Assert.Equal($"daemonset podinfo.{bed.Namespace} must have RollingUpdate strategy but have OnDelete", result.Error);
    }

    [Fact]
    public async Task ObserveAsync_DaemonSetStatuses_GiveFlaggersMessagesWaitingSinceTheLaterOfStampAndTransition()
    {
        var (bed, canary, workload) = await PodinfoAsync("ds-ready");
        using var _ = bed;
        var created = bed.Clock.GetUtcNow();
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);

        var fresh = (await workload.ObserveAsync(canary, default)).Value!.Primary;
        Assert.Equal("waiting for rollout to finish: observed daemonset generation less than desired generation", fresh.Message);
        Assert.Equal(created, fresh.WaitingSince);

        await bed.SetDaemonSetStatusAsync("podinfo-primary", desired: 3, updated: 1, available: 1);
        Assert.Equal("waiting for rollout to finish: 1 out of 3 new pods have been updated",
            (await workload.ObserveAsync(canary, default)).Value!.Primary.Message);

        await bed.SetDaemonSetStatusAsync("podinfo-primary", desired: 3, updated: 3, available: 2);
        var waiting = (await workload.ObserveAsync(canary, default)).Value!.Primary;
        Assert.Equal("waiting for rollout to finish: 2 of 3 (readyThreshold 100%) updated pods are available", waiting.Message);
        Assert.False(waiting.Stalled);

        // A later transition of the canary (Flagger's reference point) moves the start of the deadline.
        var transition = created.AddMinutes(5);
        var later = canary with { Manifest = canary.Manifest with { Status = new CanaryStatus { LastTransitionTime = transition } } };
        Assert.Equal(transition, (await workload.ObserveAsync(later, default)).Value!.Primary.WaitingSince);

        Assert.True((await workload.ObserveAsync(canary with { PrimaryReadyThreshold = 60 }, default)).Value!.Primary.Ready);
        await bed.SetDaemonSetStatusAsync("podinfo-primary", desired: 3, updated: 3, available: 3);
        Assert.True((await workload.ObserveAsync(canary, default)).Value!.Primary.Ready);
    }

    [Fact]
    public async Task ScaleDownAndUp_DaemonSet_UsesTheNodeSelectorThatMatchesNothingWithoutChangingTheRevision()
    {
        var (bed, canary, workload) = await PodinfoAsync("ds-scale");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        var before = (await workload.ObserveAsync(canary, default)).Value!;

        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);

        Assert.Equal("""{"flagger.app/scale-to-zero":"true"}""", NodeSelector(await bed.GetAsync(bed.DaemonSets, "podinfo"))!.ToJsonString());
        var down = (await workload.ObserveAsync(canary, default)).Value!;
        Assert.Equal(before.Revision, down.Revision);
        var rv = KubeJson.ResourceVersion(await bed.GetAsync(bed.DaemonSets, "podinfo"));
        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);
        Assert.Equal(rv, KubeJson.ResourceVersion(await bed.GetAsync(bed.DaemonSets, "podinfo")));

        bed.Clock.Advance(TimeSpan.FromMinutes(3));
        Assert.True((await workload.ScaleUpCanaryAsync(canary, default)).Succeeded);

        var up = await bed.GetAsync(bed.DaemonSets, "podinfo");
        Assert.Null(NodeSelector(up));
        Assert.Equal(KubeTestBed.Time(bed.Clock.GetUtcNow()), up["metadata"]!["annotations"]!["aviary.dev/rollout-started"]!.GetValue<string>());
        var state = (await workload.ObserveAsync(canary, default)).Value!;
        Assert.Equal(before.Revision, state.Revision);
        Assert.Equal(bed.Clock.GetUtcNow(), state.Canary.WaitingSince);
    }

    [Fact]
    public async Task PromoteAsync_ScaledDownTarget_NeverCopiesTheScaleDownSelectorAndIsIdempotent()
    {
        var (bed, canary, workload) = await PodinfoAsync("ds-promote");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);
        await Server.ApplyAsync(bed.PodinfoYaml(kind: "DaemonSet", image: "ghcr.io/stefanprodan/podinfo:6.0.1", extraSpec: "nodeSelector: {disk: ssd}"));
        var observed = (await workload.ObserveAsync(canary, default)).Value!;

        Assert.True((await workload.PromoteAsync(canary, default)).Succeeded);

        var primary = await bed.GetAsync(bed.DaemonSets, "podinfo-primary");
        Assert.Equal("ghcr.io/stefanprodan/podinfo:6.0.1", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Equal("""{"disk":"ssd"}""", NodeSelector(primary)!.ToJsonString());
        Assert.Equal(observed.Revision, (await workload.ObserveAsync(canary, default)).Value!.PrimaryRevision);
        Assert.True((await workload.PromoteAsync(canary, default)).Succeeded);
        Assert.Equal(KubeJson.ResourceVersion(primary), KubeJson.ResourceVersion(await bed.GetAsync(bed.DaemonSets, "podinfo-primary")));
    }

    [Fact]
    public async Task RevertAsync_ScaledDownDaemonSet_IsScaledUpAndSucceedsOnceReady()
    {
        var (bed, canary, workload) = await PodinfoAsync("ds-revert");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);

        var first = await workload.RevertAsync(canary, default);

        Assert.StartsWith($"daemonset podinfo.{bed.Namespace} scaled up, not ready yet:", first.Error, StringComparison.Ordinal);
        Assert.Null(NodeSelector(await bed.GetAsync(bed.DaemonSets, "podinfo")));
        await bed.SetDaemonSetStatusAsync("podinfo", desired: 2, updated: 2, available: 2);
        Assert.True((await workload.RevertAsync(canary, default)).Succeeded);
    }
}
