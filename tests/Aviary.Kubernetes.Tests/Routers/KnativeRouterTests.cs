using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// KnativeRouter (provider <c>knative</c>) against the real API server with Knative Serving's CRDs: the exact
/// <c>spec.traffic</c> it writes on the target Knative Service at each step, as Flagger's Knative router writes it, and
/// the weights read back from <c>status.traffic</c> (reported by <see cref="TestKnative"/> as Knative's controller would).
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class KnativeRouterTests(KubeApiServerFixture fixture)
{
    private const string Version = "serving.knative.dev/v1";

    private KubeApiServer Server => fixture.Server;

    private static string Traffic(int primary, int canary, string primaryRevision = "podinfo-00001") =>
        $$"""[{"latestRevision":true,"percent":{{canary}}},{"revisionName":"{{primaryRevision}}","percent":{{primary}}}]""";

    [Fact]
    public async Task Scenario_InitializeStepsAndFinalize_ExactTrafficAtEachStep()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "knative-golden");
        await TestKnative.CreateServiceAsync(Server, bed.Namespace, "podinfo");
        var canary = await bed.CanaryAsync("knative");
        var router = bed.Router("knative");

        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        var initialized = await bed.RequireAsync(Version, "services/podinfo");
        Assert.Equal("podinfo-00001", initialized["metadata"]!["annotations"]!["flagger.app/primary-revision"]!.GetValue<string>());
        RouterTestBed.AssertJson(Traffic(100, 0), initialized["spec"]!["traffic"]);

        // Until Knative reports the traffic, there is nothing to read.
        Assert.False((await router.GetRoutesAsync(canary, default)).Succeeded);
        await TestKnative.ApplyTrafficAsync(Server, bed.Namespace, "podinfo");
        Assert.Equal(RouteWeights.AllPrimary, RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));

        await TestKnative.PublishRevisionAsync(Server, bed.Namespace, "podinfo", 2, ready: true);
        foreach (var weight in new[] { 10, 20, 30 })
        {
            RouterTestBed.Succeeded(await router.SetRoutesAsync(canary, new RouteWeights(100 - weight, weight), default));
            RouterTestBed.AssertJson(Traffic(100 - weight, weight), (await bed.RequireAsync(Version, "services/podinfo"))["spec"]!["traffic"]);
            await TestKnative.ApplyTrafficAsync(Server, bed.Namespace, "podinfo");
            Assert.Equal(new RouteWeights(100 - weight, weight), RouterTestBed.Weights(await router.GetRoutesAsync(canary, default)));
        }

        // A reconcile mid-analysis leaves the traffic and the primary alone.
        RouterTestBed.Succeeded(await router.ReconcileAsync(canary, default));
        RouterTestBed.AssertJson(Traffic(70, 30), (await bed.RequireAsync(Version, "services/podinfo"))["spec"]!["traffic"]);

        // Finalizing routes everything to the primary revision and keeps naming it.
        RouterTestBed.Succeeded(await router.FinalizeAsync(canary, default));
        var final = await bed.RequireAsync(Version, "services/podinfo");
        RouterTestBed.AssertJson(Traffic(100, 0), final["spec"]!["traffic"]);
        Assert.Equal("podinfo-00001", final["metadata"]!["annotations"]!["flagger.app/primary-revision"]!.GetValue<string>());
    }

    [Fact]
    public async Task MissingServiceOrRevision_FailedOutcomesNamingThem()
    {
        using var bed = await RouterTestBed.CreateAsync(Server, "knative-errors");
        var canary = await bed.CanaryAsync("knative");
        var router = bed.Router("knative");

        var missing = await router.ReconcileAsync(canary, default);
        Assert.False(missing.Succeeded);
        Assert.Contains("Service podinfo.", missing.Error, StringComparison.Ordinal);

        var unmarked = await router.SetRoutesAsync(canary, new RouteWeights(90, 10), default);
        Assert.False(unmarked.Succeeded);
    }
}
