using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Kubernetes.Workloads;
using Aviary.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Tests.Workloads;

[Collection(KubeCollection.Name)]
public sealed class DeploymentWorkloadTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    private static DeploymentWorkload Workload(KubeTestBed bed) => new(bed.Client, bed.Clock, NullLogger.Instance);

    private async Task<(KubeTestBed Bed, CanaryPolicy Canary, DeploymentWorkload Workload)> PodinfoAsync(string prefix, string extraSpec = "")
    {
        var bed = await KubeTestBed.CreateAsync(Server, prefix);
        await bed.ApplyConfigsAsync();
        await bed.ApplyPodinfoAsync();
        var canary = await bed.CreateCanaryAsync(extraSpec: extraSpec);
        return (bed, canary, Workload(bed));
    }

    [Fact]
    public async Task EnsurePrimaryAsync_Seed1Podinfo_CreatesPrimaryWithPrimaryLabelsAndRewrittenConfigCopiesOwnedByTheCanary()
    {
        var (bed, canary, workload) = await PodinfoAsync("bootstrap");
        using var _ = bed;

        var result = await workload.EnsurePrimaryAsync(canary, default);

        Assert.True(result.Succeeded, result.Error);
        var primary = await bed.GetAsync(bed.Deployments, "podinfo-primary");
        Assert.Equal("""{"app":"podinfo-primary"}""", primary["metadata"]!["labels"]!.ToJsonString());
        var annotations = primary["metadata"]!["annotations"]!.AsObject();
        Assert.Equal("team-web", annotations["owner"]!.GetValue<string>());
        Assert.False(annotations.ContainsKey("kustomize.toolkit.fluxcd.io/name"));
        Assert.False(annotations.ContainsKey("kubectl.kubernetes.io/last-applied-configuration"));
        Assert.NotNull(annotations["aviary.dev/revision"]);
        Assert.Equal("""{"matchLabels":{"app":"podinfo-primary"}}""", primary["spec"]!["selector"]!.ToJsonString());
        Assert.Equal(2, primary["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(3, primary["spec"]!["minReadySeconds"]!.GetValue<int>());
        Assert.Equal(4, primary["spec"]!["revisionHistoryLimit"]!.GetValue<int>());
        var template = primary["spec"]!["template"]!;
        Assert.Equal("podinfo-primary", template["metadata"]!["labels"]!["app"]!.GetValue<string>());
        Assert.Equal("v1", template["metadata"]!["labels"]!["version"]!.GetValue<string>());
        Assert.Equal("true", template["metadata"]!["annotations"]!["prometheus.io/scrape"]!.GetValue<string>());
        Assert.Equal(annotations["aviary.dev/revision"]!.GetValue<string>(), template["metadata"]!["annotations"]!["aviary.dev/revision"]!.GetValue<string>());
        Assert.Equal("podinfo-config-primary", template["spec"]!["volumes"]![0]!["configMap"]!["name"]!.GetValue<string>());
        Assert.Equal("podinfo-secret-primary",
            template["spec"]!["containers"]![0]!["env"]![0]!["valueFrom"]!["secretKeyRef"]!["name"]!.GetValue<string>());
        AssertOwnedBy(primary, canary);

        var config = await bed.GetAsync(bed.ConfigMaps, "podinfo-config-primary");
        Assert.Equal("debug", config["data"]!["level"]!.GetValue<string>());
        AssertOwnedBy(config, canary);
        var secret = await bed.GetAsync(bed.Secrets, "podinfo-secret-primary");
        Assert.Equal(Convert.ToBase64String("s3cr3t"u8), secret["data"]!["token"]!.GetValue<string>());
        Assert.Equal("Opaque", secret["type"]!.GetValue<string>());
        AssertOwnedBy(secret, canary);

        // The target is left alone: the scheduler scales it down once the primary is ready.
        var target = await bed.GetAsync(bed.Deployments, "podinfo");
        Assert.Equal(2, target["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal("podinfo-config", target["spec"]!["template"]!["spec"]!["volumes"]![0]!["configMap"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task EnsurePrimaryAsync_CalledAgain_WritesNothing()
    {
        var (bed, canary, workload) = await PodinfoAsync("bootstrap-twice");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        var before = await bed.GetAsync(bed.Deployments, "podinfo-primary");
        var configBefore = await bed.GetAsync(bed.ConfigMaps, "podinfo-config-primary");

        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);

        Assert.Equal(KubeJson.ResourceVersion(before), KubeJson.ResourceVersion(await bed.GetAsync(bed.Deployments, "podinfo-primary")));
        Assert.Equal(KubeJson.ResourceVersion(configBefore), KubeJson.ResourceVersion(await bed.GetAsync(bed.ConfigMaps, "podinfo-config-primary")));
    }

    [Fact]
    public async Task EnsurePrimaryAsync_SelectorWithoutAKnownLabel_FailsWithFlaggersMessage()
    {
        using var bed = await KubeTestBed.CreateAsync(Server, "selector");
        await bed.ApplyConfigsAsync();
        await bed.ApplyPodinfoAsync();
        var canary = await bed.CreateCanaryAsync();
        await Server.ApplyAsync(bed.PodinfoYaml().Replace("name: podinfo\n", "name: other\n", StringComparison.Ordinal)
            .Replace("matchLabels: {app: podinfo}", "matchLabels: {component: podinfo}", StringComparison.Ordinal)
            .Replace("labels: {app: podinfo, version: v1}", "labels: {component: podinfo}", StringComparison.Ordinal));

        var result = await Workload(bed).EnsurePrimaryAsync(canary with { TargetName = "other" }, default);

        Assert.Equal($"deployment other.{bed.Namespace} spec.selector.matchLabels must contain one of [app name app.kubernetes.io/name]", result.Error);
    }

    [Fact]
    public async Task EnsurePrimaryAsync_SelectorLabelName_SuffixesItsValueAndAntiAffinityNamingTheTarget()
    {
        using var bed = await KubeTestBed.CreateAsync(Server, "name-label");
        await bed.ApplyConfigsAsync();
        var yaml = bed.PodinfoYaml(extraSpec: "affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
            + "[{topologyKey: kubernetes.io/hostname, labelSelector: {matchExpressions: [{key: name, operator: In, values: [podinfo]}]}}]}}")
            .Replace("matchLabels: {app: podinfo}", "matchLabels: {name: podinfo}", StringComparison.Ordinal)
            .Replace("labels: {app: podinfo, version: v1}", "labels: {name: podinfo, version: v1}", StringComparison.Ordinal);
        await Server.ApplyAsync(yaml);
        var canary = await bed.CreateCanaryAsync();

        Assert.True((await Workload(bed).EnsurePrimaryAsync(canary, default)).Succeeded);

        var primary = await bed.GetAsync(bed.Deployments, "podinfo-primary");
        Assert.Equal("""{"matchLabels":{"name":"podinfo-primary"}}""", primary["spec"]!["selector"]!.ToJsonString());
        var term = primary["spec"]!["template"]!["spec"]!["affinity"]!["podAntiAffinity"]!["requiredDuringSchedulingIgnoredDuringExecution"]![0]!;
        Assert.Equal("podinfo-primary", term["labelSelector"]!["matchExpressions"]![0]!["values"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task EnsurePrimaryAsync_CanaryWithoutUid_FailsClearly()
    {
        var (bed, canary, workload) = await PodinfoAsync("no-uid");
        using var _ = bed;
        var withoutUid = canary with { Manifest = canary.Manifest with { Metadata = canary.Manifest.Metadata with { Uid = null } } };

        var result = await workload.EnsurePrimaryAsync(withoutUid, default);

        Assert.Contains("has no metadata.uid", result.Error, StringComparison.Ordinal);
        Assert.True((await bed.Deployments.GetAsync(bed.Namespace, "podinfo-primary")).IsNotFound);
    }

    [Fact]
    public async Task EnsurePrimaryAsync_MissingTarget_FailsWithGetQueryError()
    {
        using var bed = await KubeTestBed.CreateAsync(Server, "missing");
        var canary = await bed.CreateCanaryAsync();

        var result = await Workload(bed).EnsurePrimaryAsync(canary, default);

        Assert.StartsWith($"deployment podinfo.{bed.Namespace} get query error:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnsurePrimaryAsync_DaemonSetCanary_IsRefusedByTheDeploymentWorkload()
    {
        using var bed = await KubeTestBed.CreateAsync(Server, "wrong-kind");
        var canary = await bed.CreateCanaryAsync(kind: "DaemonSet");

        var result = await Workload(bed).EnsurePrimaryAsync(canary, default);

        Assert.Equal($"canary podinfo.{bed.Namespace} targets a DaemonSet, not a Deployment", result.Error);
    }

    [Fact]
    public async Task ObserveAsync_StatusesTheControllerWrites_GivesFlaggersReadinessMessages()
    {
        var (bed, canary, workload) = await PodinfoAsync("readiness");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);

        async Task<Readiness> PrimaryAsync() => (await workload.ObserveAsync(canary, default)).Value!.Primary;

        // Nothing has seen the new Deployment yet.
        Assert.Equal("waiting for rollout to finish: observed deployment generation less than desired generation", (await PrimaryAsync()).Message);

        await bed.SetDeploymentStatusAsync("podinfo-primary", new JsonObject { ["replicas"] = 1, ["updatedReplicas"] = 1 });
        Assert.Equal("waiting for rollout to finish: 1 out of 2 new replicas have been updated", (await PrimaryAsync()).Message);

        await bed.SetDeploymentStatusAsync("podinfo-primary", new JsonObject { ["replicas"] = 3, ["updatedReplicas"] = 2 });
        Assert.Equal("waiting for rollout to finish: 1 old replicas are pending termination", (await PrimaryAsync()).Message);

        await bed.SetDeploymentStatusAsync("podinfo-primary", new JsonObject { ["replicas"] = 2, ["updatedReplicas"] = 2, ["readyReplicas"] = 1, ["availableReplicas"] = 1 });
        var waiting = await PrimaryAsync();
        Assert.Equal("waiting for rollout to finish: 1 of 2 (readyThreshold 100%) updated replicas are available", waiting.Message);
        Assert.Null(waiting.WaitingSince);
        Assert.False(waiting.Stalled);

        await bed.MarkReadyAsync("podinfo-primary");
        Assert.True((await PrimaryAsync()).Ready);

        // A lower primaryReadyThreshold accepts half the replicas.
        await bed.SetDeploymentStatusAsync("podinfo-primary", new JsonObject { ["replicas"] = 2, ["updatedReplicas"] = 2, ["readyReplicas"] = 1, ["availableReplicas"] = 1 });
        var lenient = (await workload.ObserveAsync(canary with { PrimaryReadyThreshold = 50 }, default)).Value!.Primary;
        Assert.True(lenient.Ready, lenient.Message);
    }

    [Fact]
    public async Task ObserveAsync_TargetRollingOut_GivesTheSeedMessageAndProgressDeadlineInputs()
    {
        var (bed, canary, workload) = await PodinfoAsync("deadline");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        await Server.ApplyAsync(bed.PodinfoYaml(replicas: 1));
        var since = new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.Zero);
        JsonObject Condition(string type, string status, string reason) => new()
        {
            ["type"] = type, ["status"] = status, ["reason"] = reason,
            ["lastUpdateTime"] = KubeTestBed.Time(since), ["lastTransitionTime"] = KubeTestBed.Time(since),
        };
        await bed.SetDeploymentStatusAsync("podinfo", new JsonObject
        {
            ["replicas"] = 1, ["updatedReplicas"] = 1, ["availableReplicas"] = 0, ["unavailableReplicas"] = 1,
            ["conditions"] = new JsonArray(
                Condition("Available", "False", "MinimumReplicasUnavailable"),
                Condition("Progressing", "True", "ReplicaSetUpdated")),
        });

        var waiting = (await workload.ObserveAsync(canary, default)).Value!.Canary;

        Assert.False(waiting.Ready);
        Assert.Equal("waiting for rollout to finish: 0 of 1 (readyThreshold 100%) updated replicas are available", waiting.Message);
        Assert.Equal(since, waiting.WaitingSince);
        Assert.False(waiting.Stalled);

        await bed.SetDeploymentStatusAsync("podinfo", new JsonObject
        {
            ["conditions"] = new JsonArray(
                Condition("Available", "False", "MinimumReplicasUnavailable"),
                Condition("Progressing", "False", "ProgressDeadlineExceeded")),
        });
        var stalled = (await workload.ObserveAsync(canary, default)).Value!.Canary;

        Assert.Equal("deployment \"podinfo\" exceeded its progress deadline", stalled.Message);
        Assert.True(stalled.Stalled);
        Assert.Equal(since, stalled.WaitingSince);
    }

    [Fact]
    public async Task ObserveAsync_PrimaryScaledToZero_IsNotReady()
    {
        var (bed, canary, workload) = await PodinfoAsync("primary-zero");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        await bed.Deployments.PatchAsync(bed.Namespace, "podinfo-primary", KubePatch.Merge(JsonNode.Parse("""{"spec":{"replicas":0}}""")!));
        await bed.MarkReadyAsync("podinfo-primary", replicas: 0);

        var primary = (await workload.ObserveAsync(canary, default)).Value!.Primary;

        Assert.False(primary.Ready);
        Assert.Equal("primary deployment is scaled to zero", primary.Message);
    }

    [Fact]
    public async Task ScaleDownAndUp_Target_GoesToZeroAndBackToThePrimarysReplicas()
    {
        var (bed, canary, workload) = await PodinfoAsync("scale");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        await bed.Deployments.PatchAsync(bed.Namespace, "podinfo-primary", KubePatch.Merge(JsonNode.Parse("""{"spec":{"replicas":3}}""")!));

        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);
        Assert.Equal(0, (await bed.GetAsync(bed.Deployments, "podinfo"))["spec"]!["replicas"]!.GetValue<int>());
        var down = await bed.GetAsync(bed.Deployments, "podinfo");
        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);
        Assert.Equal(KubeJson.ResourceVersion(down), KubeJson.ResourceVersion(await bed.GetAsync(bed.Deployments, "podinfo")));

        Assert.True((await workload.ScaleUpCanaryAsync(canary, default)).Succeeded);
        Assert.Equal(3, (await bed.GetAsync(bed.Deployments, "podinfo"))["spec"]!["replicas"]!.GetValue<int>());
    }

    [Fact]
    public async Task ObserveAsync_Revision_ChangesWithImageAndConfigDataButNotWithReplicas()
    {
        var (bed, canary, workload) = await PodinfoAsync("revision");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        var first = (await workload.ObserveAsync(canary, default)).Value!;

        Assert.Equal(first.Revision, first.PrimaryRevision);
        Assert.Equal(["configmap/podinfo-config", "secret/podinfo-secret"], first.TrackedConfigs!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(FlaggerChecksum("""{"level":"debug"}"""), first.TrackedConfigs!["configmap/podinfo-config"]);
        Assert.Equal(FlaggerChecksum($$"""{"token":"{{Convert.ToBase64String("s3cr3t"u8)}}"}"""), first.TrackedConfigs!["secret/podinfo-secret"]);

        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);
        await Server.ApplyAsync(bed.PodinfoYaml(replicas: 5));
        Assert.Equal(first.Revision, (await workload.ObserveAsync(canary, default)).Value!.Revision);

        await Server.ApplyAsync(bed.PodinfoYaml(image: "ghcr.io/stefanprodan/podinfo:6.0.1", replicas: 5));
        var image = (await workload.ObserveAsync(canary, default)).Value!;
        Assert.NotEqual(first.Revision, image.Revision);
        Assert.Equal(first.TrackedConfigs, image.TrackedConfigs);
        Assert.Equal(first.Revision, image.PrimaryRevision);

        await bed.ApplyConfigsAsync(configData: "info");
        var config = (await workload.ObserveAsync(canary, default)).Value!;
        Assert.NotEqual(image.Revision, config.Revision);
        Assert.NotEqual(image.TrackedConfigs!["configmap/podinfo-config"], config.TrackedConfigs!["configmap/podinfo-config"]);
        Assert.Equal(image.TrackedConfigs!["secret/podinfo-secret"], config.TrackedConfigs!["secret/podinfo-secret"]);
    }

    [Fact]
    public async Task ObserveAsync_ConfigTrackingDisabledOrOptionalMissing_IsNotTracked()
    {
        using var bed = await KubeTestBed.CreateAsync(Server, "untracked");
        await bed.ApplyConfigsAsync();
        await Server.KubectlAsync("annotate", "configmap", "podinfo-config", "-n", bed.Namespace, "flagger.app/config-tracking=disabled");
        await bed.ApplyPodinfoAsync(extraSpec: "initContainers: [{name: init, image: busybox, envFrom: [{secretRef: {name: absent, optional: true}}]}]");
        var canary = await bed.CreateCanaryAsync();
        var workload = Workload(bed);

        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        var state = (await workload.ObserveAsync(canary, default)).Value!;

        Assert.Equal(["secret/podinfo-secret"], state.TrackedConfigs!.Keys);
        var volume = (await bed.GetAsync(bed.Deployments, "podinfo-primary"))["spec"]!["template"]!["spec"]!["volumes"]![0]!;
        Assert.Equal("podinfo-config", volume["configMap"]!["name"]!.GetValue<string>());
        Assert.True((await bed.ConfigMaps.GetAsync(bed.Namespace, "podinfo-config-primary")).IsNotFound);
    }

    [Fact]
    public async Task PromoteAsync_NewImageAndConfig_CopiesTemplateAndConfigsOnceKeepingTheSelector()
    {
        var (bed, canary, workload) = await PodinfoAsync("promote");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        var created = await bed.GetAsync(bed.Deployments, "podinfo-primary");
        await Server.ApplyAsync(bed.PodinfoYaml(image: "ghcr.io/stefanprodan/podinfo:6.0.1", replicas: 3));
        await bed.ApplyConfigsAsync(configData: "info", token: "n3w");
        var observed = (await workload.ObserveAsync(canary, default)).Value!;

        Assert.True((await workload.PromoteAsync(canary, default)).Succeeded);

        var primary = await bed.GetAsync(bed.Deployments, "podinfo-primary");
        var container = primary["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal("ghcr.io/stefanprodan/podinfo:6.0.1", container["image"]!.GetValue<string>());
        Assert.Equal("podinfo-secret-primary", container["env"]![0]!["valueFrom"]!["secretKeyRef"]!["name"]!.GetValue<string>());
        Assert.Equal("podinfo-config-primary", primary["spec"]!["template"]!["spec"]!["volumes"]![0]!["configMap"]!["name"]!.GetValue<string>());
        Assert.Equal("""{"matchLabels":{"app":"podinfo-primary"}}""", primary["spec"]!["selector"]!.ToJsonString());
        Assert.Equal("podinfo-primary", primary["spec"]!["template"]!["metadata"]!["labels"]!["app"]!.GetValue<string>());
        Assert.Equal(3, primary["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(created["metadata"]!["generation"]!.GetValue<long>() + 1, primary["metadata"]!["generation"]!.GetValue<long>());
        Assert.Equal("info", (await bed.GetAsync(bed.ConfigMaps, "podinfo-config-primary"))["data"]!["level"]!.GetValue<string>());
        Assert.Equal(Convert.ToBase64String("n3w"u8), (await bed.GetAsync(bed.Secrets, "podinfo-secret-primary"))["data"]!["token"]!.GetValue<string>());
        var after = (await workload.ObserveAsync(canary, default)).Value!;
        Assert.Equal(observed.Revision, after.PrimaryRevision);

        // Idempotent: a repeated promotion writes nothing, so the primary does not roll again.
        Assert.True((await workload.PromoteAsync(canary, default)).Succeeded);
        Assert.Equal(KubeJson.ResourceVersion(primary), KubeJson.ResourceVersion(await bed.GetAsync(bed.Deployments, "podinfo-primary")));
    }

    [Fact]
    public async Task PromoteAsync_ConfigDataOnly_RollsThePrimaryThroughItsRevisionAnnotation()
    {
        var (bed, canary, workload) = await PodinfoAsync("promote-config");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        var before = await bed.GetAsync(bed.Deployments, "podinfo-primary");
        await bed.ApplyConfigsAsync(configData: "warn");

        Assert.True((await workload.PromoteAsync(canary, default)).Succeeded);

        var after = await bed.GetAsync(bed.Deployments, "podinfo-primary");
        Assert.NotEqual(before["spec"]!["template"]!["metadata"]!["annotations"]!["aviary.dev/revision"]!.GetValue<string>(),
            after["spec"]!["template"]!["metadata"]!["annotations"]!["aviary.dev/revision"]!.GetValue<string>());
        Assert.Equal(before["metadata"]!["generation"]!.GetValue<long>() + 1, after["metadata"]!["generation"]!.GetValue<long>());
        Assert.Equal("warn", (await bed.GetAsync(bed.ConfigMaps, "podinfo-config-primary"))["data"]!["level"]!.GetValue<string>());
    }

    [Fact]
    public async Task RevertAsync_TargetAtZero_GetsThePrimarysReplicasAndSucceedsOnceReady()
    {
        var (bed, canary, workload) = await PodinfoAsync("revert");
        using var _ = bed;
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);
        await bed.Deployments.PatchAsync(bed.Namespace, "podinfo-primary", KubePatch.Merge(JsonNode.Parse("""{"spec":{"replicas":4}}""")!));

        var first = await workload.RevertAsync(canary, default);

        Assert.False(first.Succeeded);
        Assert.StartsWith($"deployment podinfo.{bed.Namespace} scaled to 4 replicas, not ready yet: waiting for rollout to finish", first.Error, StringComparison.Ordinal);
        Assert.Equal(4, (await bed.GetAsync(bed.Deployments, "podinfo"))["spec"]!["replicas"]!.GetValue<int>());

        await bed.MarkReadyAsync("podinfo");
        Assert.True((await workload.RevertAsync(canary, default)).Succeeded);
    }

    [Fact]
    public async Task AutoscalerRef_Hpa_CopiedForThePrimaryWithOverridesAndUpdatedAtPromotion()
    {
        using var bed = await KubeTestBed.CreateAsync(Server, "hpa");
        await bed.ApplyConfigsAsync();
        await bed.ApplyPodinfoAsync();
        await Server.ApplyAsync(Hpa(bed.Namespace, utilization: 70));
        // autoscaling/v2 as the user wrote it; the 1.20 server only has v2beta2, which Aviary falls back to.
        var canary = await bed.CreateCanaryAsync(extraSpec: """
            autoscalerRef: {apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: podinfo, primaryScalerReplicas: {minReplicas: 3, maxReplicas: 6}}
            """);
        var workload = Workload(bed);
        var hpas = bed.Client.Resource(KubeResources.HorizontalPodAutoscalers);

        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);

        var primaryHpa = (await hpas.GetAsync(bed.Namespace, "podinfo-primary")).GetValueOrThrow();
        Assert.Equal("podinfo-primary", primaryHpa["spec"]!["scaleTargetRef"]!["name"]!.GetValue<string>());
        Assert.Equal("Deployment", primaryHpa["spec"]!["scaleTargetRef"]!["kind"]!.GetValue<string>());
        Assert.Equal(3, primaryHpa["spec"]!["minReplicas"]!.GetValue<int>());
        Assert.Equal(6, primaryHpa["spec"]!["maxReplicas"]!.GetValue<int>());
        Assert.Equal(70, primaryHpa["spec"]!["metrics"]![0]!["resource"]!["target"]!["averageUtilization"]!.GetValue<int>());
        AssertOwnedBy(primaryHpa, canary);

        // Scaled up from zero, the target gets its own HPA's minimum.
        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);
        Assert.True((await workload.ScaleUpCanaryAsync(canary, default)).Succeeded);
        Assert.Equal(2, (await bed.GetAsync(bed.Deployments, "podinfo"))["spec"]!["replicas"]!.GetValue<int>());

        await Server.ApplyAsync(Hpa(bed.Namespace, utilization: 85));
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        Assert.Equal(70, (await hpas.GetAsync(bed.Namespace, "podinfo-primary")).GetValueOrThrow()["spec"]!["metrics"]![0]!["resource"]!["target"]!["averageUtilization"]!.GetValue<int>());
        Assert.True((await workload.PromoteAsync(canary, default)).Succeeded);
        var promoted = (await hpas.GetAsync(bed.Namespace, "podinfo-primary")).GetValueOrThrow();
        Assert.Equal(85, promoted["spec"]!["metrics"]![0]!["resource"]!["target"]!["averageUtilization"]!.GetValue<int>());
        Assert.Equal(3, promoted["spec"]!["minReplicas"]!.GetValue<int>());
        // With an HPA, promotion leaves the primary's replicas to it.
        Assert.Equal(2, (await bed.GetAsync(bed.Deployments, "podinfo-primary"))["spec"]!["replicas"]!.GetValue<int>());
    }

    [Fact]
    public async Task AutoscalerRef_ScaledObject_CopiedForThePrimary_TargetPausedWhileScaledDown_UpdatedAtPromotion()
    {
        using var bed = await KubeTestBed.CreateAsync(Server, "keda");
        await bed.ApplyConfigsAsync();
        await bed.ApplyPodinfoAsync();
        await Server.ApplyAsync(ScaledObject(bed.Namespace, threshold: "100"));
        var canary = await bed.CreateCanaryAsync(extraSpec: """
            autoscalerRef: {apiVersion: keda.sh/v1alpha1, kind: ScaledObject, name: podinfo-so, primaryScalerReplicas: {minReplicas: 2}}
            """);
        var workload = Workload(bed);
        var scaledObjects = bed.Client.Resource(KubeResources.ScaledObjects);

        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);

        var primary = (await scaledObjects.GetAsync(bed.Namespace, "podinfo-so-primary")).GetValueOrThrow();
        Routers.RouterTestBed.AssertJson("""
            {"scaleTargetRef":{"name":"podinfo-primary","kind":"Deployment","apiVersion":"apps/v1"},
             "pollingInterval":15,"cooldownPeriod":120,"minReplicaCount":2,"maxReplicaCount":4,
             "advanced":{"horizontalPodAutoscalerConfig":{"name":"podinfo-hpa-primary"}},
             "triggers":[{"type":"prometheus","name":"requests","metadata":{"serverAddress":"http://prometheus:9090",
               "query":"sum(rate(http_requests_total{deployment=\"podinfo-primary\"}[1m])) + sum(rate(http_requests_total{deployment=\"podinfo-primary\"}[1m]))",
               "threshold":"100"}}]}
            """, primary["spec"]);
        Assert.Equal("web", primary["metadata"]!["labels"]!["team"]!.GetValue<string>());
        AssertOwnedBy(primary, canary);

        // Scaled down, the target's ScaledObject is held at zero; scaled up, KEDA has it again.
        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);
        var paused = (await scaledObjects.GetAsync(bed.Namespace, "podinfo-so")).GetValueOrThrow();
        Assert.Equal("0", paused["metadata"]!["annotations"]!["autoscaling.keda.sh/paused-replicas"]!.GetValue<string>());
        Assert.Equal(0, (await bed.GetAsync(bed.Deployments, "podinfo"))["spec"]!["replicas"]!.GetValue<int>());
        Assert.True((await workload.ScaleUpCanaryAsync(canary, default)).Succeeded);
        var resumed = (await scaledObjects.GetAsync(bed.Namespace, "podinfo-so")).GetValueOrThrow();
        Assert.Null(resumed["metadata"]!["annotations"]?["autoscaling.keda.sh/paused-replicas"]);
        // Scaled up from zero, the target gets its ScaledObject's minimum.
        Assert.Equal(1, (await bed.GetAsync(bed.Deployments, "podinfo"))["spec"]!["replicas"]!.GetValue<int>());

        // A changed ScaledObject reaches the primary's copy at promotion, not before.
        await Server.ApplyAsync(ScaledObject(bed.Namespace, threshold: "250"));
        Assert.True((await workload.EnsurePrimaryAsync(canary, default)).Succeeded);
        Assert.Equal("100", (await scaledObjects.GetAsync(bed.Namespace, "podinfo-so-primary")).GetValueOrThrow()["spec"]!["triggers"]![0]!["metadata"]!["threshold"]!.GetValue<string>());
        Assert.True((await workload.PromoteAsync(canary, default)).Succeeded);
        Assert.Equal("250", (await scaledObjects.GetAsync(bed.Namespace, "podinfo-so-primary")).GetValueOrThrow()["spec"]!["triggers"]![0]!["metadata"]!["threshold"]!.GetValue<string>());

        // Reverting (revertOnDeletion) resumes the target's ScaledObject and deletes the primary's copy.
        Assert.True((await workload.ScaleDownCanaryAsync(canary, default)).Succeeded);
        await workload.RevertAsync(canary, default);
        Assert.True((await scaledObjects.GetAsync(bed.Namespace, "podinfo-so-primary")).IsNotFound);
        Assert.Null((await scaledObjects.GetAsync(bed.Namespace, "podinfo-so")).GetValueOrThrow()["metadata"]!["annotations"]?["autoscaling.keda.sh/paused-replicas"]);
    }

    [Fact]
    public async Task AutoscalerRef_ScaledObjectWithPrimaryScalerQueries_TheNamedTriggersQueryReplaced()
    {
        using var bed = await KubeTestBed.CreateAsync(Server, "keda-queries");
        await bed.ApplyConfigsAsync();
        await bed.ApplyPodinfoAsync();
        await Server.ApplyAsync(ScaledObject(bed.Namespace, threshold: "100"));
        var canary = await bed.CreateCanaryAsync(extraSpec: """
            autoscalerRef: {apiVersion: keda.sh/v1alpha1, kind: ScaledObject, name: podinfo-so, primaryScalerQueries: {requests: "sum(rate(primary_requests[1m]))"}}
            """);

        Assert.True((await Workload(bed).EnsurePrimaryAsync(canary, default)).Succeeded);

        var primary = (await bed.Client.Resource(KubeResources.ScaledObjects).GetAsync(bed.Namespace, "podinfo-so-primary")).GetValueOrThrow();
        Assert.Equal("sum(rate(primary_requests[1m]))", primary["spec"]!["triggers"]![0]!["metadata"]!["query"]!.GetValue<string>());
        Assert.Equal(1, primary["spec"]!["minReplicaCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task AutoscalerRef_MissingScaledObject_FailedNamingIt()
    {
        var (bed, canary, workload) = await PodinfoAsync("keda-missing", """
            autoscalerRef: {apiVersion: keda.sh/v1alpha1, kind: ScaledObject, name: absent}
            """);
        using var _ = bed;

        var result = await workload.EnsurePrimaryAsync(canary, default);

        Assert.False(result.Succeeded);
        Assert.Contains("Keda ScaledObject absent.", result.Error, StringComparison.Ordinal);
    }

    private static string ScaledObject(string ns, string threshold) => $$$"""
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata:
          name: podinfo-so
          namespace: {{{ns}}}
          labels: {team: web}
        spec:
          scaleTargetRef: {name: podinfo, kind: Deployment, apiVersion: apps/v1}
          pollingInterval: 15
          cooldownPeriod: 120
          minReplicaCount: 1
          maxReplicaCount: 4
          advanced:
            horizontalPodAutoscalerConfig: {name: podinfo-hpa}
          triggers:
          - type: prometheus
            name: requests
            metadata:
              serverAddress: http://prometheus:9090
              query: sum(rate(http_requests_total{deployment="podinfo"}[1m])) + sum(rate(http_requests_total{deployment="podinfo-canary"}[1m]))
              threshold: "{{{threshold}}}"
        """;

    private static string Hpa(string ns, int utilization) => $$$"""
        apiVersion: autoscaling/v2beta2
        kind: HorizontalPodAutoscaler
        metadata: {name: podinfo, namespace: {{{ns}}}, labels: {app: podinfo}}
        spec:
          scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
          minReplicas: 2
          maxReplicas: 4
          metrics:
          - type: Resource
            resource: {name: cpu, target: {type: Utilization, averageUtilization: {{{utilization}}}}}
        """;

    /// <summary>What Flagger's config tracker computes: SHA-256 of Go's JSON of the data, first 8 bytes in hex.</summary>
    private static string FlaggerChecksum(string goJson) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(goJson)).AsSpan(0, 8));

    internal static void AssertOwnedBy(JsonObject obj, CanaryPolicy canary)
    {
        var owners = obj["metadata"]!["ownerReferences"]!.AsArray();
        var owner = Assert.Single(owners)!;
        Assert.Equal("flagger.app/v1beta1", owner["apiVersion"]!.GetValue<string>());
        Assert.Equal("Canary", owner["kind"]!.GetValue<string>());
        Assert.Equal(canary.Name, owner["name"]!.GetValue<string>());
        Assert.Equal(canary.Manifest.Metadata.Uid, owner["uid"]!.GetValue<string>());
        Assert.True(owner["controller"]!.GetValue<bool>());
        Assert.True(owner["blockOwnerDeletion"]!.GetValue<bool>());
    }
}
