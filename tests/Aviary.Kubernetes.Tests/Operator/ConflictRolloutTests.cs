using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// Acceptance item 5 end to end: the operator (as deploy/'s ServiceAccount) runs a whole rollout while a user keeps
/// editing the Canary's labels, annotations and spec. The rollout is the same as without the edits (one promotion,
/// every step once) and the Canary ends with the user's last edits and the operator's final status.
/// <see cref="ConflictTests"/> proves on the controller itself that these writes meet 409 and retry.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class ConflictRolloutTests(OperatorCluster cluster)
{
    [Fact]
    public async Task Rollout_UserEditsTheCanaryThroughout_NothingLostOnEitherSide()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "conflict-e2e" });
        await using var splits = await RolloutRecorder.StartAsync(bed);
        await bed.ApplyAsync(RolloutManifests.Podinfo());
        await bed.ApplyAsync(RolloutManifests.Canary(revertOnDeletion: true));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        using var user = new KubeClient(KubeClientConfig.FromKubeconfig(bed.Server.AdminKubeconfig), new KubeClientOptions { Qps = 0 });
        var canaries = user.Resource(KubeResources.Canaries);
        using var stop = new CancellationTokenSource();
        var lastEdit = -1;
        var editor = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var text = i.ToString(CultureInfo.InvariantCulture);
                var patched = await canaries.PatchAsync(bed.Namespace, "podinfo", KubePatch.Merge(new JsonObject
                {
                    ["metadata"] = new JsonObject
                    {
                        ["labels"] = new JsonObject { ["edit"] = text },
                        ["annotations"] = new JsonObject { ["example.com/note"] = "edit " + text },
                    },
                    ["spec"] = new JsonObject { ["analysis"] = new JsonObject { ["threshold"] = 3 + i % 3 } },
                }), CancellationToken.None);
                Assert.True(patched.Succeeded, patched.ToString());
                lastEdit = i;
                await Task.Delay(5, CancellationToken.None);
            }
        }, CancellationToken.None);
        try
        {
            await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1");
            await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(90));
        }
        finally
        {
            await stop.CancelAsync();
            await editor;
        }

        var final = await bed.RequireAsync("flagger.app/v1beta1", "canaries/podinfo");
        var last = lastEdit.ToString(CultureInfo.InvariantCulture);
        Assert.True(lastEdit > 20, $"only {lastEdit + 1} edits");
        Assert.Equal(last, final["metadata"]!["labels"]!["edit"]!.GetValue<string>());
        Assert.Equal("edit " + last, final["metadata"]!["annotations"]!["example.com/note"]!.GetValue<string>());
        Assert.Equal(3 + lastEdit % 3, final["spec"]!["analysis"]!["threshold"]!.GetValue<int>());
        Assert.Contains(final["metadata"]!["finalizers"]!.AsArray(), f => f!.GetValue<string>() == "finalizer.aviary.dev");
        Assert.Equal("Succeeded", final["status"]!["phase"]!.GetValue<string>());
        Assert.Equal(0, final["status"]!["canaryWeight"]!.GetValue<int>());
        await RolloutManifests.AssertOneRolloutAsync(bed);
        splits.AssertSteppedUpThenBack(maxWeight: 50, step: 10);
    }
}
