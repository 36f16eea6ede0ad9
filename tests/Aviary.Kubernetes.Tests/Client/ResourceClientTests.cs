using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Client;

/// <summary>A partial typed model, as the operator will write them: unknown fields kept by the extension data.</summary>
public sealed record ConfigMap
{
    public string ApiVersion { get; init; } = "v1";
    public string Kind { get; init; } = "ConfigMap";
    public required Metadata Metadata { get; init; }
    public Dictionary<string, string>? Data { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }
}

public sealed record Metadata
{
    public string? Name { get; init; }
    public string? Namespace { get; init; }
    public string? ResourceVersion { get; init; }
    public Dictionary<string, string>? Labels { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }
}

/// <summary>CRUD, patches, the status subresource, conflicts and paging against the real API server.</summary>
[Collection(KubeCollection.Name)]
public sealed class ResourceClientTests(KubeApiServerFixture fixture) : IDisposable
{
    private readonly KubeClient _client = new(KubeClientConfig.FromKubeconfig(fixture.Server.AdminKubeconfig));

    private KubeApiServer Server => fixture.Server;

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task ConfigMaps_CreateGetUpdateDelete_RoundTripWithExpectedFailuresAsData()
    {
        var ns = await Server.CreateNamespaceAsync("crud");
        var maps = _client.Resource<ConfigMap>(KubeResources.ConfigMaps);
        var created = await maps.CreateAsync(new ConfigMap { Metadata = new Metadata { Name = "settings", Namespace = ns }, Data = new() { ["a"] = "1" } });
        Assert.True(created.Succeeded, created.ToString());
        Assert.NotNull(created.Value.Metadata.ResourceVersion);
        Assert.True(created.Value.Metadata.Extra!.ContainsKey("uid"));

        var again = await maps.CreateAsync(new ConfigMap { Metadata = new Metadata { Name = "settings", Namespace = ns } });
        Assert.True(again.IsAlreadyExists, again.ToString());

        var read = await maps.GetAsync(ns, "settings");
        Assert.Equal("1", read.Value.Data!["a"]);

        var updated = await maps.UpdateAsync(read.Value with { Data = new() { ["a"] = "2" } });
        Assert.True(updated.Succeeded, updated.ToString());
        Assert.NotEqual(read.Value.Metadata.ResourceVersion, updated.Value.Metadata.ResourceVersion);
        // Unknown fields (uid, creationTimestamp, managedFields) survived the PUT of the partial model.
        Assert.Equal(created.Value.Metadata.Extra["uid"].GetString(), updated.Value.Metadata.Extra!["uid"].GetString());

        var stale = await maps.UpdateAsync(read.Value with { Data = new() { ["a"] = "3" } });
        Assert.True(stale.IsConflict, stale.ToString());

        // Foreground deletion waits for the garbage collector, which this API server does not run: the object stays,
        // marked, until its finalizer is removed.
        var deleted = await maps.DeleteAsync(ns, "settings", new DeleteOptions { PropagationPolicy = PropagationPolicy.Foreground });
        Assert.True(deleted.Succeeded, deleted.ToString());
        Assert.NotNull(deleted.Value["metadata"]!["deletionTimestamp"]);
        Assert.Equal("foregroundDeletion", deleted.Value["metadata"]!["finalizers"]![0]!.GetValue<string>());
        var released = await _client.Resource(KubeResources.ConfigMaps).PatchAsync(ns, "settings",
            KubePatch.Merge(new JsonObject { ["metadata"] = new JsonObject { ["finalizers"] = null } }));
        Assert.True(released.Succeeded || released.IsNotFound, released.ToString());
        Assert.True((await maps.GetAsync(ns, "settings")).IsNotFound);
        Assert.True((await maps.DeleteAsync(ns, "settings")).IsNotFound);

        await maps.CreateAsync(new ConfigMap { Metadata = new Metadata { Name = "background", Namespace = ns } });
        Assert.True((await maps.DeleteAsync(ns, "background", new DeleteOptions { PropagationPolicy = PropagationPolicy.Background })).Succeeded);
        Assert.True((await maps.GetAsync(ns, "background")).IsNotFound);
    }

