using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Core.Policy;
using Aviary.Core.Simulation;
using Aviary.Kubernetes.Client;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Workloads;

/// <summary>
/// One namespace of the shared test API server with what the workload and Service tests need: an admin client, a
/// virtual clock, podinfo's Deployment (a ConfigMap volume, a Secret env var, three container ports) or DaemonSet,
/// and a real Canary object (Flagger's CRD), so that owner references carry a real uid.
/// </summary>
internal sealed class KubeTestBed : IDisposable
{
    private KubeTestBed(KubeApiServer server, string ns)
    {
        Server = server;
        Namespace = ns;
        Client = new KubeClient(KubeClientConfig.FromKubeconfig(server.AdminKubeconfig));
    }

    public KubeApiServer Server { get; }

    public string Namespace { get; }

    public KubeClient Client { get; }

    public VirtualClock Clock { get; } = new();

    public static async Task<KubeTestBed> CreateAsync(KubeApiServer server, string prefix) =>
        new(server, await server.CreateNamespaceAsync(prefix));

    public ResourceClient<JsonObject> Deployments => Client.Resource(KubeResources.Deployments);

    public ResourceClient<JsonObject> DaemonSets => Client.Resource(KubeResources.DaemonSets);

    public ResourceClient<JsonObject> Services => Client.Resource(KubeResources.Services);

    public ResourceClient<JsonObject> ConfigMaps => Client.Resource(KubeResources.ConfigMaps);

    public ResourceClient<JsonObject> Secrets => Client.Resource(KubeResources.Secrets);

    /// <summary>podinfo's ConfigMap and Secret.</summary>
    public Task ApplyConfigsAsync(string configData = "debug", string token = "s3cr3t") =>
        Server.ApplyAsync($$"""
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: podinfo-config
              namespace: {{Namespace}}
              labels: {team: web}
            data:
              level: "{{configData}}"
            ---
            apiVersion: v1
            kind: Secret
            metadata:
              name: podinfo-secret
              namespace: {{Namespace}}
            type: Opaque
            stringData:
              token: "{{token}}"
            """);

    /// <summary>podinfo: labels app/team, a ConfigMap volume, a Secret env var, ports http 9898, http-metrics 9797 and an unnamed 9999.</summary>
    public string PodinfoYaml(string kind = "Deployment", string image = "ghcr.io/stefanprodan/podinfo:6.0.0", int replicas = 2,
        string extraSpec = "") =>
        $$"""
        apiVersion: apps/v1
        kind: {{kind}}
        metadata:
          name: podinfo
          namespace: {{Namespace}}
          labels: {app: podinfo, team: web}
          annotations: {owner: team-web, kustomize.toolkit.fluxcd.io/name: apps}
        spec:
          {{(kind == "Deployment" ? "replicas: " + replicas.ToString(CultureInfo.InvariantCulture) : "updateStrategy: {type: RollingUpdate}")}}
          minReadySeconds: 3
          revisionHistoryLimit: 4
          selector:
            matchLabels: {app: podinfo}
          template:
            metadata:
              labels: {app: podinfo, version: v1}
              annotations: {prometheus.io/scrape: "true"}
            spec:
              {{extraSpec}}
              containers:
              - name: podinfod
                image: {{image}}
                ports:
                - {name: http, containerPort: 9898}
                - {name: http-metrics, containerPort: 9797}
                - {containerPort: 9999}
                env:
                - name: PODINFO_TOKEN
                  valueFrom:
                    secretKeyRef: {name: podinfo-secret, key: token}
                volumeMounts:
                - {name: config, mountPath: /etc/podinfo}
              volumes:
              - name: config
                configMap: {name: podinfo-config}
        """;

    public Task ApplyPodinfoAsync(string kind = "Deployment", string image = "ghcr.io/stefanprodan/podinfo:6.0.0", int replicas = 2, string extraSpec = "") =>
        Server.ApplyAsync(PodinfoYaml(kind, image, replicas, extraSpec));

    /// <summary>The Canary YAML of seed 1 (Linkerd's podinfo tutorial), with extra spec lines.</summary>
    public string CanaryYaml(string kind = "Deployment", string provider = "linkerd", string extraSpec = "", string service = "port: 9898") =>
        $$"""
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
          namespace: {{Namespace}}
        spec:
          provider: {{provider}}
          targetRef:
            apiVersion: apps/v1
            kind: {{kind}}
            name: podinfo
          {{extraSpec}}
          service:
            {{service}}
          analysis:
            interval: 10s
            threshold: 5
            stepWeight: 10
            maxWeight: 100
            metrics:
            - name: request-success-rate
              thresholdRange: {min: 99}
              interval: 1m
        """;

    /// <summary>Creates the Canary in the API server and returns its policy with the server's uid.</summary>
    public async Task<CanaryPolicy> CreateCanaryAsync(string kind = "Deployment", string provider = "linkerd", string extraSpec = "",
        string service = "port: 9898")
    {
        var yaml = CanaryYaml(kind, provider, extraSpec, service);
        await Server.ApplyAsync(yaml);
        var uid = (await Server.KubectlAsync("get", "canary", "podinfo", "-n", Namespace, "-o", "jsonpath={.metadata.uid}")).Trim();
        Assert.False(string.IsNullOrEmpty(uid));
        var policy = SchedulerHarness.Compile(yaml);
        return policy with { Manifest = policy.Manifest with { Metadata = policy.Manifest.Metadata with { Uid = uid } } };
    }

    public async Task<JsonObject> GetAsync(ResourceClient<JsonObject> resource, string name) =>
        (await resource.GetAsync(Namespace, name)).GetValueOrThrow();

    /// <summary>Plays the deployment controller: a finished rollout of <paramref name="name"/>.</summary>
    public Task MarkReadyAsync(string name, int? replicas = null) => Server.MarkDeploymentReadyAsync(Namespace, name, replicas);

    /// <summary>Writes a Deployment's status as given (generation observed unless said otherwise).</summary>
    public async Task SetDeploymentStatusAsync(string name, JsonObject status, bool observed = true)
    {
        var deployment = await GetAsync(Deployments, name);
        if (observed) status["observedGeneration"] = JsonValue.Create(deployment["metadata"]!["generation"]!.GetValue<long>());
        await Server.PatchStatusAsync($"/apis/apps/v1/namespaces/{Namespace}/deployments/{name}", new JsonObject { ["status"] = status });
    }

    /// <summary>Writes a DaemonSet's status (generation observed).</summary>
    public async Task SetDaemonSetStatusAsync(string name, int desired, int updated, int available)
    {
        var daemonSet = await GetAsync(DaemonSets, name);
        await Server.PatchStatusAsync($"/apis/apps/v1/namespaces/{Namespace}/daemonsets/{name}", new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["observedGeneration"] = daemonSet["metadata"]!["generation"]!.GetValue<long>(),
                ["currentNumberScheduled"] = desired,
                ["numberMisscheduled"] = 0,
                ["desiredNumberScheduled"] = desired,
                ["numberReady"] = available,
                ["updatedNumberScheduled"] = updated,
                ["numberAvailable"] = available,
            },
        });
    }

    public static string Time(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    public void Dispose() => Client.Dispose();
}
