using System.Text.Json.Nodes;
using Aviary.Routing;
using Aviary.Routing.Proxy;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// The seeds, end to end against a real API server and a real Prometheus: the operator (as the ServiceAccount of
/// <c>deploy/</c>) runs the Canary a user applies with kubectl, and a user drives the rollout with kubectl.
/// Analysis intervals are shortened (seconds instead of minutes); everything else is the seeds' manifests.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class SeedTests(OperatorCluster cluster)
{
    /// <summary>podinfo as Linkerd's tutorial deploys it: a Deployment and the Service the frontend calls.</summary>
    internal static string PodinfoYaml(string image = "ghcr.io/stefanprodan/podinfo:1.7.0", int replicas = 1) => $$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: podinfo
          labels: {app: podinfo}
        spec:
          replicas: {{replicas}}
          selector:
            matchLabels: {app: podinfo}
          template:
            metadata:
              labels: {app: podinfo}
              annotations: {linkerd.io/inject: enabled}
            spec:
              containers:
              - name: podinfod
                image: {{image}}
                command: ["./podinfo", "--port=9898"]
                ports:
                - {name: http, containerPort: 9898, protocol: TCP}
                readinessProbe:
                  httpGet: {path: /readyz, port: 9898}
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

    /// <summary>Seed 1's Canary (no provider: the operator's mesh provider is linkerd), with a 2 s interval.</summary>
    internal static string LinkerdCanaryYaml(string interval = "2s") => $$"""
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
        spec:
          targetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: podinfo
          service:
            port: 9898
          analysis:
            interval: {{interval}}
            threshold: 5
            stepWeight: 10
            maxWeight: 100
            metrics:
            - name: request-success-rate
              thresholdRange:
                min: 99
              interval: 1m
            - name: request-duration
              thresholdRange:
                max: 500
              interval: 1m
        """;

    [Fact]
    public async Task Linkerd_ApplyCanary_InitializesPrimaryServicesAndTrafficSplit()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd" });
        await bed.ApplyAsync(PodinfoYaml(replicas: 2));
        await bed.ApplyAsync(LinkerdCanaryYaml());

        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        // "A new deployment named podinfo-primary will be created with the same number of replicas that podinfo has."
        var primary = await bed.RequireAsync("apps/v1", "deployments/podinfo-primary");
        Assert.Equal(2, primary["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal("podinfo-primary", primary["spec"]!["selector"]!["matchLabels"]!["app"]!.GetValue<string>());
        Assert.Equal("podinfo-primary", primary["spec"]!["template"]!["metadata"]!["labels"]!["app"]!.GetValue<string>());
        Assert.Equal("ghcr.io/stefanprodan/podinfo:1.7.0", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        var target = await bed.RequireAsync("apps/v1", "deployments/podinfo");
        Assert.Equal(0, target["spec"]!["replicas"]!.GetValue<int>());

        foreach (var (service, selects) in new[] { ("podinfo", "podinfo-primary"), ("podinfo-primary", "podinfo-primary"), ("podinfo-canary", "podinfo") })
        {
            var svc = await bed.RequireAsync("v1", "services/" + service);
            Assert.Equal(selects, svc["spec"]!["selector"]!["app"]!.GetValue<string>());
            Assert.Equal(9898, svc["spec"]!["ports"]![0]!["port"]!.GetValue<int>());
        }

        var split = await bed.RequireAsync("split.smi-spec.io/v1alpha2", "trafficsplits/podinfo");
        Assert.Equal("podinfo", split["spec"]!["service"]!.GetValue<string>());
        var backends = split["spec"]!["backends"]!.AsArray().ToDictionary(b => b!["service"]!.GetValue<string>(), b => b!["weight"]!.GetValue<int>());
        Assert.Equal(new Dictionary<string, int> { ["podinfo-primary"] = 100, ["podinfo-canary"] = 0 }, backends);

        // The seed's line: "Normal Synced canary/podinfo Initialization done! podinfo.test".
        var done = Assert.Single(bed.Events, e => e.Message == $"Initialization done! podinfo.{bed.Namespace}");
        Assert.Equal(("Normal", "Synced", "Canary/podinfo"), (done.Type, done.Reason, done.Object));
    }

    [Fact]
    public async Task Linkerd_SetImage_AdvancesTrafficSplitInStepsOfTenToPromotion()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd" });
        await bed.ApplyAsync(PodinfoYaml());
        await bed.ApplyAsync(LinkerdCanaryYaml());
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        // What the mesh routes, sampled while the rollout runs: every weight the TrafficSplit passes through.
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

        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:1.7.1");
        var canary = await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(120));
        await sampling.CancelAsync();
        await sampler;

        Assert.Equal([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0], seen);
        var primary = await bed.RequireAsync("apps/v1", "deployments/podinfo-primary");
        Assert.Equal("ghcr.io/stefanprodan/podinfo:1.7.1", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Equal(0, (await bed.RequireAsync("apps/v1", "deployments/podinfo"))["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(0, canary["status"]!["canaryWeight"]!.GetValue<int>());

        var id = $"podinfo.{bed.Namespace}";
        var expected = new List<string> { $"Initialization done! {id}", $"New revision detected! Scaling up {id}", $"Starting canary analysis for {id}" };
        expected.AddRange(Enumerable.Range(1, 10).Select(i => $"Advance {id} canary weight {i * 10}"));
        expected.AddRange([$"Copying {id} template spec to podinfo-primary.{bed.Namespace}", $"Routing all traffic to primary", $"Promotion completed! Scaling down {id}"]);
        // A tick's Events are recorded after its status: the last one may arrive just after the phase.
        await bed.WaitForEventAsync($"Promotion completed! Scaling down {id}");
        var messages = bed.EventMessages();
        Assert.True(IsSubsequence(expected, messages), "events:\n" + string.Join("\n", messages));
        Assert.All(bed.Events.Where(e => e.Object == "Canary/podinfo"), e => Assert.Equal(("Synced", "aviary"), (e.Reason, e.Component)));

        // The Promoted condition is what kubectl wait reads.
        var wait = await bed.KubectlRawAsync("wait", "--for=condition=promoted", "canary/podinfo", "--timeout=30s");
        Assert.True(wait.Succeeded, wait.ToString());
        var promoted = canary["status"]!["conditions"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == "Promoted")!;
        Assert.Equal(("True", "Succeeded"), (promoted["status"]!.GetValue<string>(), promoted["reason"]!.GetValue<string>()));
        bed.AssertNothingForbidden();
    }

    /// <summary>Seed 2's HPA (autoscaling/v2beta1, as the seed's autoscalerRef names it).</summary>
    internal const string PodinfoHpaYaml = """
        apiVersion: autoscaling/v2beta1
        kind: HorizontalPodAutoscaler
        metadata:
          name: podinfo
        spec:
          scaleTargetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: podinfo
          minReplicas: 2
          maxReplicas: 4
          metrics:
          - type: Resource
            resource:
              name: cpu
              targetAverageUtilization: 80
        """;

    /// <summary>Seed 2's Canary in v1beta1 form (thresholds as thresholdRange), with a 2 s interval and no load-test webhook (the mesh makes the load).</summary>
    internal static string IstioCanaryYaml(string interval = "2s") => $$"""
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
        spec:
          provider: istio
          targetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: podinfo
          progressDeadlineSeconds: 60
          autoscalerRef:
            apiVersion: autoscaling/v2beta1
            kind: HorizontalPodAutoscaler
            name: podinfo
          service:
            port: 9898
            trafficPolicy:
              tls:
                mode: DISABLE
            gateways:
            - public-gateway.istio-system.svc.cluster.local
            - mesh
            hosts:
            - app.example.com
          analysis:
            interval: {{interval}}
            threshold: 5
            maxWeight: 50
            stepWeight: 10
            metrics:
            - name: request-success-rate
              thresholdRange:
                min: 99
              interval: 1m
            - name: request-duration
              thresholdRange:
                max: 500
              interval: 30s
        """;

    [Fact]
    public async Task Istio_FailingMetrics_RollBackWithTheSeedsEventsAndCanaryStatusTwo()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "istio" });
        await bed.ApplyAsync(PodinfoYaml(replicas: 2));
        await bed.ApplyAsync(PodinfoHpaYaml);
        await bed.ApplyAsync(IstioCanaryYaml());
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        var vs = await bed.RequireAsync("networking.istio.io/v1beta1", "virtualservices/podinfo");
        Assert.Equal(["app.example.com", "podinfo"], vs["spec"]!["hosts"]!.AsArray().Select(h => h!.GetValue<string>()));
        Assert.Equal(["public-gateway.istio-system.svc.cluster.local", "mesh"], vs["spec"]!["gateways"]!.AsArray().Select(h => h!.GetValue<string>()));
        foreach (var rule in new[] { "podinfo-primary", "podinfo-canary" })
        {
            var dr = await bed.RequireAsync("networking.istio.io/v1beta1", "destinationrules/" + rule);
            Assert.Equal(rule, dr["spec"]!["host"]!.GetValue<string>());
            Assert.Equal("DISABLE", dr["spec"]!["trafficPolicy"]!["tls"]!["mode"]!.GetValue<string>());
        }
        var hpa = await bed.RequireAsync("autoscaling/v2beta1", "horizontalpodautoscalers/podinfo-primary");
        Assert.Equal("podinfo-primary", hpa["spec"]!["scaleTargetRef"]!["name"]!.GetValue<string>());
        await bed.WaitForWeightsAsync(100, 0);

        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:1.7.1");
        await bed.WaitForWeightsAsync(90, 10);
        await bed.WaitForWeightsAsync(80, 20);
        // The new version starts failing half of its requests (the seed's "watch curl …/status/500").
        bed.SetMeshErrorRate(BackendRole.Canary, 0.5);
        var canary = await bed.WaitForCanaryPhaseAsync("podinfo", "Failed", TimeSpan.FromSeconds(90));

        Assert.Equal(5, canary["status"]!["failedChecks"]!.GetValue<int>());
        await bed.WaitForWeightsAsync(100, 0);
        Assert.Equal(0, (await bed.RequireAsync("apps/v1", "deployments/podinfo"))["spec"]!["replicas"]!.GetValue<int>());
        var primary = await bed.RequireAsync("apps/v1", "deployments/podinfo-primary");
        Assert.Equal("ghcr.io/stefanprodan/podinfo:1.7.0", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());

        var id = $"podinfo.{bed.Namespace}";
        await bed.WaitForEventAsync($"Canary failed! Scaling down {id}");
        var messages = bed.EventMessages();
        Assert.True(IsSubsequence([$"New revision detected! Scaling up {id}", $"Advance {id} canary weight 10", $"Advance {id} canary weight 20"], messages),
            "events:\n" + string.Join("\n", messages));
        // "Halt podinfo.test advancement success rate 69.17% < 99%", then the rollback.
        var halts = messages.Where(m => m.StartsWith($"Halt {id} advancement success rate ", StringComparison.Ordinal) && m.EndsWith("% < 99%", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(halts);
        var tail = messages.SkipWhile(m => !halts.Contains(m)).ToList();
        Assert.True(IsSubsequence([$"Rolling back {id} failed checks threshold reached 5", $"Canary failed! Scaling down {id}"], tail),
            "events:\n" + string.Join("\n", messages));
        Assert.Equal("Warning", bed.Events.Single(e => e.Message == $"Canary failed! Scaling down {id}").Type);

        // Prometheus scrapes the operator's /metrics: flagger_canary_status 2 is Flagger's "failed".
        var status = await bed.Prometheus.WaitForValueAsync(
            $"max(flagger_canary_status{{name=\"podinfo\",namespace=\"{bed.Namespace}\"}})", v => v == 2, TimeSpan.FromSeconds(30));
        Assert.Equal(2, status);
        bed.AssertNothingForbidden();
    }

    [Fact]
    public async Task Istio_CanaryPodsNotReady_HaltAdvancementUntilTheyAre()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "istio" });
        await bed.ApplyAsync(PodinfoYaml(replicas: 2));
        await bed.ApplyAsync(PodinfoHpaYaml);
        await bed.ApplyAsync(IstioCanaryYaml());
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        // The new pods do not become ready: the deployment controller has rolled the ReplicaSet, no pod is available.
        bed.HoldDeployment("podinfo");
        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:1.7.1");
        var id = $"podinfo.{bed.Namespace}";
        await bed.WaitForEventAsync($"New revision detected! Scaling up {id}");
        await bed.WaitUntilAsync(async () => (await bed.RequireAsync("apps/v1", "deployments/podinfo"))["spec"]!["replicas"]!.GetValue<int>() == 2,
            TimeSpan.FromSeconds(30), "the canary scaled up");
        var target = await bed.RequireAsync("apps/v1", "deployments/podinfo");
        await bed.Server.PatchStatusAsync($"/apis/apps/v1/namespaces/{bed.Namespace}/deployments/podinfo", new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["observedGeneration"] = target["metadata"]!["generation"]!.GetValue<long>(),
                ["replicas"] = 2, ["updatedReplicas"] = 2, ["readyReplicas"] = 0, ["availableReplicas"] = 0, ["unavailableReplicas"] = 2,
            },
        });
        // Seed 2: "Waiting for podinfo.test rollout to finish: 0 of 1 updated replicas are available" (Flagger's current wording).
        await bed.WaitForEventAsync($"canary deployment {id} not ready: waiting for rollout to finish: 0 of 2 (readyThreshold 100%) updated replicas are available");
        Assert.Equal(0, (await bed.Mesh!.RefreshAsync()).Weights.Canary);
        Assert.Equal("Progressing", await bed.CanaryPhaseAsync());

        bed.ReleaseDeployment("podinfo");
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(90));
        Assert.True(IsSubsequence([$"Advance {id} canary weight 10", $"Advance {id} canary weight 50", $"Promotion completed! Scaling down {id}"], bed.EventMessages()),
            string.Join("\n", bed.EventMessages()));
    }

    /// <summary>True when <paramref name="expected"/> appears in <paramref name="actual"/> in order (other items between allowed).</summary>
    internal static bool IsSubsequence(IReadOnlyList<string> expected, IReadOnlyList<string> actual)
    {
        var i = 0;
        foreach (var a in actual)
            if (i < expected.Count && a == expected[i]) i++;
        return i == expected.Count;
    }
}
