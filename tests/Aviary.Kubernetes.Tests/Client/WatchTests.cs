using System.Text.Json.Nodes;
using System.Threading.Channels;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Client;

/// <summary>Watches against the real API server: events, resumption, bookmarks and re-listing after 410 Gone.</summary>
[Collection(KubeCollection.Name)]
public sealed class WatchTests(KubeApiServerFixture fixture) : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly KubeClient _client = new(KubeClientConfig.FromKubeconfig(fixture.Server.AdminKubeconfig));

    private KubeApiServer Server => fixture.Server;

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task WatchAsync_FromTheListsVersion_ReceivesAddedModifiedDeleted()
    {
        var ns = await Server.CreateNamespaceAsync("watch");
        var maps = _client.Resource(KubeResources.ConfigMaps);
        var version = (await maps.ListAsync(ns)).Value.Metadata.ResourceVersion;
        using var stop = new CancellationTokenSource(Patience, TimeProvider.System);
        var events = Collect(maps.WatchAsync(ns, new WatchOptions { ResourceVersion = version }, stop.Token));

        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "watched", "1"));
        await maps.PatchAsync(ns, "watched", KubePatch.Merge(new JsonObject { ["data"] = new JsonObject { ["value"] = "2" } }));
        await maps.DeleteAsync(ns, "watched");

        var seen = await TakeAsync(events, 3);
        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Deleted], seen.Select(e => e.Type));
        Assert.Equal("2", seen[1].Object!["data"]!["value"]!.GetValue<string>());
        Assert.All(seen, e => Assert.Equal("watched", KubeJson.Name(e.Object)));
        Assert.Equal(KubeJson.ResourceVersion(seen[2].Object), seen[2].ResourceVersion);
        await stop.CancelAsync();
    }

    [Fact]
    public async Task WatchAsync_ServerTimeout_EndsTheStream()
    {
        var ns = await Server.CreateNamespaceAsync("timeout");
        var maps = _client.Resource(KubeResources.ConfigMaps);
        var version = (await maps.ListAsync(ns)).Value.Metadata.ResourceVersion;
        var count = 0;
        var started = TimeProvider.System.GetTimestamp();
        await foreach (var e in maps.WatchAsync(ns, new WatchOptions { ResourceVersion = version, Timeout = TimeSpan.FromSeconds(1) }))
        {
            Assert.Equal(WatchEventType.Bookmark, e.Type);
            count++;
        }
        // The server ended the watch at its timeout, not at once (how long after is the machine's business).
        Assert.True(TimeProvider.System.GetElapsedTime(started) >= TimeSpan.FromSeconds(0.5));
    }

    [Fact]
    public async Task WatchAsync_TooOldVersion_IsOneExpiredError()
    {
        var ns = await Server.CreateNamespaceAsync("expired");
        var events = new List<WatchEvent<JsonObject>>();
        await foreach (var e in _client.Resource(KubeResources.Canaries).WatchAsync(ns, new WatchOptions { ResourceVersion = "1" }))
            events.Add(e);
        var error = Assert.Single(events);
        Assert.Equal(WatchEventType.Error, error.Type);
        Assert.Equal(KubeErrorReason.Expired, error.Error!.Reason);
        Assert.Equal(410, error.Error.Code);
    }

    [Fact]
    public async Task WatchAsync_Forbidden_IsOneErrorEvent()
    {
        using var nobody = new KubeClient(_client.Config with { Credentials = KubeCredentials.FromToken(KubeTestUser.Nobody.Token) });
        var events = new List<WatchEvent<JsonObject>>();
        await foreach (var e in nobody.Resource(KubeResources.ConfigMaps).WatchAsync("default")) events.Add(e);
        Assert.Equal(KubeErrorReason.Forbidden, Assert.Single(events).Error!.Reason);
    }

    [Fact]
    public async Task WatchAllAsync_ServerEndsEveryWatchQuickly_ResumesWithoutLossOrRelist()
    {
        var ns = await Server.CreateNamespaceAsync("resume");
        var maps = _client.Resource(KubeResources.ConfigMaps);
        await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, "before"));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60), TimeProvider.System);
        var events = Collect(maps.WatchAllAsync(ns, new WatchAllOptions { WatchTimeout = TimeSpan.FromSeconds(1) }, stop.Token));

        var initial = await TakeAsync(events, 2);
        Assert.Equal(WatchEventType.Added, initial[0].Type);
        Assert.Equal("before", KubeJson.Name(initial[0].Object));
        Assert.Equal(WatchEventType.Synced, initial[1].Type);

        // Changes spread over several of the server's 1-second watches.
        const int Changes = 12;
        for (var i = 0; i < Changes; i++)
        {
            await maps.CreateAsync(ResourceClientTests.ConfigMapNode(ns, $"item-{i:00}"));
            await Task.Delay(250);
        }
        var seen = await TakeAsync(events, Changes);
        Assert.Equal(Enumerable.Range(0, Changes).Select(i => $"item-{i:00}"), seen.Select(e => KubeJson.Name(e.Object)));
        Assert.All(seen, e => Assert.Equal(WatchEventType.Added, e.Type));
        await stop.CancelAsync();
        Assert.DoesNotContain(Drain(events), e => e.Type is WatchEventType.Synced or WatchEventType.Error);
    }

    [Fact]
    public async Task WatchAllAsync_ExpiredStartVersion_RelistsThenKeepsWatching()
    {
        var ns = await Server.CreateNamespaceAsync("relist");
        var canaries = _client.Resource(KubeResources.Canaries);
        await canaries.CreateAsync(Canary(ns, "first"));
        await canaries.CreateAsync(Canary(ns, "second"));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60), TimeProvider.System);
        // A version kept from long ago: the server answers 410 Expired, the watcher lists and goes on.
        var events = Collect(canaries.WatchAllAsync(ns, new WatchAllOptions { ResourceVersion = "1" }, stop.Token));

        var relisted = await TakeAsync(events, 3);
        Assert.Equal([WatchEventType.Added, WatchEventType.Added, WatchEventType.Synced], relisted.Select(e => e.Type));
        Assert.Equal(["first", "second"], relisted.Take(2).Select(e => KubeJson.Name(e.Object)).Order());

        await canaries.CreateAsync(Canary(ns, "third"));
        var next = await TakeAsync(events, 1);
        Assert.Equal(WatchEventType.Added, next[0].Type);
        Assert.Equal("third", KubeJson.Name(next[0].Object));
        await stop.CancelAsync();
    }

    internal static JsonObject Canary(string ns, string name) => new()
    {
        ["apiVersion"] = "flagger.app/v1beta1",
        ["kind"] = "Canary",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["spec"] = JsonNode.Parse("""
            {"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"podinfo"},"service":{"port":9898},
             "analysis":{"interval":"1m","threshold":5,"maxWeight":50,"stepWeight":10}}
            """),
    };

    /// <summary>Enumerates a watch in the background into a channel (until cancelled).</summary>
    internal static ChannelReader<WatchEvent<T>> Collect<T>(IAsyncEnumerable<WatchEvent<T>> watch)
        where T : class
    {
        var channel = Channel.CreateUnbounded<WatchEvent<T>>();
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in watch) await channel.Writer.WriteAsync(e);
                channel.Writer.Complete();
            }
            catch (Exception e)
            {
                channel.Writer.Complete(e is OperationCanceledException ? null : e);
            }
        });
        return channel.Reader;
    }

    internal static async Task<List<WatchEvent<T>>> TakeAsync<T>(ChannelReader<WatchEvent<T>> events, int count)
        where T : class
    {
        var result = new List<WatchEvent<T>>();
        using var timeout = new CancellationTokenSource(Patience, TimeProvider.System);
        try
        {
            while (result.Count < count) result.Add(await events.ReadAsync(timeout.Token));
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            Assert.Fail($"expected {count} events, got {result.Count}: {string.Join(", ", result.Select(Describe))} ({e.Message})");
        }
        return result;
    }

    internal static List<WatchEvent<T>> Drain<T>(ChannelReader<WatchEvent<T>> events)
        where T : class
    {
        var rest = new List<WatchEvent<T>>();
        while (events.TryRead(out var e)) rest.Add(e);
        return rest;
    }

    private static string Describe<T>(WatchEvent<T> e)
        where T : class => $"{e.Type} {(e.Object is JsonObject o ? KubeJson.Name(o) : "")} {e.Error}".Trim();
}
