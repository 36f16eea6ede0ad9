using Aviary.Routing;
using Aviary.Routing.Proxy;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// The sequential judge in the operator: per-arm counters from Prometheus (Istio's istio_requests_total and
/// histogram of podinfo and podinfo-primary, served by the test mesh) and looks between ticks.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class JudgeOperatorTests(OperatorCluster cluster)
{
    [Fact]
    public async Task Istio_JudgeLooksBetweenTicks_RollsBackOnPrometheusCountersBeforeTheNextTick()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "istio" });
        await bed.ApplyAsync(SeedTests.PodinfoYaml(replicas: 2));
        await bed.ApplyAsync(SeedTests.PodinfoHpaYaml);
        // Ticks 20 s apart, looks every second.
        await bed.ApplyAsync(SeedTests.IstioCanaryYaml("20s").TrimEnd() + "\n    judge:\n      type: sequential\n      lookInterval: 1s\n");
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(90));

        // The new version fails half of its requests from its first one.
        bed.SetMeshErrorRate(BackendRole.Canary, 0.5);
        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:1.7.1");
        await bed.WaitForWeightsAsync(90, 10, TimeSpan.FromSeconds(90));
        // The next tick is 20 s after the first step: a look must roll back well within it.
        var canary = await bed.WaitForCanaryPhaseAsync("podinfo", "Failed", TimeSpan.FromSeconds(15));

        Assert.Equal(0, canary["status"]!["failedChecks"]!.GetValue<int>());
        var id = $"podinfo.{bed.Namespace}";
        // The Event may reach the API server (and the bed's watch) just after the status that says Failed.
        var rolledBack = $"Rolling back {id} the judge found the canary worse than the primary: error rate: canary ";
        await bed.WaitForEventAsync(rolledBack);
        var messages = bed.EventMessages();
        var rollback = Assert.Single(messages, m => m.StartsWith(rolledBack, StringComparison.Ordinal));
        Assert.Contains("worse by more than the 0.5 pp margin", rollback, StringComparison.Ordinal);
        Assert.DoesNotContain(messages, m => m.Contains("failed checks threshold reached", StringComparison.Ordinal));
        Assert.DoesNotContain(messages, m => m == $"Advance {id} canary weight 20");
        await bed.WaitForWeightsAsync(100, 0);
        bed.AssertNothingForbidden();
    }
}