    [Fact]
    public async Task Patch_MergeStrategicJsonAndApply_ChangeTheObject()
    {
        var ns = await Server.CreateNamespaceAsync("patch");
        await Server.ApplyAsync(KubeApiServerTests.Deployment(ns, "podinfo", replicas: 2));
        var deployments = _client.Resource(KubeResources.Deployments);

        var merged = await deployments.PatchAsync(ns, "podinfo", KubePatch.Merge(new JsonObject
        {
            ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { ["aviary.dev/action"] = "promote" } },
        }));
        Assert.Equal("promote", merged.Value["metadata"]!["annotations"]!["aviary.dev/action"]!.GetValue<string>());

        // Strategic merge adds a container by name instead of replacing the list.
        var strategic = await deployments.PatchAsync(ns, "podinfo", KubePatch.StrategicMerge(JsonNode.Parse(
            """{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}""")!));
        Assert.Equal(2, strategic.Value["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Count);

        var json = await deployments.PatchAsync(ns, "podinfo", KubePatch.JsonPatch(new JsonArray(
            new JsonObject { ["op"] = "test", ["path"] = "/spec/replicas", ["value"] = 2 },
            new JsonObject { ["op"] = "replace", ["path"] = "/spec/replicas", ["value"] = 0 })));
        Assert.Equal(0, json.Value["spec"]!["replicas"]!.GetValue<int>());

        var failedTest = await deployments.PatchAsync(ns, "podinfo", KubePatch.JsonPatch(new JsonArray(
            new JsonObject { ["op"] = "test", ["path"] = "/spec/replicas", ["value"] = 5 })));
        Assert.False(failedTest.Succeeded);

        var applied = await _client.Resource(KubeResources.ConfigMaps).PatchAsync(ns, "applied", KubePatch.Apply(new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new JsonObject { ["name"] = "applied", ["namespace"] = ns },
            ["data"] = new JsonObject { ["k"] = "v" },
        }));
        Assert.True(applied.Succeeded, applied.ToString());
        Assert.Contains("aviary", applied.Value["metadata"]!["managedFields"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StatusSubresource_Deployment_WritesOnlyTheStatus()
    {
        var ns = await Server.CreateNamespaceAsync("status");
        await Server.ApplyAsync(KubeApiServerTests.Deployment(ns, "podinfo", replicas: 3));
        var deployments = _client.Resource(KubeResources.Deployments);
        var current = (await deployments.GetStatusAsync(ns, "podinfo")).Value;
        current["status"] = new JsonObject { ["replicas"] = 3, ["readyReplicas"] = 2, ["observedGeneration"] = 1 };
        current["spec"]!["replicas"] = 9;
        var written = await deployments.UpdateStatusAsync(current);
        Assert.True(written.Succeeded, written.ToString());
        Assert.Equal(2, written.Value["status"]!["readyReplicas"]!.GetValue<int>());
        Assert.Equal(3, written.Value["spec"]!["replicas"]!.GetValue<int>());

        var patched = await deployments.PatchStatusAsync(ns, "podinfo", KubePatch.Merge(new JsonObject
        {
            ["status"] = new JsonObject { ["readyReplicas"] = 3, ["availableReplicas"] = 3 },
        }));
        Assert.Equal(3, patched.Value["status"]!["readyReplicas"]!.GetValue<int>());
        Assert.Equal(3, patched.Value["status"]!["replicas"]!.GetValue<int>());

        // A plain update does not touch the status of a resource with a status subresource.
        var spec = patched.Value;
        spec["status"]!["readyReplicas"] = 0;
        spec["spec"]!["replicas"] = 4;
        var updated = await deployments.UpdateAsync(spec);
        Assert.Equal(4, updated.Value["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(3, updated.Value["status"]!["readyReplicas"]!.GetValue<int>());
    }

    [Fact]
    public async Task Canary_CustomResource_CreateAndUpdateStatus()
    {
        var ns = await Server.CreateNamespaceAsync("canary");
        var canaries = _client.Resource(KubeResources.Canaries);
        var created = await canaries.CreateAsync(new JsonObject
        {
            ["apiVersion"] = "flagger.app/v1beta1",
            ["kind"] = "Canary",
            ["metadata"] = new JsonObject { ["name"] = "podinfo", ["namespace"] = ns },
            ["spec"] = JsonNode.Parse("""
                {"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"podinfo"},
                 "service":{"port":9898},
                 "analysis":{"interval":"1m","threshold":5,"maxWeight":50,"stepWeight":10}}
                """),
        });
        Assert.True(created.Succeeded, created.ToString());

        var status = await canaries.UpdateStatusWithRetryAsync(ns, "podinfo", canary =>
        {
            canary["status"] = new JsonObject
            {
                ["phase"] = "Initialized",
                ["canaryWeight"] = 0,
                ["conditions"] = new JsonArray(new JsonObject
                {
                    ["type"] = "Promoted", ["status"] = "True", ["reason"] = "Initialized",
                    ["message"] = "Deployment initialization completed.",
                    ["lastUpdateTime"] = "2025-01-01T00:00:00Z", ["lastTransitionTime"] = "2025-01-01T00:00:00Z",
                }),
            };
            return canary;
        });
        Assert.True(status.Succeeded, status.ToString());
        var printed = await Server.KubectlAsync("get", "canary", "podinfo", "-n", ns, "-o", "jsonpath={.status.phase}");
        Assert.Equal("Initialized", printed);
        var waited = await Server.RunKubectlAsync(["wait", "canary/podinfo", "-n", ns, "--for=condition=promoted", "--timeout=5s"]);
        Assert.True(waited.Succeeded, waited.ToString());

        var invalid = await canaries.PatchStatusAsync(ns, "podinfo", KubePatch.Merge(JsonNode.Parse("""{"status":{"canaryWeight":"heavy"}}""")!));
        Assert.Equal(KubeErrorReason.Invalid, invalid.Error?.Reason);
    }

    [Fact]
    public async Task UpdateWithRetryAsync_TwoConcurrentUpdaters_LoseNothing()
    {
        var ns = await Server.CreateNamespaceAsync("conflict");
        var maps = _client.Resource(KubeResources.ConfigMaps);
        await maps.CreateAsync(new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "ConfigMap",
            ["metadata"] = new JsonObject { ["name"] = "counter", ["namespace"] = ns },
            ["data"] = new JsonObject { ["a"] = "0", ["b"] = "0" },
        });
        using var second = new KubeClient(_client.Config);
        const int Increments = 25;
        async Task Increment(KubeClient client, string key)
        {
            for (var i = 0; i < Increments; i++)
            {
                var result = await client.Resource(KubeResources.ConfigMaps).UpdateWithRetryAsync(ns, "counter", map =>
                {
                    var data = map["data"]!.AsObject();
                    data[key] = (int.Parse(data[key]!.GetValue<string>(), CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture);
                    data["total"] = (int.Parse(data["total"]?.GetValue<string>() ?? "0", CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture);
                    return map;
                });
                Assert.True(result.Succeeded, result.ToString());
            }
        }
        await Task.WhenAll(Increment(_client, "a"), Increment(second, "b"));
        var final = (await maps.GetAsync(ns, "counter")).Value["data"]!;
        Assert.Equal(Increments.ToString(CultureInfo.InvariantCulture), final["a"]!.GetValue<string>());
        Assert.Equal(Increments.ToString(CultureInfo.InvariantCulture), final["b"]!.GetValue<string>());
        Assert.Equal((2 * Increments).ToString(CultureInfo.InvariantCulture), final["total"]!.GetValue<string>());
    }

    [Fact]
    public async Task UpdateWithRetryAsync_NoChange_DoesNotWrite()
    {
        var ns = await Server.CreateNamespaceAsync("nochange");
        var maps = _client.Resource(KubeResources.ConfigMaps);
        var created = await maps.CreateAsync(ConfigMapNode(ns, "same"));
        var result = await maps.UpdateWithRetryAsync(ns, "same", _ => null);
        Assert.Equal(KubeJson.ResourceVersion(created.Value), KubeJson.ResourceVersion(result.Value));
        Assert.True((await maps.UpdateWithRetryAsync(ns, "absent", m => m)).IsNotFound);
    }

    [Fact]
    public async Task UpdateAsync_ConflictAfterMaxAttempts_IsReturned()
    {
        var ns = await Server.CreateNamespaceAsync("maxretry");
        using var client = new KubeClient(_client.Config, new KubeClientOptions { ConflictRetry = new RetryOptions { MaxAttempts = 3, InitialDelay = TimeSpan.Zero } });
        var maps = client.Resource(KubeResources.ConfigMaps);
        await maps.CreateAsync(ConfigMapNode(ns, "contended"));
        var attempts = 0;
        // The mutation itself changes the object behind the updater's back: every write conflicts.
        var result = await maps.UpdateWithRetryAsync(ns, "contended", map =>
        {
            attempts++;
            AnnotateNow(ns, "contended", $"n={attempts}");
            map["data"] = new JsonObject { ["x"] = "y" };
            return map;
        });
        Assert.True(result.IsConflict, result.ToString());
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task List_Paging_FollowsContinueTokensAndSelectors()
    {
        var ns = await Server.CreateNamespaceAsync("paging");
        var maps = _client.Resource(KubeResources.ConfigMaps);
        for (var i = 0; i < 25; i++)
        {
            var map = ConfigMapNode(ns, $"item-{i:00}");
            map["metadata"]!["labels"] = new JsonObject { ["parity"] = i % 2 == 0 ? "even" : "odd" };
            Assert.True((await maps.CreateAsync(map)).Succeeded);
        }
        var page = await maps.ListAsync(ns, new ListOptions { Limit = 10 });
        Assert.Equal(10, page.Value.Items.Count);
        Assert.False(string.IsNullOrEmpty(page.Value.Metadata.Continue));
        Assert.Equal(15, page.Value.Metadata.RemainingItemCount);
        var next = await maps.ListAsync(ns, new ListOptions { Limit = 10, Continue = page.Value.Metadata.Continue });
        Assert.Equal("item-10", KubeJson.Name(next.Value.Items[0]));

        using var small = new KubeClient(_client.Config, new KubeClientOptions { ListPageSize = 7 });
        var all = await small.Resource<ConfigMap>(KubeResources.ConfigMaps).ListAllAsync(ns);
        Assert.Equal(25, all.Value.Items.Count);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"item-{i:00}"), all.Value.Items.Select(m => m.Metadata.Name));
        Assert.False(string.IsNullOrEmpty(all.Value.Metadata.ResourceVersion));
        Assert.Null(all.Value.Metadata.Continue);

        var even = await maps.ListAllAsync(ns, new ListOptions { LabelSelector = "parity=even" });
        Assert.Equal(13, even.Value.Items.Count);
        var one = await maps.ListAsync(ns, new ListOptions { FieldSelector = "metadata.name=item-07" });
        Assert.Equal("item-07", KubeJson.Name(Assert.Single(one.Value.Items)));
        var across = await maps.ListAsync(null, new ListOptions { LabelSelector = "parity=odd" });
        Assert.True(across.Value.Items.Count >= 12);
    }

    /// <summary>Changes the object synchronously (from inside a mutation) with kubectl.</summary>
    private void AnnotateNow(string ns, string name, string annotation)
    {
        var info = new System.Diagnostics.ProcessStartInfo(Server.Tools.Kubectl) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "--kubeconfig=" + Server.AdminKubeconfig, "annotate", "configmap", name, "-n", ns, "--overwrite", annotation })
            info.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(info)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, error);
    }

    internal static JsonObject ConfigMapNode(string ns, string name, string value = "0") => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "ConfigMap",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["data"] = new JsonObject { ["value"] = value },
    };
}
