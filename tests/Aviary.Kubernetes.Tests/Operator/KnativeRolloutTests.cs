using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// A Knative canary through the operator, authenticated as the deploy/ ServiceAccount: the target is a Knative Service
/// (serving.knative.dev/v1), the primary is a revision, and the traffic of the Service itself moves in steps. Knative's
/// controller cannot run here (it needs a container runtime and its images), so <see cref="TestKnative"/> plays its part
/// against the real API server: a new revision after a template change, and <c>status.traffic</c> from
/// <c>spec.traffic</c> (the test mesh applies it before following it).
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class KnativeRolloutTests(OperatorCluster cluster)
{
    private const string CanaryYaml = """
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
        spec:
          provider: knative
          targetRef:
            apiVersion: serving.knative.dev/v1
            kind: Service
            name: podinfo
          analysis:
            interval: 2s
            threshold: 2
            stepWeight: 20
            maxWeight: 60
        """;

    [Fact]
    public async Task NewRevision_ServiceTrafficAdvancesInStepsThenTheRevisionIsPrimary()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "knative", Workload = "podinfo" });
        await TestKnative.CreateServiceAsync(bed.Server, bed.Namespace, "podinfo");
        await bed.ApplyAsync(CanaryYaml);
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        var service = await bed.RequireAsync("serving.knative.dev/v1", "services/podinfo");
        Assert.Equal("podinfo-00001", service["metadata"]!["annotations"]!["flagger.app/primary-revision"]!.GetValue<string>());
        await bed.WaitForWeightsAsync(100, 0);
        // No Services of its own: Knative routes to revisions.
        Assert.Null(await bed.GetAsync("v1", "services/podinfo-primary"));

        using var sampling = new CancellationTokenSource();
        var seen = new List<int>();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                var routes = bed.Mesh!.Routes;
                if (routes.Exists && (seen.Count == 0 || seen[^1] != routes.Weights.Canary)) seen.Add(routes.Weights.Canary);
                await Task.Delay(100);
            }
        });
        await bed.KubectlAsync("patch", "services.serving.knative.dev", "podinfo", "--type=merge",
            "-p", """{"spec":{"template":{"spec":{"containers":[{"image":"ghcr.io/stefanprodan/podinfo:6.0.1"}]}}}}""");
        await TestKnative.PublishRevisionAsync(bed.Server, bed.Namespace, "podinfo", 2, ready: true);
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(90));
        await sampling.CancelAsync();
        await sampler;

        Assert.Equal([0, 20, 40, 60, 0], seen);
        var promoted = await bed.RequireAsync("serving.knative.dev/v1", "services/podinfo");
        Assert.Equal("podinfo-00002", promoted["metadata"]!["annotations"]!["flagger.app/primary-revision"]!.GetValue<string>());
        var id = $"podinfo.{bed.Namespace}";
        await bed.WaitForEventAsync($"Promotion completed! Scaling down {id}");
        Assert.True(SeedTests.IsSubsequence([$"Advance {id} canary weight 60", $"Promotion completed! Scaling down {id}"], bed.EventMessages()),
            string.Join("\n", bed.EventMessages()));
        bed.AssertNothingForbidden();
    }

    [Fact]
    public async Task RevisionThatNeverGetsReady_RolledBackAtTheProgressDeadline_PrimaryRevisionKept()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "knative", Workload = "podinfo" });
        await TestKnative.CreateServiceAsync(bed.Server, bed.Namespace, "podinfo");
        await bed.ApplyAsync(CanaryYaml.Replace("  analysis:", "  progressDeadlineSeconds: 5\n  analysis:", StringComparison.Ordinal));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        await TestKnative.PublishRevisionAsync(bed.Server, bed.Namespace, "podinfo", 2, ready: false);
        await bed.WaitForCanaryPhaseAsync("podinfo", "Failed", TimeSpan.FromSeconds(90));

        var service = await bed.RequireAsync("serving.knative.dev/v1", "services/podinfo");
        Assert.Equal("podinfo-00001", service["metadata"]!["annotations"]!["flagger.app/primary-revision"]!.GetValue<string>());
        await bed.WaitForWeightsAsync(100, 0);
        Assert.Contains(bed.EventMessages(), m => m.Contains("podinfo-00002", StringComparison.Ordinal) && m.Contains("not ready", StringComparison.Ordinal));
        bed.AssertNothingForbidden();
    }
}
