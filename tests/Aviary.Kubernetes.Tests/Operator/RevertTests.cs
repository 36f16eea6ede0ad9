namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// Acceptance item 6: deleting a Canary with <c>revertOnDeletion</c> gives the target back its replicas and the
/// routing (the apex Service selects the target's pods, the TrafficSplit sends everything to the primary), then the
/// operator removes its finalizer and the Canary is gone. Without revertOnDeletion there is no finalizer and nothing
/// is reverted (Flagger's behaviour).
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class RevertTests(OperatorCluster cluster)
{
    [Fact]
    public async Task DeleteCanary_RevertOnDeletionMidRollout_RestoresTargetReplicasAndRouting()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "revert" });
        await bed.ApplyAsync(RolloutManifests.Podinfo(replicas: 3));
        await bed.ApplyAsync(RolloutManifests.Canary(interval: "1s", stepWeight: 10, maxWeight: 100, revertOnDeletion: true));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        var canary = await bed.RequireAsync("flagger.app/v1beta1", "canaries/podinfo");
        Assert.Contains(canary["metadata"]!["finalizers"]!.AsArray(), f => f!.GetValue<string>() == "finalizer.aviary.dev");
        Assert.Equal(0, await ReplicasAsync(bed, "podinfo"));
        Assert.Equal(3, await ReplicasAsync(bed, "podinfo-primary"));
        Assert.Equal("podinfo-primary", await ApexSelectorAsync(bed));

        // Mid-rollout: the canary takes traffic when the Canary is deleted.
        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1");
        await bed.WaitUntilAsync(async () => await RolloutManifests.CanaryWeightAsync(bed) >= 20, TimeSpan.FromSeconds(60), "canary weight 20");
        await bed.KubectlAsync("delete", "canary", "podinfo", "--wait=false");

        await bed.WaitUntilAsync(async () => await bed.GetCanaryAsync() is null, TimeSpan.FromSeconds(60), "the Canary gone");
        Assert.Equal(3, await ReplicasAsync(bed, "podinfo"));
        var target = await bed.RequireAsync("apps/v1", "deployments/podinfo");
        Assert.Equal("ghcr.io/stefanprodan/podinfo:6.0.1", target["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Equal("podinfo", await ApexSelectorAsync(bed));
        var split = await bed.GetAsync("split.smi-spec.io/v1alpha2", "trafficsplits/podinfo");
        if (split is not null)
        {
            // Without a garbage collector the owned split stays: it must route nothing to the canary.
            var backends = split["spec"]!["backends"]!.AsArray().ToDictionary(b => b!["service"]!.GetValue<string>(), b => b!["weight"]!.GetValue<int>());
            Assert.Equal(0, backends["podinfo-canary"]);
            Assert.Equal(100, backends["podinfo-primary"]);
        }
        // The bed's watch of Events may lag behind the Canary's deletion.
        await bed.WaitForEventAsync($"Finalization done! podinfo.{bed.Namespace}: podinfo.{bed.Namespace} restored");
        var messages = bed.EventMessages();
        // Nothing of the deleted Canary runs on: its loop has ended, and no rollout events came after the finalization.
        await bed.WaitUntilAsync(() => Task.FromResult(!bed.Operator()!.Controller.Running.Contains($"podinfo.{bed.Namespace}")),
            TimeSpan.FromSeconds(60), "the deleted canary's loop ended");
        var afterwards = bed.EventMessages();
        Assert.Equal(messages.Count, afterwards.Count);
        Assert.Equal(3, await ReplicasAsync(bed, "podinfo"));
    }

    [Fact]
    public async Task DeleteCanary_WithoutRevertOnDeletion_NoFinalizerAndTargetStaysScaledDown()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "norevert" });
        await bed.ApplyAsync(RolloutManifests.Podinfo(replicas: 2));
        await bed.ApplyAsync(RolloutManifests.Canary());
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));
        var canary = await bed.RequireAsync("flagger.app/v1beta1", "canaries/podinfo");
        Assert.Null(canary["metadata"]!["finalizers"]);

        await bed.KubectlAsync("delete", "canary", "podinfo", "--wait=false");
        await bed.WaitUntilAsync(async () => await bed.GetCanaryAsync() is null, TimeSpan.FromSeconds(30), "the Canary gone");
        // Its loop ends without reverting anything: nothing can act on the target afterwards.
        await bed.WaitUntilAsync(() => Task.FromResult(!bed.Operator()!.Controller.Running.Contains($"podinfo.{bed.Namespace}")),
            TimeSpan.FromSeconds(60), "the deleted canary's loop ended");
        Assert.Equal(0, await ReplicasAsync(bed, "podinfo"));
        Assert.Equal("podinfo-primary", await ApexSelectorAsync(bed));
        Assert.DoesNotContain(bed.EventMessages(), m => m.StartsWith("Finalization done!", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DeleteCanary_RevertOnDeletionTurnedOff_FinalizerRemovedAndNothingReverted()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "revert-off" });
        await bed.ApplyAsync(RolloutManifests.Podinfo(replicas: 2));
        await bed.ApplyAsync(RolloutManifests.Canary(revertOnDeletion: true));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));
        Assert.True(await HasFinalizerAsync(bed));

        await bed.ApplyAsync(RolloutManifests.Canary(revertOnDeletion: false));
        await bed.WaitUntilAsync(async () => !await HasFinalizerAsync(bed), TimeSpan.FromSeconds(30), "the finalizer removed");
        await bed.KubectlAsync("delete", "canary", "podinfo", "--wait=false");
        await bed.WaitUntilAsync(async () => await bed.GetCanaryAsync() is null, TimeSpan.FromSeconds(30), "the Canary gone");
        Assert.Equal(0, await ReplicasAsync(bed, "podinfo"));
        Assert.Equal("podinfo-primary", await ApexSelectorAsync(bed));
    }

    [Fact]
    public async Task DeleteCanary_InvalidWithFinalizer_IsNotBlockedForEver()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "revert-bad" });
        await bed.ApplyAsync(RolloutManifests.Podinfo(replicas: 2));
        await bed.ApplyAsync(RolloutManifests.Canary(revertOnDeletion: true));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));
        Assert.True(await HasFinalizerAsync(bed));

        // The CRD accepts stepWeight and iterations together; Aviary's validation does not.
        await bed.KubectlAsync("patch", "canary", "podinfo", "--type=merge", "-p", """{"spec":{"analysis":{"iterations":5}}}""");
        await bed.WaitForEventAsync("Invalid canary");
        await bed.KubectlAsync("delete", "canary", "podinfo", "--wait=false");
        await bed.WaitUntilAsync(async () => await bed.GetCanaryAsync() is null, TimeSpan.FromSeconds(30), "the invalid Canary gone");
    }

    private static async Task<bool> HasFinalizerAsync(OperatorTestBed bed) =>
        (await bed.RequireAsync("flagger.app/v1beta1", "canaries/podinfo"))["metadata"]?["finalizers"]?.AsArray()
            .Any(f => f!.GetValue<string>() == "finalizer.aviary.dev") == true;

    private static async Task<int> ReplicasAsync(OperatorTestBed bed, string deployment) =>
        (await bed.RequireAsync("apps/v1", "deployments/" + deployment))["spec"]!["replicas"]!.GetValue<int>();

    private static async Task<string?> ApexSelectorAsync(OperatorTestBed bed) =>
        (await bed.RequireAsync("v1", "services/podinfo"))["spec"]?["selector"]?["app"]?.GetValue<string>();
}
