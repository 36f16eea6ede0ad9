using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// A cache of one resource type in one scope (a namespace or all, a label selector), kept by list + watch
/// (<see cref="ResourceClient{T}.WatchAllAsync"/>: resumes from the last resourceVersion, relists on 410 Gone and
/// reports the difference). Objects are kept as compact JSON without <c>metadata.managedFields</c> and handed out as
/// fresh copies, so callers may change what they get. The client's own writes go into it at once
/// (<see cref="Wrote"/>), so a tick reads what it wrote; an older version never replaces a newer one.
/// </summary>
public sealed class KubeInformer : IAsyncDisposable
{
    private readonly KubeClient _client;
    private readonly ConcurrentDictionary<string, Stored> _store = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop;
    private readonly Task _running;
    private long _relists;

    internal KubeInformer(KubeClient client, ResourceType type, string? @namespace, string? labelSelector, CancellationToken cancellationToken)
    {
        _client = client;
        Type = type;
        Namespace = @namespace;
        LabelSelector = labelSelector;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _running = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    public ResourceType Type { get; }

    /// <summary>The namespace it covers; null: all.</summary>
    public string? Namespace { get; }

    public string? LabelSelector { get; }

    /// <summary>True once the first list is in: from then on the cache answers for its scope.</summary>
    public bool IsSynced => _synced.Task.IsCompletedSuccessfully;

    /// <summary>Set when the type cannot be listed (not installed, forbidden): reads go to the API server instead.</summary>
    public KubeError? Unavailable { get; private set; }

    /// <summary>How many times the watch had to list again (410 Gone) after the first list.</summary>
    public long Relists => Interlocked.Read(ref _relists);

    public int Count => _store.Count;

    /// <summary>Raised for every change the watch reports (not for the client's own writes, whose watch events follow).</summary>
    public event Action<KubeInformer, WatchEventType, JsonObject>? Changed;

    /// <summary>Completes when the first list is in, or the type turned out unavailable.</summary>
    public Task WaitForSyncAsync(CancellationToken cancellationToken) => _synced.Task.WaitAsync(cancellationToken);

    /// <summary>Whether the cache answers for <paramref name="namespace"/>.</summary>
    public bool Covers(string? @namespace) => Namespace is null || Namespace == @namespace;

    /// <summary>A copy of the object, or null when the cache holds none of that name.</summary>
    public JsonObject? Get(string? @namespace, string name) =>
        _store.TryGetValue(Key(@namespace, name), out var stored) ? stored.Parse() : null;

    /// <summary>Copies of every object held (of one namespace, or all).</summary>
    public List<JsonObject> List(string? @namespace = null) =>
        [.. _store.Values.Where(s => @namespace is null || s.Namespace == @namespace).Select(s => s.Parse())];

    /// <summary>The client wrote <paramref name="obj"/> (the server's answer): keep it unless a newer version is held.</summary>
    internal void Wrote(JsonObject obj)
    {
        if (!IsSynced || !Covers(KubeJson.Namespace(obj)) || !Matches(obj)) return;
        Put(obj);
    }

    /// <summary>The client deleted the object.</summary>
    internal void Deleted(string? @namespace, string name) => _store.TryRemove(Key(@namespace, name), out _);

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var synced = false;
        try
        {
            await foreach (var e in _client.Resource(Type).WatchAllAsync(Namespace, new WatchAllOptions { LabelSelector = LabelSelector }, cancellationToken)
                .ConfigureAwait(false))
            {
                switch (e.Type)
                {
                    case WatchEventType.Synced:
                        if (synced) Interlocked.Increment(ref _relists);
                        synced = true;
                        _synced.TrySetResult();
                        break;
                    case WatchEventType.Error when !synced && e.Error?.Reason is KubeErrorReason.NotFound or KubeErrorReason.Forbidden:
                        Unavailable = e.Error;
                        _synced.TrySetResult();
                        return;
                    case WatchEventType.Added or WatchEventType.Modified when e.Object is { } obj:
                        Put(obj);
                        if (synced || e.Type == WatchEventType.Modified) Changed?.Invoke(this, e.Type, obj);
                        break;
                    case WatchEventType.Deleted when e.Object is { } gone:
                        _store.TryRemove(Key(KubeJson.Namespace(gone), KubeJson.Name(gone) ?? ""), out _);
                        Changed?.Invoke(this, e.Type, gone);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private bool Matches(JsonObject obj)
    {
        if (LabelSelector is null) return true;
        // Only equality selectors (a=b,c=d) are checked here; others are kept as the server's answer says.
        var labels = obj["metadata"]?["labels"] as JsonObject;
        foreach (var term in LabelSelector.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = term.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || term.Contains("!=", StringComparison.Ordinal)) continue;
            var value = labels?[term[..eq]]?.GetValue<string>();
            if (value != term[(eq + 1)..].TrimStart('=')) return false;
        }
        return true;
    }

    private void Put(JsonObject obj)
    {
        var ns = KubeJson.Namespace(obj);
        var name = KubeJson.Name(obj) ?? "";
        var version = KubeJson.ResourceVersion(obj);
        if (obj["metadata"] is JsonObject meta && meta.ContainsKey("managedFields"))
        {
            obj = (JsonObject)obj.DeepClone();
            ((JsonObject)obj["metadata"]!).Remove("managedFields");
        }
        var next = new Stored(ns, version, JsonSerializer.SerializeToUtf8Bytes(obj, KubeJson.Options));
        _store.AddOrUpdate(Key(ns, name), next, (_, held) => Newer(held.Version, version) ? held : next);
    }

    /// <summary>True when <paramref name="held"/> is a later version than <paramref name="incoming"/> (resourceVersions compared as numbers when both are).</summary>
    private static bool Newer(string? held, string? incoming) =>
        ulong.TryParse(held, NumberStyles.None, CultureInfo.InvariantCulture, out var h)
        && ulong.TryParse(incoming, NumberStyles.None, CultureInfo.InvariantCulture, out var i)
        && h > i;

    private static string Key(string? @namespace, string name) => (@namespace ?? "") + "/" + name;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private sealed record Stored(string? Namespace, string? Version, byte[] Json)
    {
        public JsonObject Parse() => (JsonObject)JsonNode.Parse(Json)!;
    }
}
