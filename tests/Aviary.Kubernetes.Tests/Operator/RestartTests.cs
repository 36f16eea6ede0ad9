using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// Acceptance item 4, first half: an operator killed in the middle of a rollout and started again (a fresh process
/// state) resumes from the Canary's status: it finishes the rollout with one promotion, and the traffic weights never
/// go backwards.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class RestartTests(OperatorCluster cluster)
{
    [Fact]
    public async Task Operator_KilledMidRolloutAndRestarted_ResumesFromStatusAndPromotesOnce()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "restart" });
        await using var splits = await RolloutRecorder.StartAsync(bed);
        await bed.ApplyAsync(RolloutManifests.Podinfo());
        await bed.ApplyAsync(RolloutManifests.Canary());
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1");
        await bed.WaitUntilAsync(async () => await RolloutManifests.CanaryWeightAsync(bed) >= 20, TimeSpan.FromSeconds(60), "canary weight 20");

        await bed.KillOperatorAsync();
        var atKill = await bed.RequireAsync("flagger.app/v1beta1", "canaries/podinfo");
        Assert.Equal("Progressing", atKill["status"]!["phase"]!.GetValue<string>());
        var weightAtKill = atKill["status"]!["canaryWeight"]!.GetValue<int>();
        // Mid-rollout: at 20 or beyond, below the end (the operator may have stepped on before the kill landed).
        Assert.InRange(weightAtKill, 20, 50);
        // The kill stopped every loop (the host awaits them): nothing acts on the canary until the restart.
        Assert.Null(bed.Operator());
        var idle = await bed.RequireAsync("flagger.app/v1beta1", "canaries/podinfo");
        Assert.Equal(atKill["metadata"]!["resourceVersion"]!.GetValue<string>(), idle["metadata"]!["resourceVersion"]!.GetValue<string>());

        await bed.StartOperatorAsync();
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(90));

        var primary = await bed.RequireAsync("apps/v1", "deployments/podinfo-primary");
        Assert.Equal("ghcr.io/stefanprodan/podinfo:6.0.1", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Equal(0, (await bed.RequireAsync("apps/v1", "deployments/podinfo"))["spec"]!["replicas"]!.GetValue<int>());
        await RolloutManifests.AssertOneRolloutAsync(bed);
        // The weights resumed where they were: 0, 10, 20, … 50 and back to the primary, each step once.
        splits.AssertSteppedUpThenBack(maxWeight: 50, step: 10);
        Assert.Contains(weightAtKill, splits.CanaryWeights);
    }

    [Fact]
    public async Task Operator_KilledWhilePromoting_RestartedFinishesWithoutCopyingAgain()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "restart-promo" });
        await using var splits = await RolloutRecorder.StartAsync(bed);
        await bed.ApplyAsync(RolloutManifests.Podinfo());
        await bed.ApplyAsync(RolloutManifests.Canary(stepWeight: 20, maxWeight: 40));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        // The primary will not become ready on the new template until released: the promotion waits in Promoting.
        bed.HoldDeployment("podinfo-primary");
        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1");
        await bed.WaitForCanaryPhaseAsync("podinfo", "Promoting", TimeSpan.FromSeconds(60));
        await bed.KillOperatorAsync();

        await bed.StartOperatorAsync();
        await bed.WaitForEventAsync("podinfo-primary." + bed.Namespace + " not ready");
        bed.ReleaseDeployment("podinfo-primary");
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(60));

        await RolloutManifests.AssertOneRolloutAsync(bed);
        splits.AssertSteppedUpThenBack(maxWeight: 40, step: 20);
        Assert.Equal(0, (await bed.RequireAsync("apps/v1", "deployments/podinfo"))["spec"]!["replicas"]!.GetValue<int>());
    }
}

/// <summary>The manifests of the operator tests of items 4, 6 and 7, and what they check on a rollout.</summary>
internal static class RolloutManifests
{
    public const string Image = "ghcr.io/stefanprodan/podinfo:6.0.0";

