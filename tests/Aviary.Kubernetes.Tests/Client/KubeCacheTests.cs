using System.Text.Json.Nodes;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Client;

/// <summary>
/// The informers' cache against the real API server: reads answered from memory once synced (counted by the
/// client's request metric), own writes visible at once, others' changes through the watch, and a status patch that
/// meets a conflict, is retried, and loses no field of either writer.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class KubeCacheTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    [Fact]
    public async Task Get_AfterSync_ComesFromMemoryAndSeesOwnAndOthersWrites()
    {
        var ns = await Server.CreateNamespaceAsync("cache");
        using var admin = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig));
        await admin.Resource(KubeResources.ConfigMaps).CreateAsync(ResourceClientTests.ConfigMapNode(ns, "a", "1"));
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig));
        var cache = client.EnableCache(new KubeCacheOptions { Namespace = ns });
        var maps = client.Resource(KubeResources.ConfigMaps);

        // The first read starts the informer (and is answered by the server); once synced, reads cost nothing.
        Assert.True((await maps.GetAsync(ns, "a")).Succeeded);
        await cache.For(KubeResources.ConfigMaps)!.WaitForSyncAsync(CancellationToken.None);
        var reads = client.Metrics.Reads("configmaps");
        for (var i = 0; i < 5; i++) Assert.Equal("1", (await maps.GetAsync(ns, "a")).GetValueOrThrow()["data"]!["value"]!.GetValue<string>());
        Assert.True((await maps.GetAsync(ns, "absent")).IsNotFound);
        Assert.Equal(reads, client.Metrics.Reads("configmaps"));

        // A read-change-write that changes nothing writes nothing.
        var writes = client.Metrics.Writes("configmaps");
        Assert.True((await maps.UpdateWithRetryAsync(ns, "a", _ => null)).Succeeded);
        Assert.Equal(writes, client.Metrics.Writes("configmaps"));

        // Its own write is read back at once; another client's arrives by the watch.
        await maps.UpdateWithRetryAsync(ns, "a", m =>
        {
            m["data"]!["value"] = "2";
            return m;
        });
        Assert.Equal("2", (await maps.GetAsync(ns, "a")).GetValueOrThrow()["data"]!["value"]!.GetValue<string>());
        await admin.Resource(KubeResources.ConfigMaps).CreateAsync(ResourceClientTests.ConfigMapNode(ns, "b", "3"));
        await Eventually.True(async () => (await maps.GetAsync(ns, "b")).Succeeded, describe: async () => (await maps.GetAsync(ns, "b")).ToString());
        Assert.Equal(reads, client.Metrics.Reads("configmaps"));
    }

    [Fact]
    public async Task PatchStatusWithRetry_ConcurrentStatusChange_RetriedOn409AndNoFieldLost()
    {
        var ns = await Server.CreateNamespaceAsync("statusconflict");
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig),
            new KubeClientOptions { ConflictRetry = new RetryOptions { InitialDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero } });
        var canaries = client.Resource(KubeResources.Canaries);
        await Server.ApplyAsync($$"""
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata: {name: podinfo, namespace: {{ns}}}
            spec:
              targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
              service: {port: 9898}
              analysis: {interval: 10s, threshold: 5, stepWeight: 10, maxWeight: 50}
            """);
        await canaries.PatchStatusAsync(ns, "podinfo", KubePatch.Merge(new JsonObject
        {
            ["status"] = new JsonObject { ["phase"] = "Progressing", ["canaryWeight"] = 10, ["failedChecks"] = 0, ["iterations"] = 0 },
        }));
        var read = (await canaries.GetAsync(ns, "podinfo")).GetValueOrThrow();
        var version = KubeJson.ResourceVersion(read);

        // Another writer changes the status and the spec after the read: the version read is stale.
        await canaries.PatchStatusAsync(ns, "podinfo", KubePatch.Merge(new JsonObject { ["status"] = new JsonObject { ["failedChecks"] = 2 } }));
        await canaries.PatchAsync(ns, "podinfo", KubePatch.Merge(new JsonObject
        {
            ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { ["example.com/note"] = "theirs" } },
        }));

        var before = (JsonObject)read["status"]!.DeepClone();
        var desired = (JsonObject)before.DeepClone();
        desired["canaryWeight"] = 20;
        desired["iterations"] = 1;
        var conflicts = Conflicts(client);
        var written = await canaries.PatchStatusWithRetryAsync(ns, "podinfo", version, KubePatch.ModelChange(before, before, desired));
        Assert.True(written is { Succeeded: true }, written?.ToString());
        Assert.Equal(conflicts + 1, Conflicts(client));

        var now = (await canaries.GetFreshAsync(ns, "podinfo")).GetValueOrThrow();
        Assert.Equal(20, now["status"]!["canaryWeight"]!.GetValue<int>());
        Assert.Equal(1, now["status"]!["iterations"]!.GetValue<int>());
        Assert.Equal("Progressing", now["status"]!["phase"]!.GetValue<string>());
        // Theirs survive: the field this writer did not change, and the annotation.
        Assert.Equal(2, now["status"]!["failedChecks"]!.GetValue<int>());
        Assert.Equal("theirs", now["metadata"]!["annotations"]!["example.com/note"]!.GetValue<string>());

        // Nothing to change: no request.
        var requests = client.Metrics.Count();
        Assert.Null(KubePatch.ModelChange((JsonObject)now["status"]!, desired, (JsonObject)desired.DeepClone()));
        Assert.Null(await canaries.PatchStatusWithRetryAsync(ns, "podinfo", KubeJson.ResourceVersion(now), null));
        Assert.Equal(requests, client.Metrics.Count());
    }

    private static long Conflicts(KubeClient client) =>
        client.Metrics.Requests.Where(r => r.Key is ("PATCH", "canaries/status", 409)).Sum(r => r.Value);
}
