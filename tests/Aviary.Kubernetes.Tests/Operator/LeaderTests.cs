namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// Acceptance item 4, second half: two operator replicas share a Lease; only the leader writes (workloads, routing,
/// status, events, its canary metrics), the standby only watches. When the leader is killed, the standby takes over
/// once the lease expired and finishes the rollout, with one promotion and weights that never go backwards.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class LeaderTests(OperatorCluster cluster)
{
    /// <summary>Log categories of the operator's writes to the cluster (workloads, Services and routing objects, alerts of tick outcomes).</summary>
    private static readonly string[] WriterCategories = [" Aviary.Kubernetes.Workloads:", " Aviary.Kubernetes.Routers:", " Aviary.Alerts:"];

    [Fact]
    public async Task TwoReplicas_LeaderKilledMidRollout_StandbyTakesOverAndFinishes()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions
        {
            Provider = "linkerd",
            Replicas = 2,
            NamespacePrefix = "leader",
        });
        var leader = await bed.WaitForLeaderAsync();
        var standby = 1 - leader;
        Assert.Equal(bed.Identity(leader), await bed.LeaderAsync());
        Assert.False(bed.Operator(standby)!.IsLeader);

        await using var splits = await RolloutRecorder.StartAsync(bed);
        await RolloutManifests.RollOutUntilWeightAsync(bed, 20);

        // Before the kill: the leader did every write; the standby watched (it serves /metrics, without the canary).
        var beforeKill = bed.OperatorLog.ToArray();
        AssertOnlyWriter(beforeKill, bed.Identity(leader), bed.Identity(standby));
        var standbyMetrics = await MetricsAsync(bed, standby);
        Assert.Contains("aviary_leader 0", standbyMetrics, StringComparison.Ordinal);
        Assert.DoesNotContain("flagger_canary_status{", standbyMetrics, StringComparison.Ordinal);
        var leaderMetrics = await MetricsAsync(bed, leader);
        Assert.Contains("aviary_leader 1", leaderMetrics, StringComparison.Ordinal);
        Assert.Contains("flagger_canary_status{", leaderMetrics, StringComparison.Ordinal);

        await bed.KillOperatorAsync(leader);
        var killedAt = beforeKill.Length;
        var lease = await bed.RequireAsync("coordination.k8s.io/v1", "leases/" + bed.LeaseName);
        Assert.Equal(bed.Identity(leader), lease["spec"]!["holderIdentity"]!.GetValue<string>());

        Assert.Equal(standby, await bed.WaitForLeaderAsync(TimeSpan.FromSeconds(30)));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(90));

        var after = bed.OperatorLog.ToArray();
        // The killed leader's last in-flight lines may land just after the snapshot; from the takeover on, only the new leader writes.
        var takeover = Array.FindIndex(after, killedAt, l => l.StartsWith(bed.Identity(standby) + " ", StringComparison.Ordinal) && IsWrite(l));
        Assert.True(takeover >= 0, "the standby never wrote:\n" + string.Join("\n", after.Skip(killedAt)));
        AssertOnlyWriter(after[takeover..], bed.Identity(standby), bed.Identity(leader));
        var newLease = await bed.RequireAsync("coordination.k8s.io/v1", "leases/" + bed.LeaseName);
        Assert.Equal(bed.Identity(standby), newLease["spec"]!["holderIdentity"]!.GetValue<string>());
        Assert.True(newLease["spec"]!["leaseTransitions"]!.GetValue<int>() >= 1);
        Assert.Contains("aviary_leader 1", await MetricsAsync(bed, standby), StringComparison.Ordinal);

        var primary = await bed.RequireAsync("apps/v1", "deployments/podinfo-primary");
        Assert.Equal("ghcr.io/stefanprodan/podinfo:6.0.1", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        await RolloutManifests.AssertOneRolloutAsync(bed);
        splits.AssertSteppedUpThenBack(maxWeight: 50, step: 10);
    }

    [Fact]
    public async Task TwoReplicas_LeaderStoppedGracefully_StandbyTakesOverTheReleasedLeaseAndFinishes()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions
        {
            Provider = "linkerd",
            Replicas = 2,
            NamespacePrefix = "handover",
            // A lease far longer than the test: the standby can only take over because the leader released it.
            LeaseDuration = TimeSpan.FromMinutes(10),
            RenewDeadline = TimeSpan.FromMinutes(5),
        });
        var leader = await bed.WaitForLeaderAsync();
        var standby = 1 - leader;
        await using var splits = await RolloutRecorder.StartAsync(bed);
        await RolloutManifests.RollOutUntilWeightAsync(bed, 20);

        await bed.StopOperatorAsync(leader);
        Assert.Equal(standby, await bed.WaitForLeaderAsync(TimeSpan.FromSeconds(30)));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(60));
        await RolloutManifests.AssertOneRolloutAsync(bed);
        splits.AssertSteppedUpThenBack(maxWeight: 50, step: 10);
    }

    private static bool IsWrite(string line) => WriterCategories.Any(c => line.Contains(c, StringComparison.Ordinal));

    private static void AssertOnlyWriter(IEnumerable<string> log, string writer, string other)
    {
        var lines = log.ToList();
        Assert.Contains(lines, l => l.StartsWith(writer + " ", StringComparison.Ordinal) && IsWrite(l));
        var foreign = lines.Where(l => l.StartsWith(other + " ", StringComparison.Ordinal) && IsWrite(l)).ToList();
        Assert.True(foreign.Count == 0, $"{other} wrote while {writer} led:\n{string.Join("\n", foreign)}");
    }

    private static async Task<string> MetricsAsync(OperatorTestBed bed, int replica)
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(new Uri(bed.OperatorUrl(replica), "/metrics"));
    }
}
