using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aviary.Core.Abstractions;
using Aviary.Core.Manifests;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Routers;
using Aviary.Kubernetes.Services;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Routing;
using Aviary.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// Every Canary of Flagger's conformance corpus (<c>../shared/conformance/flagger/</c>) that Kubernetes accepts and that
/// names a mesh or ingress provider (in <c>spec.provider</c>, or, for Flagger's e2e tests and tutorials that set it at
/// install time, in its file's name) runs its scenario unchanged: Aviary's scheduler, in virtual time with passing
/// checks, drives the provider's real router against the real API server, and the test mesh reads the object after
/// every write, as the data plane would. A release is promoted; a second release is rolled back (its first metric
/// failing past the threshold, or aborted when it has no metrics). The transcript of what the data plane routed at
/// each tick is the golden file <c>Routers/Golden/conformance/&lt;manifest&gt;.txt</c>.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed partial class ConformanceScenarioTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    public static TheoryData<string> Manifests()
    {
        var data = new TheoryData<string>();
        foreach (var (file, _) in Corpus()) data.Add(file);
        return data;
    }

    /// <summary>The accepted Canary manifests of the corpus with the provider they run on.</summary>
    private static IEnumerable<(string File, string Provider)> Corpus()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Conformance, "index.json")));
        foreach (var entry in doc.RootElement.EnumerateArray())
        {
            if (entry.GetProperty("kind").GetString() != "Canary" || !entry.GetProperty("acceptedByKubernetesWithFlaggerCrd").GetBoolean()) continue;
            var file = entry.GetProperty("file").GetString()!;
            if (ProviderOf(file, Load(file)) is { } provider) yield return (file, provider);
        }
    }

    private static readonly string[] MeshProviders =
        ["kubernetes", "linkerd", "osm", "istio", "nginx", "skipper", "knative", "traefik", "apisix", "contour", "gloo", "kuma", "gatewayapi:v1", "gatewayapi:v1beta1"];

    /// <summary><c>spec.provider</c>, else the provider of the e2e test or tutorial the file comes from; null for any other.</summary>
    private static string? ProviderOf(string file, CanaryPolicy canary)
    {
        var provider = canary.Manifest.Spec.Provider;
        if (string.IsNullOrEmpty(provider))
        {
            var named = FromFileName().Match(file);
            provider = named.Success ? named.Groups["p"].Value : null;
            if (provider == "gatewayapi") provider = "gatewayapi:v1";
        }
        return provider is not null && MeshProviders.Contains(provider) ? provider : null;
    }

    [GeneratedRegex(@"^(test__(?<p>[a-z]+)__|docs__gitbook__tutorials__(?<p>[a-z]+)-(progressive-delivery|ab-testing)__|artifacts__examples__(?<p>[a-z]+)-(canary|abtest))")]
    private static partial Regex FromFileName();

    private static CanaryPolicy Load(string file)
    {
        var read = ManifestReader.Read(File.ReadAllText(Path.Combine(RepoPaths.Conformance, file)), file);
        var canary = read.Documents.First(d => d.Kind == "Canary");
        Assert.True(canary.IsValid, $"{file}: {string.Join("; ", canary.Diagnostics)}");
        return (CanaryPolicy)canary.Compiled!;
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public async Task Manifest_PromotedThenRolledBack_RoutesAsTheGoldenTranscriptSays(string file)
    {
        var provider = Corpus().Single(c => c.File == file).Provider;
        var canary = Load(file);
        var transcript = new StringBuilder();
        transcript.Append(CultureInfo.InvariantCulture, $"# {file} on {provider}\n");
        await RunAsync(canary, provider, rollback: false, transcript);
        await RunAsync(canary, provider, rollback: true, transcript);
        Golden.Verify($"Routers/Golden/conformance/{Path.GetFileNameWithoutExtension(file)}.txt", transcript.ToString());
    }

    [Fact]
    public void Corpus_EveryMeshProviderOfTheCorpusRuns()
    {
        var providers = Corpus().Select(c => c.Provider).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["apisix", "contour", "gatewayapi:v1", "gloo", "istio", "knative", "kubernetes", "kuma", "linkerd", "nginx", "skipper", "traefik"], providers);
    }

    private async Task RunAsync(CanaryPolicy manifest, string provider, bool rollback, StringBuilder transcript)
    {
        var ns = await Server.CreateNamespaceAsync("conf-" + provider.Replace(':', '-'));
        var uid = await RouterFixtures.ApplyAsync(Server, ns, provider, manifest);
        var canary = RouterFixtures.Place(manifest, ns, uid, provider);
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig));
        // provider kubernetes routes by the apex Service's selector alone: what it selects is read back from the Service.
        var services = provider == "kubernetes";
        IRouter routing = services ? new KubernetesServiceRouter(client, NullLogger.Instance) : Mesh(new KubeRouterFactory(client).Create(provider));
        await using var mesh = services ? null : TestMesh.Start(Server, RouterFixtures.Target(provider, canary));
        var router = new MeshFollowingRouter(routing, mesh);
        var harness = new SchedulerHarness(canary, router: router);
        static IRouter Mesh(Outcome<IKubeRouter> created)
        {
            Assert.True(created.Succeeded, created.Error);
            return created.Value!;
        }

        transcript.Append(!rollback ? "\n## a release promoted\n" : canary.SkipAnalysis ? "\n## a failing release, promoted (skipAnalysis)\n" : "\n## a release rolled back\n");
        var last = "";
        void Record(int tick)
        {
            var line = $"{harness.Phase}: {(mesh is null ? Describe(router.Apex) : Describe(mesh.Routes))}";
            if (line != last) transcript.Append(CultureInfo.InvariantCulture, $"tick {tick}: {line}\n");
            last = line;
        }

        await harness.TickAsync();
        Record(1);
        if (provider == "knative") await TestKnative.PublishRevisionAsync(Server, ns, canary.TargetName, 2, ready: true);
        harness.Workload.NewRevision();
        var failing = rollback ? FailFirstMetric(harness) : false;
        for (var tick = 2; tick <= 300; tick++)
        {
            // Without metrics to fail, the second release is aborted once it takes traffic.
            var abort = rollback && !failing && harness.Phase == "Progressing" && router.Written.Canary > 0;
            await harness.TickAsync(abort ? new ManualAction(ManualActionKind.Abort, "conformance", harness.Clock.GetUtcNow()) : null);
            Record(tick);
            if (harness.Phase is "Succeeded" or "Failed") break;
        }
        // skipAnalysis promotes without checking, as in Flagger: the second release is promoted too.
        var expected = rollback && !canary.SkipAnalysis ? "Failed" : "Succeeded";
        Assert.True(harness.Phase == expected, $"{harness.Phase} after the scenario; events: {string.Join(" | ", harness.Events.Distinct())}");
        Assert.Null(router.Error);
        Assert.Equal(RouteWeights.AllPrimary, (mesh?.Routes.Weights ?? router.Apex) with { Mirrored = false });
    }

    /// <summary>Makes the first metric fail its threshold; false when the canary has none.</summary>
    private static bool FailFirstMetric(SchedulerHarness harness)
    {
        if (harness.Policy.Metrics.FirstOrDefault() is not { } metric) return false;
        harness.Metrics.Set(metric.Name, metric.Min is { } min ? min - 1 : (metric.Max ?? 0) + 1);
        return true;
    }

    private static string Describe(RouteWeights apex) => apex == RouteWeights.AllPrimary ? "apex selects the primary" : $"apex {apex}";

    /// <summary>What the data plane routes: each rule (<c>match</c> when it selects requests) with its primary/canary split.</summary>
    private static string Describe(TestMeshRoutes routes)
    {
        if (!routes.Exists) return "no route";
        return string.Join(" | ", routes.Rules.Select(r =>
        {
            var primary = r.Destinations.Where(d => d.Role == BackendRole.Primary).Sum(d => d.Weight);
            var canary = r.Destinations.Where(d => d.Role == BackendRole.Canary).Sum(d => d.Weight);
            if (r.Destinations.Count == 1) (primary, canary) = r.Destinations[0].Role == BackendRole.Canary ? (0, 100) : (100, 0);
            var mirror = r.Mirror?.Role == BackendRole.Canary ? " mirrored" : "";
            return $"{(r.Selective ? "match " : "")}{primary}/{canary}{mirror}";
        }));
    }

    /// <summary>
    /// The router, and after every write that succeeded the mesh's fresh read of the object (or, without a mesh, the
    /// router's own read of what it routes).
    /// </summary>
    private sealed class MeshFollowingRouter(IRouter router, TestMesh? mesh) : IRouter
    {
        public RouteWeights Written { get; private set; } = RouteWeights.AllPrimary;

        /// <summary>What the router read back after its last write (without a mesh).</summary>
        public RouteWeights Apex { get; private set; } = RouteWeights.AllPrimary;

        public string? Error { get; private set; }

        public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
            await FollowAsync(canary, await router.ReconcileAsync(canary, cancellationToken));

        public ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
            router.GetRoutesAsync(canary, cancellationToken);

        public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
        {
            var outcome = await FollowAsync(canary, await router.SetRoutesAsync(canary, weights, cancellationToken));
            if (outcome.Succeeded) Written = weights;
            return outcome;
        }

        public async ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
            await FollowAsync(canary, await router.FinalizeAsync(canary, cancellationToken));

        private async Task<Outcome> FollowAsync(CanaryPolicy canary, Outcome outcome)
        {
            if (!outcome.Succeeded)
            {
                Error ??= outcome.Error;
                return outcome;
            }
            if (mesh is null)
            {
                var read = await router.GetRoutesAsync(canary, CancellationToken.None);
                if (read.Succeeded) Apex = read.Value;
                else Error ??= read.Error;
                return outcome;
            }
            var routes = await mesh.RefreshAsync();
            if (!routes.Exists) Error ??= $"the mesh did not find the routing object after a successful write: {routes}; {mesh.LastError}";
            return outcome;
        }
    }
}