    /// <summary>podinfo (Deployment and its Service, applied with kubectl as a user has them before any Canary).</summary>
    public static string Podinfo(int replicas = 2) => $$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: podinfo
          labels: {app: podinfo}
        spec:
          replicas: {{replicas.ToString(CultureInfo.InvariantCulture)}}
          selector:
            matchLabels: {app: podinfo}
          template:
            metadata:
              labels: {app: podinfo}
            spec:
              containers:
              - name: podinfod
                image: {{Image}}
                ports:
                - {name: http, containerPort: 9898}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: podinfo
        spec:
          selector: {app: podinfo}
          ports:
          - {name: http, port: 9898, targetPort: 9898}
        """;

    /// <summary>
    /// A Linkerd canary without metrics (every analysis passes), so the rollout moves one step per interval: what
    /// these tests check is the operator's bookkeeping, not the analysis.
    /// </summary>
    public static string Canary(string interval = "1s", int stepWeight = 10, int maxWeight = 50, bool revertOnDeletion = false) => $$"""
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
        spec:
          provider: linkerd
          revertOnDeletion: {{(revertOnDeletion ? "true" : "false")}}
          targetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: podinfo
          service:
            port: 9898
          analysis:
            interval: {{interval}}
            threshold: 3
            stepWeight: {{stepWeight.ToString(CultureInfo.InvariantCulture)}}
            maxWeight: {{maxWeight.ToString(CultureInfo.InvariantCulture)}}
        """;

    /// <summary>podinfo and its canary applied, initialized, then a new image rolled out until the canary's weight reaches <paramref name="weight"/>.</summary>
    public static async Task RollOutUntilWeightAsync(OperatorTestBed bed, int weight)
    {
        await bed.ApplyAsync(Podinfo());
        await bed.ApplyAsync(Canary());
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));
        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1");
        await bed.WaitUntilAsync(async () => await CanaryWeightAsync(bed) >= weight, TimeSpan.FromSeconds(60), $"canary weight {weight}");
    }

    public static async Task<int> CanaryWeightAsync(OperatorTestBed bed) =>
        (await bed.GetCanaryAsync())?["status"]?["canaryWeight"]?.GetValue<int>() ?? 0;

    public static async Task<string?> AnnotationAsync(OperatorTestBed bed, string name) =>
        (await bed.GetCanaryAsync())?["metadata"]?["annotations"]?[name]?.GetValue<string>();

    /// <summary>One rollout from detection to promotion: each of its milestones happened once.</summary>
    public static async Task AssertOneRolloutAsync(OperatorTestBed bed)
    {
        var id = "podinfo." + bed.Namespace;
        // Events arrive by watch, after the status that said Succeeded.
        await bed.WaitForEventAsync($"Promotion completed! Scaling down {id}");
        var messages = bed.EventMessages();
        foreach (var milestone in new[]
        {
            $"New revision detected! Scaling up {id}",
            $"Starting canary analysis for {id}",
            $"Copying {id} template spec to podinfo-primary.{bed.Namespace}",
            $"Promotion completed! Scaling down {id}",
        })
        {
            Assert.True(messages.Count(m => m == milestone) == 1, $"'{milestone}' once in:\n{string.Join("\n", messages)}");
        }
        Assert.DoesNotContain(messages, m => m.StartsWith("New revision detected! Restarting", StringComparison.Ordinal));
        Assert.DoesNotContain(messages, m => m.StartsWith("Rolling back", StringComparison.Ordinal));
    }
}

/// <summary>Every change of the TrafficSplit's weights, from a watch started before the canary exists.</summary>
internal sealed class RolloutRecorder : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<int> _weights = new();
    private Task _loop = Task.CompletedTask;

    /// <summary>The canary backend's weight after each change of the TrafficSplit (repeats collapsed).</summary>
    public IReadOnlyList<int> CanaryWeights => [.. _weights];

    public static async Task<RolloutRecorder> StartAsync(OperatorTestBed bed)
    {
        var recorder = new RolloutRecorder();
        var synced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        recorder._loop = Task.Run(async () =>
        {
            int? last = null;
            try
            {
                await foreach (var e in bed.Client.Resource(KubeResources.TrafficSplits).WatchAllAsync(bed.Namespace, null, recorder._stop.Token))
                {
                    if (e.Type == WatchEventType.Synced) synced.TrySetResult();
                    if (e.Object is not { } split || e.Type is not (WatchEventType.Added or WatchEventType.Modified)) continue;
                    var canary = (split["spec"]?["backends"] as JsonArray)?.OfType<JsonObject>()
                        .FirstOrDefault(b => b["service"]?.GetValue<string>() == "podinfo-canary")?["weight"]?.GetValue<int>();
                    if (canary is not { } w || w == last) continue;
                    last = w;
                    recorder._weights.Enqueue(w);
                }
            }
            catch (OperationCanceledException) when (recorder._stop.IsCancellationRequested)
            {
            }
        });
        await synced.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return recorder;
    }

    /// <summary>0, step, 2 step, … maxWeight (each once, never backwards), then back to 0 (the primary) and nothing after.</summary>
    public void AssertSteppedUpThenBack(int maxWeight, int step)
    {
        var expected = Enumerable.Range(0, maxWeight / step + 1).Select(i => i * step).Append(0).ToList();
        Assert.Equal(expected, CanaryWeights);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
