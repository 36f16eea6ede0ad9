using System.Globalization;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Operator;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// The operator at fleet scale, on the real API server: a canary at rest ticks from the informers' cache without a
/// single API request (counted by the operator's own request metric on /metrics), and three replicas split the canaries
/// by shard Leases, one of them killed mid-rollout: another takes its shards and finishes the rollout from its status.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class FleetTests(OperatorCluster cluster)
{
    [Fact]
    public async Task IdleCanary_WokenByChanges_TicksWithoutAnyApiRequest()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "idle" });
        await bed.ApplyAsync(RolloutManifests.Podinfo());
        await bed.ApplyAsync(RolloutManifests.Canary());
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));
        var host = bed.Operator()!;
        await bed.WaitUntilAsync(() => Task.FromResult(host.Controller.Parked == 1), TimeSpan.FromSeconds(30), "the canary parked");

        var before = await RequestsAsync(bed);
        var steps = host.Controller.WorkDuration.Count;
        // Three changes of the Canary (an annotation no one reads): each wakes the parked canary, which ticks.
        for (var i = 0; i < 3; i++)
        {
            await bed.KubectlAsync("annotate", "--overwrite", "canary/podinfo", "example.com/touched=" + i.ToString(CultureInfo.InvariantCulture));
            var at = steps + i + 1;
            await bed.WaitUntilAsync(() => Task.FromResult(host.Controller.WorkDuration.Count >= at), TimeSpan.FromSeconds(30), $"step {at}");
        }
        Assert.True(host.Controller.Parked == 1, "the canary is still at rest");

        var after = await RequestsAsync(bed);
        Assert.True(after.Writes == before.Writes, $"writes {before.Writes} -> {after.Writes}");
        Assert.True(after.Reads == before.Reads, $"reads {before.Reads} -> {after.Reads}");
    }

    [Fact]
    public async Task ThreeReplicas_ShardOwnerKilledMidRollout_AnotherTakesItsShardsAndFinishes()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions
        {
            Provider = "linkerd",
            Replicas = 3,
            MaxReplicas = 3,
            Shards = 6,
            NamespacePrefix = "shards",
        });
        var replicas = Enumerable.Range(0, 3).ToArray();
        await bed.WaitUntilAsync(() => Task.FromResult(replicas.All(r => bed.Operator(r)!.Sharding!.Owned.Count == 2)), TimeSpan.FromSeconds(60),
            "two shards per replica: " + string.Join(" ", replicas.Select(r => $"[{string.Join(",", bed.Operator(r)!.Sharding!.Owned)}]")));
        // Every shard is held by exactly one replica.
        Assert.Equal(Enumerable.Range(0, 6), replicas.SelectMany(r => bed.Operator(r)!.Sharding!.Owned).Order());

        var shard = ShardCoordinator.ShardOf(bed.Namespace, "podinfo", 6);
        var owner = replicas.Single(r => bed.Operator(r)!.Sharding!.Owned.Contains(shard));
        await using var splits = await RolloutRecorder.StartAsync(bed);
        await RolloutManifests.RollOutUntilWeightAsync(bed, 20);
        // Only the owner ticks the canary.
        foreach (var r in replicas) Assert.Equal(r == owner, bed.Operator(r)!.Metrics.Ticks($"podinfo.{bed.Namespace}") > 0);

        await bed.KillOperatorAsync(owner);
        var survivors = replicas.Where(r => r != owner).ToArray();
        await bed.WaitUntilAsync(() => Task.FromResult(survivors.All(r => bed.Operator(r)!.Sharding!.Owned.Count == 3)), TimeSpan.FromSeconds(60),
            "three shards per survivor: " + string.Join(" ", survivors.Select(r => $"[{string.Join(",", bed.Operator(r)!.Sharding!.Owned)}]")));
        var heir = survivors.Single(r => bed.Operator(r)!.Sharding!.Owned.Contains(shard));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(90));
        Assert.True(bed.Operator(heir)!.Metrics.Ticks($"podinfo.{bed.Namespace}") > 0);

        var primary = await bed.RequireAsync("apps/v1", "deployments/podinfo-primary");
        Assert.Equal("ghcr.io/stefanprodan/podinfo:6.0.1", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        await RolloutManifests.AssertOneRolloutAsync(bed);
        splits.AssertSteppedUpThenBack(maxWeight: 50, step: 10);
        var lease = await bed.RequireAsync("coordination.k8s.io/v1", "leases/" + ShardCoordinator.ShardLease(bed.LeaseName, shard));
        Assert.Equal(bed.Identity(heir), lease["spec"]!["holderIdentity"]!.GetValue<string>());
    }

    /// <summary>The operator's API requests by its /metrics (aviary_kube_requests_total): reads (GET, LIST) and writes.</summary>
    private static async Task<(long Reads, long Writes)> RequestsAsync(OperatorTestBed bed)
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri(bed.OperatorUrl(), "/metrics"));
        long reads = 0, writes = 0;
        foreach (var line in text.Split('\n').Where(l => l.StartsWith("aviary_kube_requests_total{", StringComparison.Ordinal)))
        {
            var value = long.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            if (line.Contains("verb=\"GET\"", StringComparison.Ordinal) || line.Contains("verb=\"LIST\"", StringComparison.Ordinal)) reads += value;
            else if (!line.Contains("verb=\"WATCH\"", StringComparison.Ordinal)) writes += value;
        }
        return (reads, writes);
    }
}
