using System.Net;
using System.Text.Json.Nodes;
using Aviary.Core.Model;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Operator;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Metrics;
using Aviary.Metrics.Providers;
using Aviary.TestKit;
using Microsoft.Extensions.Time.Testing;

namespace Aviary.Kubernetes.Tests.Metrics;

/// <summary>
/// <c>type: keptn</c> against the real API server through the operator's client: KeptnMetric and Analysis objects
/// (<c>metrics.keptn.sh/v1beta1</c>, their CRDs installed by the test with Keptn's group, kinds and plurals). Keptn's own
/// controllers cannot run here (they need a container runtime and their images), so the test writes what they would:
/// a KeptnMetric's <c>status.value</c>, and an Analysis' <c>status.state</c> and <c>status.pass</c> once Aviary created it.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class KeptnProviderTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    private static string Crd(string kind, string plural) => $$"""
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: {{plural}}.metrics.keptn.sh
        spec:
          group: metrics.keptn.sh
          names: {kind: {{kind}}, listKind: {{kind}}List, plural: {{plural}}, singular: {{kind.ToLowerInvariant()}}}
          scope: Namespaced
          versions:
          - name: v1beta1
            served: true
            storage: true
            schema:
              openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
        """;

    private async Task<(string Namespace, KubeClient Client)> StartAsync()
    {
        await Server.ApplyAsync(Crd("KeptnMetric", "keptnmetrics"));
        await Server.ApplyAsync(Crd("Analysis", "analyses"));
        var ns = await Server.CreateNamespaceAsync("keptn");
        await Eventually.True(async () => (await Server.RequestAsync(HttpMethod.Get, $"/apis/metrics.keptn.sh/v1beta1/namespaces/{ns}/analyses")).Status == HttpStatusCode.OK,
            what: "the Keptn CRDs served");
        return (ns, new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig)));
    }

    // The Analysis is checked every second on this clock: the test moves it once it has finished the Analysis.
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    private IMetricQueryProvider Provider(KubeClient client)
    {
        var created = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "keptn" }, new Dictionary<string, string>(), "1m",
            _time) { Cluster = new KubeClusterObjects(client) });
        Assert.True(created.Succeeded, created.Error);
        return created.Value!;
    }

    [Fact]
    public async Task KeptnMetric_StatusValueRead_NoValueYetIsNoData_MissingIsAnError()
    {
        var (ns, client) = await StartAsync();
        using var _ = client;
        using var provider = Provider(client);
        await Server.ApplyAsync($$"""
            apiVersion: metrics.keptn.sh/v1beta1
            kind: KeptnMetric
            metadata: {name: response-time, namespace: {{ns}}}
            spec: {provider: {name: prometheus}, query: "histogram_quantile(0.95, rate(http_latency_bucket[1m]))", fetchIntervalSeconds: 10}
            """);

        Assert.Equal(QueryResultKind.NoData, (await provider.RunQueryAsync($"keptnmetric/{ns}/response-time", CancellationToken.None)).Kind);

        await Server.RequestAsync(HttpMethod.Patch, $"/apis/metrics.keptn.sh/v1beta1/namespaces/{ns}/keptnmetrics/response-time",
            JsonNode.Parse("""{"status":{"value":"0.25","rawValue":"MC4yNQ=="}}"""), "application/merge-patch+json");
        Assert.Equal(QueryResult.Of(0.25), await provider.RunQueryAsync($"KeptnMetric/{ns}/response-time\n", CancellationToken.None));

        var missing = await provider.RunQueryAsync($"keptnmetric/{ns}/absent", CancellationToken.None);
        Assert.Equal(QueryResultKind.Error, missing.Kind);
        Assert.Contains($"could not retrieve KeptnMetric {ns}/absent", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Analysis_NeverFinished_TimesOutAfterTenSecondsOfChecks_AndIsDeleted()
    {
        var (ns, client) = await StartAsync();
        using var _ = client;
        using var provider = Provider(client);
        var running = provider.RunQueryAsync($"analysis/{ns}/slow-check", CancellationToken.None).AsTask();
        await Eventually.True(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            return running.IsCompleted;
        }, poll: TimeSpan.FromMilliseconds(100), what: "the query's end");

        var result = await running;
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains($"timeout while waiting for Keptn Analysis {ns}/slow-check", result.Message, StringComparison.Ordinal);
        var items = JsonNode.Parse((await Server.RequestAsync(HttpMethod.Get, $"/apis/metrics.keptn.sh/v1beta1/namespaces/{ns}/analyses")).Body)!["items"]!.AsArray();
        Assert.Empty(items);
    }

    [Fact]
    public async Task Analysis_CreatedWithTheArguments_PassIsOneFailIsZero_DeletedAfterwards()
    {
        var (ns, client) = await StartAsync();
        using var _ = client;
        using var provider = Provider(client);

        foreach (var (pass, expected) in new[] { (true, 1.0), (false, 0.0) })
        {
            var running = provider.RunQueryAsync($"analysis/{ns}/slo-check/5m/workload=podinfo;env=Prod", CancellationToken.None).AsTask();
            // Keptn's analysis controller: finishes the Analysis Aviary created.
            var created = await Eventually.Until(async () =>
                (JsonNode.Parse((await Server.RequestAsync(HttpMethod.Get, $"/apis/metrics.keptn.sh/v1beta1/namespaces/{ns}/analyses")).Body)!["items"] as JsonArray ?? [])
                    .OfType<JsonObject>().ToList(),
                items => items.Count == 1, what: "the Analysis Aviary created");
            var analysis = created.Single();
            Assert.Equal("slo-check", analysis["spec"]!["analysisDefinition"]!["name"]!.GetValue<string>());
            Assert.Equal("5m", analysis["spec"]!["timeframe"]!["recent"]!.GetValue<string>());
            Assert.Equal("podinfo", analysis["spec"]!["args"]!["workload"]!.GetValue<string>());
            Assert.Equal("Prod", analysis["spec"]!["args"]!["env"]!.GetValue<string>());
            var name = analysis["metadata"]!["name"]!.GetValue<string>();
            Assert.StartsWith("slo-check-", name, StringComparison.Ordinal);
            await Server.RequestAsync(HttpMethod.Patch, $"/apis/metrics.keptn.sh/v1beta1/namespaces/{ns}/analyses/{name}",
                new JsonObject { ["status"] = new JsonObject { ["state"] = "Completed", ["pass"] = pass } }, "application/merge-patch+json");

            await Eventually.True(() =>
            {
                _time.Advance(TimeSpan.FromSeconds(1));
                return running.IsCompleted;
            }, poll: TimeSpan.FromMilliseconds(100), what: "the query's next check of the Analysis");
            Assert.Equal(QueryResult.Of(expected), await running);
            var (status, _) = await Server.RequestAsync(HttpMethod.Get, $"/apis/metrics.keptn.sh/v1beta1/namespaces/{ns}/analyses/{name}");
            Assert.Equal(HttpStatusCode.NotFound, status);
        }
    }

    /// <summary>
    /// Flagger's corpus Keptn template (<c>docs__gitbook__usage__metrics__14.yaml</c>) runs its scenario unchanged: a
    /// canary uses it by <c>templateRef</c>, the scheduler runs in virtual time with the real resolver, and the provider
    /// reads the KeptnMetric the template names (<c>my-namespace/response-time</c>) from the real API server, whose
    /// <c>status.value</c> the test writes as Keptn's controller would: under the threshold, the release is promoted;
    /// over it, the next release is rolled back. The golden file <c>Metrics/Golden/keptn-corpus.txt</c> is the transcript.
    /// </summary>
    [Fact]
    public async Task CorpusTemplate_PromotedThenRolledBack_AsTheGoldenTranscriptSays()
    {
        const string file = "docs__gitbook__usage__metrics__14.yaml";
        var document = Assert.Single(Aviary.Core.Manifests.ManifestReader.Read(File.ReadAllText(Path.Combine(RepoPaths.Conformance, file)), file).Documents);
        Assert.True(document.IsValid, string.Join("; ", document.Diagnostics));
        var template = Assert.IsType<MetricTemplate>(document.Manifest);

        var (_, client) = await StartAsync();
        using var _ = client;
        if ((await Server.RequestAsync(HttpMethod.Get, "/api/v1/namespaces/my-namespace")).Status == HttpStatusCode.NotFound)
            await Server.ApplyAsync("apiVersion: v1\nkind: Namespace\nmetadata: {name: my-namespace}\n");
        await Server.ApplyAsync("""
            apiVersion: metrics.keptn.sh/v1beta1
            kind: KeptnMetric
            metadata: {name: response-time, namespace: my-namespace}
            spec: {provider: {name: prometheus}, query: "histogram_quantile(0.95, rate(http_latency_bucket[2m]))", fetchIntervalSeconds: 10}
            """);
        var ns = template.Metadata.Namespace ?? "test";
        using var resolver = new MetricResolver(new MetricResolverOptions { Cluster = new KubeClusterObjects(client) }, new FakeMetrics(),
            (n, name, _) => ValueTask.FromResult(n == ns && name == template.Metadata.Name ? template : null),
            new Aviary.Hooks.Secrets.EnvironmentSecrets(null, _ => null), _time);

        var transcript = new System.Text.StringBuilder($"# {file} on keptn\n");
        foreach (var (value, expected) in new[] { ("0.25", "Succeeded"), ("4.2", "Failed") })
        {
            await Server.RequestAsync(HttpMethod.Patch, "/apis/metrics.keptn.sh/v1beta1/namespaces/my-namespace/keptnmetrics/response-time",
                new JsonObject { ["status"] = new JsonObject { ["value"] = value } }, "application/merge-patch+json");
            var harness = new SchedulerHarness(SchedulerHarness.TemplateCanary(template.Metadata.Name, ns, max: 1, interval: "2m"), metrics: resolver);
            transcript.Append(System.Globalization.CultureInfo.InvariantCulture, $"\n## KeptnMetric my-namespace/response-time status.value {value} (threshold: max 1)\n");
            await harness.RunReleaseAsync(transcript);
            Assert.True(harness.Phase == expected, $"{harness.Phase}; events: {string.Join(" | ", harness.Events.Distinct())}");
        }
        Golden.Verify("Metrics/Golden/keptn-corpus.txt", transcript.ToString());
    }
}
