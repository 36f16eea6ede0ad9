using Aviary.Kubernetes.Client;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Client;

/// <summary>
/// A second API server with its watch cache off, so that watches read etcd directly and an etcd compaction makes
/// every older resourceVersion expire (410 Gone), as on a real cluster after its periodic compaction.
/// </summary>
public sealed class WatchCompactionTests : IAsyncLifetime
{
    private KubeApiServer? _server;
    private KubeClient? _client;

    private KubeApiServer Server => _server!;

    private KubeClient Client => _client!;

    public async Task InitializeAsync()
    {
        _server = await KubeApiServer.StartAsync(new KubeApiServerOptions { CrdFiles = [], ExtraApiServerArgs = ["--watch-cache=false"] });
        _client = new KubeClient(KubeClientConfig.FromKubeconfig(_server.AdminKubeconfig));
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_server is not null) await _server.DisposeAsync();
    }

    [Fact]
    public async Task WatchAsync_VersionBeforeCompaction_IsExpired()
    {
        var ns = await Server.CreateNamespaceAsync("compact");
        var maps = Client.Resource(KubeResources.ConfigMaps);
        var old = (await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "a"))).Value;
        // Two later writes: the compaction keeps only the newest revision, so the first revision after "a" is gone
        // too (a watch from a version starts at the next revision).
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "b"));
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "c"));
        await Server.CompactEtcdAsync();
        var events = new List<WatchEvent<System.Text.Json.Nodes.JsonObject>>();
        var options = new WatchOptions { ResourceVersion = KubeJson.ResourceVersion(old), Timeout = TimeSpan.FromSeconds(30) };
        await foreach (var e in maps.WatchAsync(ns, options)) events.Add(e);
        var error = Assert.Single(events);
        Assert.Equal(KubeErrorReason.Expired, error.Error?.Reason);
    }

    [Fact]
    public async Task WatchAllAsync_CompactedWhileAway_RelistReportsWhatChanged()
    {
        var ns = await Server.CreateNamespaceAsync("away");
        var maps = Client.Resource(KubeResources.ConfigMaps);
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "kept", "1"));
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "changed", "1"));
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "deleted", "1"));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60), TimeProvider.System);
        await using var watch = maps.WatchAllAsync(ns, cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);

        var initial = new List<WatchEvent<System.Text.Json.Nodes.JsonObject>>();
        while (initial.LastOrDefault()?.Type != WatchEventType.Synced)
        {
            Assert.True(await watch.MoveNextAsync());
            initial.Add(watch.Current);
        }
        Assert.Equal(4, initial.Count);

        // The consumer is away (the watcher does not run between two reads): changes happen, then etcd compacts them away.
        await maps.UpdateWithRetryAsync(ns, "changed", m =>
        {
            m["data"]!["value"] = "2";
            return m;
        });
        await maps.DeleteAsync(ns, "deleted");
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "added", "1"));
        await Server.CompactEtcdAsync();

        var after = new List<WatchEvent<System.Text.Json.Nodes.JsonObject>>();
        while (after.LastOrDefault()?.Type != WatchEventType.Synced)
        {
            Assert.True(await watch.MoveNextAsync());
            after.Add(watch.Current);
        }
        var byName = after.Where(e => e.Object is not null).ToDictionary(e => KubeJson.Name(e.Object)!, e => e.Type);
        Assert.Equal(WatchEventType.Modified, byName["changed"]);
        Assert.Equal(WatchEventType.Deleted, byName["deleted"]);
        Assert.Equal(WatchEventType.Added, byName["added"]);
        Assert.False(byName.ContainsKey("kept"));
        Assert.Equal("2", after.Single(e => KubeJson.Name(e.Object) == "changed").Object!["data"]!["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task Informer_WatchExpiredAfterCompaction_RelistsAndStaysExact()
    {
        var ns = await Server.CreateNamespaceAsync("relist");
        var other = await Server.CreateNamespaceAsync("elsewhere");
        var maps = Client.Resource(KubeResources.ConfigMaps);
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "kept", "1"));
        // Watches end every second or two, and resume from the last version they saw.
        using var cached = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig), new KubeClientOptions { WatchTimeout = TimeSpan.FromSeconds(1) });
        var cache = cached.EnableCache(new KubeCacheOptions { Namespace = ns });
        var informer = cache.For(KubeResources.ConfigMaps)!;
        await informer.WaitForSyncAsync(CancellationToken.None);
        Assert.Equal(0, informer.Relists);

        // Writes elsewhere move etcd's revision past the informer's version without an event it would see; the
        // compaction then makes that version expire, so the next reconnection gets 410 Gone and lists again.
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(other, "x"));
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(other, "y"));
        await Server.CompactEtcdAsync();
        await Eventually.True(() => informer.Relists >= 1, describe: () => $"{informer.Relists} relists, {informer.Count} objects");

        // After the relist the cache is still exact and follows changes again.
        Assert.Equal(["kept"], informer.List().Select(o => KubeJson.Name(o)));
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "added", "2"));
        await Eventually.True(() => informer.Get(ns, "added") is not null, describe: () => string.Join(",", informer.List().Select(o => KubeJson.Name(o))));
    }
}
