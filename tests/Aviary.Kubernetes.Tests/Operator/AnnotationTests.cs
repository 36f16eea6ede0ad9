using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// Acceptance item 7: the manual actions. A user annotates the Canary with <c>aviary.dev/action</c> (promote, abort,
/// retry, pause, resume) with kubectl, or asks the operator's token-protected HTTP API, which sets that annotation;
/// the operator acts on it and clears it.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class AnnotationTests(OperatorCluster cluster)
{
    private const string Action = "aviary.dev/action";
    private const string ActionBy = "aviary.dev/action-by";

    [Fact]
    public async Task PromoteAnnotation_MidAnalysis_PromotesAtOnceAndIsCleared()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "promote" });
        await using var splits = await RolloutRecorder.StartAsync(bed);
        await StartRolloutAsync(bed, RolloutManifests.Canary(interval: "1s", stepWeight: 5, maxWeight: 50));
        await bed.WaitUntilAsync(async () => await RolloutManifests.CanaryWeightAsync(bed) >= 10, TimeSpan.FromSeconds(60), "canary weight 10");

        await bed.KubectlAsync("annotate", "canary/podinfo", $"{Action}=promote");
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(60));

        var id = "podinfo." + bed.Namespace;
        var messages = bed.EventMessages();
        Assert.Contains($"Promote requested by the {Action} annotation", messages);
        Assert.Contains($"Promotion of {id} requested by the {Action} annotation: the analysis passed, promoting now", messages);
        Assert.Null(await RolloutManifests.AnnotationAsync(bed, Action));
        var primary = await bed.RequireAsync("apps/v1", "deployments/podinfo-primary");
        Assert.Equal("ghcr.io/stefanprodan/podinfo:6.0.1", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        // Promoted before the analysis reached its last step.
        Assert.True(splits.CanaryWeights.Max() < 50, string.Join(",", splits.CanaryWeights));
        Assert.Equal(0, splits.CanaryWeights[^1]);
    }

    [Fact]
    public async Task PromoteAnnotation_WhileCanaryNotReady_StaysPendingAnnouncedOnceThenApplies()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "pending" });
        await bed.ApplyAsync(RolloutManifests.Podinfo());
        await bed.ApplyAsync(RolloutManifests.Canary(interval: "1s", stepWeight: 10, maxWeight: 50));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));
        // The new canary pods never become ready until released.
        bed.HoldDeployment("podinfo");
        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1");
        var notReady = $"canary deployment podinfo.{bed.Namespace} not ready";
        await bed.WaitForEventAsync(notReady);

        await bed.KubectlAsync("annotate", "canary/podinfo", $"{Action}=promote", $"{ActionBy}=carol");
        await bed.WaitForEventAsync("Promote requested by carol");
        var announcedAt = bed.EventMessages().Count;
        // Several ticks pass with the action pending: the canary is still not ready.
        await bed.WaitUntilAsync(() => Task.FromResult(bed.EventMessages().Skip(announcedAt).Count(m => m.StartsWith(notReady, StringComparison.Ordinal)) >= 3),
            TimeSpan.FromSeconds(30), "three more ticks");
        Assert.Equal("promote", await RolloutManifests.AnnotationAsync(bed, Action));
        Assert.Single(bed.EventMessages(), m => m == "Promote requested by carol");

        bed.ReleaseDeployment("podinfo");
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(60));
        await bed.WaitForEventAsync($"Promotion of podinfo.{bed.Namespace} requested by carol: the analysis passed, promoting now");
        Assert.Single(bed.EventMessages(), m => m == "Promote requested by carol");
        Assert.Null(await RolloutManifests.AnnotationAsync(bed, Action));
    }

    [Fact]
    public async Task AbortThenRetryAnnotations_RollBackThenRerunTheSameRevision()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "abort" });
        await StartRolloutAsync(bed, RolloutManifests.Canary(interval: "2s", stepWeight: 10, maxWeight: 50));
        await bed.WaitUntilAsync(async () => await RolloutManifests.CanaryWeightAsync(bed) >= 10, TimeSpan.FromSeconds(60), "canary weight 10");

        await bed.KubectlAsync("annotate", "canary/podinfo", $"{Action}=abort", $"{ActionBy}=alice");
        var failed = await bed.WaitForCanaryPhaseAsync("podinfo", "Failed", TimeSpan.FromSeconds(60));
        var id = "podinfo." + bed.Namespace;
        await bed.WaitForEventAsync($"Rolling back {id} abort requested by alice");
        await bed.WaitForWeightsAsync(100, 0, TimeSpan.FromSeconds(30));
        await bed.WaitUntilAsync(async () => (await bed.RequireAsync("apps/v1", "deployments/podinfo"))["spec"]!["replicas"]!.GetValue<int>() == 0,
            TimeSpan.FromSeconds(30), "the target scaled to zero");
        await bed.WaitUntilAsync(async () => await RolloutManifests.AnnotationAsync(bed, Action) is null && await RolloutManifests.AnnotationAsync(bed, ActionBy) is null,
            TimeSpan.FromSeconds(30), "the action annotations cleared");
        var primary = await bed.RequireAsync("apps/v1", "deployments/podinfo-primary");
        Assert.Equal(RolloutManifests.Image, primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        var revision = failed["status"]!["lastAppliedSpec"]!.GetValue<string>();

        // A failed revision stays failed by itself; retry analyses it again, to promotion this time.
        await bed.KubectlAsync("annotate", "canary/podinfo", $"{Action}=retry", $"{ActionBy}=bob");
        await bed.WaitForEventAsync($"Retry of {id} requested by bob");
        var succeeded = await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(90));
        Assert.Contains(bed.EventMessages(), m => m.StartsWith($"Retry of {id} requested by bob", StringComparison.Ordinal));
        Assert.Equal(revision, succeeded["status"]!["lastAppliedSpec"]!.GetValue<string>());
        primary = await bed.RequireAsync("apps/v1", "deployments/podinfo-primary");
        Assert.Equal("ghcr.io/stefanprodan/podinfo:6.0.1", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Null(await RolloutManifests.AnnotationAsync(bed, Action));
        Assert.Null(await RolloutManifests.AnnotationAsync(bed, ActionBy));
    }

    [Fact]
    public async Task PauseAndResumeAnnotations_HoldTheRolloutThenContinue()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "pause" });
        await StartRolloutAsync(bed, RolloutManifests.Canary(interval: "1s", stepWeight: 10, maxWeight: 50));
        await bed.WaitUntilAsync(async () => await RolloutManifests.CanaryWeightAsync(bed) >= 10, TimeSpan.FromSeconds(60), "canary weight 10");

        await bed.KubectlAsync("annotate", "canary/podinfo", $"{Action}=pause");
        await bed.WaitUntilAsync(async () => await RolloutManifests.AnnotationAsync(bed, "aviary.dev/paused") == "true"
            && await RolloutManifests.AnnotationAsync(bed, Action) is null, TimeSpan.FromSeconds(30), "the canary paused");
        var held = await RolloutManifests.CanaryWeightAsync(bed);
        // Several ticks pass without a step.
        await bed.TicksPassAsync(3);
        Assert.Equal(held, await RolloutManifests.CanaryWeightAsync(bed));
        Assert.Equal("Progressing", await bed.CanaryPhaseAsync());

        await bed.KubectlAsync("annotate", "canary/podinfo", $"{Action}=resume");
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(60));
        Assert.Null(await RolloutManifests.AnnotationAsync(bed, "aviary.dev/paused"));
        Assert.Null(await RolloutManifests.AnnotationAsync(bed, Action));
        var messages = bed.EventMessages();
        Assert.Contains(messages, m => m.StartsWith($"Canary podinfo.{bed.Namespace} paused by", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith($"Canary podinfo.{bed.Namespace} resumed by", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ActionApi_RefusesWithoutTheToken_WithItSetsTheAnnotationTheOperatorActsOn()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "api" });
        await using var annotations = await AnnotationRecorder.StartAsync(bed);
        await StartRolloutAsync(bed, RolloutManifests.Canary(interval: "1s", stepWeight: 5, maxWeight: 50));
        await bed.WaitUntilAsync(async () => await RolloutManifests.CanaryWeightAsync(bed) >= 10, TimeSpan.FromSeconds(60), "canary weight 10");
        using var http = new HttpClient();
        var promote = new Uri(bed.OperatorUrl(), $"/api/v1/canaries/{bed.Namespace}/podinfo/actions/promote");

        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(http, promote, token: null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(http, promote, token: "not-" + bed.ApiToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(http, promote, token: bed.ApiToken[..^1])).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest,
            (await SendAsync(http, new Uri(bed.OperatorUrl(), $"/api/v1/canaries/{bed.Namespace}/podinfo/actions/explode"), bed.ApiToken)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound,
            (await SendAsync(http, new Uri(bed.OperatorUrl(), $"/api/v1/canaries/{bed.Namespace}/nosuch/actions/promote"), bed.ApiToken)).StatusCode);
        // None of the refused calls touched the Canary.
        Assert.DoesNotContain(annotations.Seen, a => a.Key == Action);
        Assert.Equal("Progressing", await bed.CanaryPhaseAsync());

        using var accepted = await SendAsync(http, promote, bed.ApiToken, requestedBy: "tester");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(60));
        Assert.Contains(new KeyValuePair<string, string>(Action, "promote"), annotations.Seen);
        Assert.Contains(new KeyValuePair<string, string>(ActionBy, "tester via the API"), annotations.Seen);
        Assert.Contains("Promote requested by tester via the API", bed.EventMessages());
        Assert.Null(await RolloutManifests.AnnotationAsync(bed, Action));
        Assert.Null(await RolloutManifests.AnnotationAsync(bed, ActionBy));

        // An annotation that is not an action is reported and cleared.
        await bed.KubectlAsync("annotate", "canary/podinfo", $"{Action}=explode");
        await bed.WaitForEventAsync($"Ignoring {Action}: 'explode' is not one of promote, abort, retry, pause, resume");
        await bed.WaitUntilAsync(async () => await RolloutManifests.AnnotationAsync(bed, Action) is null, TimeSpan.FromSeconds(30), "the bad action cleared");
    }

    private static async Task StartRolloutAsync(OperatorTestBed bed, string canaryYaml)
    {
        await bed.ApplyAsync(RolloutManifests.Podinfo());
        await bed.ApplyAsync(canaryYaml);
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));
        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1");
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, Uri url, string? token, string? requestedBy = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (requestedBy is not null) request.Headers.Add("X-Aviary-Requested-By", requestedBy);
        return await http.SendAsync(request);
    }

    /// <summary>Every annotation (key and value) the Canary podinfo had at some point, from a watch.</summary>
    private sealed class AnnotationRecorder : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentDictionary<KeyValuePair<string, string>, bool> _seen = new();
        private Task _loop = Task.CompletedTask;

        public IReadOnlyCollection<KeyValuePair<string, string>> Seen => [.. _seen.Keys];

        public static async Task<AnnotationRecorder> StartAsync(OperatorTestBed bed)
        {
            var recorder = new AnnotationRecorder();
            var synced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            recorder._loop = Task.Run(async () =>
            {
                try
                {
                    await foreach (var e in bed.Client.Resource(KubeResources.Canaries).WatchAllAsync(bed.Namespace, null, recorder._stop.Token))
                    {
                        if (e.Type == WatchEventType.Synced) synced.TrySetResult();
                        if (e.Object?["metadata"]?["annotations"] is not System.Text.Json.Nodes.JsonObject annotations) continue;
                        foreach (var (key, value) in annotations)
                            recorder._seen.TryAdd(new KeyValuePair<string, string>(key, value?.GetValue<string>() ?? ""), true);
                    }
                }
                catch (OperationCanceledException) when (recorder._stop.IsCancellationRequested)
                {
                }
            });
            await synced.Task.WaitAsync(TimeSpan.FromSeconds(30));
            return recorder;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
        }
    }
}
