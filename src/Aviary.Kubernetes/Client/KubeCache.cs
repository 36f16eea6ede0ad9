using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace Aviary.Kubernetes.Client;

/// <summary>Which objects <see cref="KubeCache"/> keeps.</summary>
public sealed record KubeCacheOptions
{
    /// <summary>The namespace to cache; null: all namespaces.</summary>
    public string? Namespace { get; init; }

    /// <summary>Label selectors per resource (by plural, e.g. <c>canaries</c>): only matching objects are kept, and read.</summary>
    public IReadOnlyDictionary<string, string> LabelSelectors { get; init; } = new Dictionary<string, string>();

    /// <summary>Resources never cached (by plural): read straight from the server. Default: events, leases, pods, endpoints.</summary>
    public IReadOnlySet<string> Uncached { get; init; } = new HashSet<string>(StringComparer.Ordinal) { "events", "leases", "pods", "endpoints" };
}

/// <summary>
/// The client's shared informers, as client-go's shared informer factory: the first read of a namespaced resource type
/// in scope starts an informer for it (list + watch), and once it has synced every GET of that type — and
/// <see cref="ResourceClient{T}.UpdateWithRetryAsync"/>'s first read — is answered from memory, so reading costs no
/// API request and a read-change-write that changes nothing writes nothing. Types that cannot be listed stay uncached.
/// While <see cref="Track"/> is in effect, every object read is noted, so a controller knows what each canary
/// depends on and can wake it when one of those objects changes (<see cref="Changed"/>).
/// </summary>
public sealed class KubeCache : IAsyncDisposable
{
    private static readonly AsyncLocal<HashSet<string>?> Reads = new();

    private readonly KubeClient _client;
    private readonly ConcurrentDictionary<ResourceType, Lazy<KubeInformer>> _informers = new();
    private readonly CancellationTokenSource _stop = new();

    internal KubeCache(KubeClient client, KubeCacheOptions options)
    {
        _client = client;
        Options = options;
    }

    public KubeCacheOptions Options { get; }

    /// <summary>Every change any informer's watch reports.</summary>
    public event Action<KubeInformer, WatchEventType, JsonObject>? Changed;

    public IReadOnlyCollection<KubeInformer> Informers => [.. _informers.Values.Where(l => l.IsValueCreated).Select(l => l.Value)];

    /// <summary>The informer of <paramref name="type"/> (started now if need be); null when the type is not cached.</summary>
    public KubeInformer? For(ResourceType type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (!type.Namespaced || Options.Uncached.Contains(type.Plural) || _stop.IsCancellationRequested) return null;
        return _informers.GetOrAdd(type, t => new Lazy<KubeInformer>(() =>
        {
            var informer = new KubeInformer(_client, t, Options.Namespace, Options.LabelSelectors.GetValueOrDefault(t.Plural), _stop.Token);
            informer.Changed += (i, e, o) => Changed?.Invoke(i, e, o);
            return informer;
        })).Value;
    }

    /// <summary>The cached object: true when the cache answers (<paramref name="value"/> null: there is none), false to ask the server.</summary>
    internal bool TryGet(ResourceType type, string? @namespace, string name, out JsonObject? value)
    {
        value = null;
        Note(type, @namespace, name);
        if (For(type) is not { IsSynced: true, Unavailable: null } informer || !informer.Covers(@namespace)) return false;
        value = informer.Get(@namespace, name);
        return true;
    }

    /// <summary>A list answered from the cache, or null to ask the server.</summary>
    internal List<JsonObject>? TryList(ResourceType type, string? @namespace)
    {
        if (For(type) is not { IsSynced: true, Unavailable: null } informer) return null;
        if (informer.Namespace is not null && informer.Namespace != @namespace) return null;
        return informer.List(@namespace);
    }

    internal void Wrote(ResourceType type, JsonObject obj)
    {
        if (_informers.TryGetValue(type, out var lazy) && lazy.IsValueCreated) lazy.Value.Wrote(obj);
    }

    internal void Deleted(ResourceType type, string? @namespace, string name)
    {
        if (_informers.TryGetValue(type, out var lazy) && lazy.IsValueCreated) lazy.Value.Deleted(@namespace, name);
    }

    /// <summary>
    /// Notes, until the returned scope is disposed, the key (<see cref="KeyOf"/>) of every object read in this async
    /// flow, found or not.
    /// </summary>
    public static ReadScope Track() => new();

    /// <summary>The key of an object as <see cref="Track"/> notes it.</summary>
    public static string KeyOf(ResourceType type, string? @namespace, string name) => $"{type.Plural}.{type.Group}/{@namespace}/{name}";

    private static void Note(ResourceType type, string? @namespace, string name) => Reads.Value?.Add(KeyOf(type, @namespace, name));

    /// <summary>Stops every informer without waiting for them.</summary>
    internal void Cancel()
    {
        if (!_disposed) _stop.Cancel();
    }

    private volatile bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var lazy in _informers.Values.Where(l => l.IsValueCreated)) await lazy.Value.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>The objects read while the scope is in effect.</summary>
    public sealed class ReadScope : IDisposable
    {
        private readonly HashSet<string>? _outer = Reads.Value;

        internal ReadScope() => Reads.Value = Keys;

        public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);

        public void Dispose() => Reads.Value = _outer;
    }
}
