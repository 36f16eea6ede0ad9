using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// The operations on one resource (<see cref="Type"/>), with objects as <typeparamref name="T"/>: a typed model or
/// <see cref="JsonObject"/>. Get it from <see cref="KubeClient.Resource{T}(ResourceType)"/>. Namespaces are given per
/// call (null: all namespaces for list/watch, or a cluster-scoped resource); writes take the name and namespace from
/// the object's metadata. Every result is a <see cref="KubeResult{T}"/>: NotFound, Conflict, AlreadyExists,
/// Forbidden and an unreachable server are data, not exceptions.
/// </summary>
public sealed class ResourceClient<T>
    where T : class
{
    internal ResourceClient(KubeClient client, ResourceType type)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(type);
        Client = client;
        Type = type;
    }

    public KubeClient Client { get; }

    public ResourceType Type { get; }

    /// <summary>GET one object.</summary>
    /// <remarks>With <see cref="KubeClient.Cache"/> enabled, answered from the informer of the type once it has synced.</remarks>
    public Task<KubeResult<T>> GetAsync(string? @namespace, string name, CancellationToken cancellationToken = default)
    {
        if (Client.Cache is { } cache && cache.TryGet(Type, @namespace, name, out var cached))
        {
            return Task.FromResult(cached is null
                ? KubeResult<T>.Fail(new KubeError(404, KubeErrorReason.NotFound, $"{Type.Plural}{(Type.Group.Length > 0 ? "." + Type.Group : "")} \"{name}\" not found"))
                : Read(cached));
        }
        return GetFreshAsync(@namespace, name, cancellationToken);
    }

    /// <summary>GET one object from the API server, never from the cache.</summary>
    public Task<KubeResult<T>> GetFreshAsync(string? @namespace, string name, CancellationToken cancellationToken = default) =>
        ObjectAsync(HttpMethod.Get, Type.ObjectPath(@namespace, name), null, null, cancellationToken);

    private KubeResult<T> Read(JsonObject node)
    {
        try
        {
            return KubeResult<T>.Ok(KubeJson.FromObject<T>(node));
        }
        catch (JsonException e)
        {
            return KubeResult<T>.Fail(KubeError.Client(KubeErrorReason.ClientError, $"cannot read the {Type.Kind} as {typeof(T).Name}: {e.Message}"));
        }
    }

    /// <summary>GET one page of a list (or everything, without <see cref="ListOptions.Limit"/>).</summary>
    /// <remarks>Without options and with <see cref="KubeClient.Cache"/> enabled, answered from the informer of the type once it has synced.</remarks>
    public async Task<KubeResult<KubeList<T>>> ListAsync(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (options is null && Client.Cache?.TryList(Type, @namespace) is { } cached)
            return KubeResult<KubeList<T>>.Ok(new KubeList<T> { ApiVersion = Type.ApiVersion, Kind = Type.Kind + "List", Metadata = new ListMeta(), Items = [.. cached.Select(KubeJson.FromObject<T>)] });
        var query = new QueryBuilder();
        options?.AppendTo(query);
        var result = await Client.SendAsync(HttpMethod.Get, Type.CollectionPath(@namespace) + query, null, "application/json", cancellationToken)
            .ConfigureAwait(false);
        if (!result.Succeeded) return KubeResult<KubeList<T>>.Fail(result.Error!);
        try
        {
            var node = result.Value as JsonObject ?? throw new JsonException("the answer is not a JSON object");
            var items = new List<T>();
            if (node["items"] is JsonArray array)
            {
                foreach (var item in array)
                {
                    if (item is JsonObject o) items.Add(KubeJson.FromObject<T>(o));
                }
            }
            var metadata = node["metadata"]?.Deserialize<ListMeta>(KubeJson.Options) ?? new ListMeta();
            return KubeResult<KubeList<T>>.Ok(new KubeList<T>
            {
                ApiVersion = node["apiVersion"]?.GetValue<string>(),
                Kind = node["kind"]?.GetValue<string>(),
                Metadata = metadata,
                Items = items,
            });
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return KubeResult<KubeList<T>>.Fail(KubeError.Client(KubeErrorReason.ClientError, $"cannot read the list of {Type}: {e.Message}"));
        }
    }

    /// <summary>
    /// Lists everything by pages of <see cref="KubeClientOptions.ListPageSize"/> (or <see cref="ListOptions.Limit"/>),
    /// following continue tokens; the result's resourceVersion is the first page's (all pages are one snapshot).
    /// When a continue token expires (410), the list starts again without paging.
    /// </summary>
    public async Task<KubeResult<KubeList<T>>> ListAllAsync(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var first = (options ?? new ListOptions()) with { Continue = null };
        if (first.Limit is null) first = first with { Limit = Client.Options.ListPageSize };
        var page = first;
        var items = new List<T>();
        KubeList<T>? head = null;
        while (true)
        {
            var result = await ListAsync(@namespace, page, cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                if (result.Error!.Reason == KubeErrorReason.Expired && page.Continue is not null)
                    return await ListAsync(@namespace, first with { Limit = null }, cancellationToken).ConfigureAwait(false);
                return result;
            }
            var list = result.Value;
            head ??= list;
            items.AddRange(list.Items);
            if (string.IsNullOrEmpty(list.Metadata.Continue))
                return KubeResult<KubeList<T>>.Ok(head with { Items = items, Metadata = head.Metadata with { Continue = null, RemainingItemCount = null } });
            page = first with { Continue = list.Metadata.Continue, ResourceVersion = null, ResourceVersionMatch = null };
        }
    }

    /// <summary>POST a new object; its namespace is <c>metadata.namespace</c>. AlreadyExists when the name is taken.</summary>
    public Task<KubeResult<T>> CreateAsync(T value, CancellationToken cancellationToken = default)
    {
        var node = KubeJson.ToObject(value);
        var ns = RequireNamespace(node, "create");
        var query = new QueryBuilder().Add("fieldManager", Client.Options.FieldManager);
        return ObjectAsync(HttpMethod.Post, Type.CollectionPath(ns) + query, node.ToJsonString(KubeJson.Options), "application/json", cancellationToken);
    }

    /// <summary>
    /// PUT the whole object. With <c>metadata.resourceVersion</c> set (as read), a concurrent change makes it
    /// Conflict; see <see cref="UpdateWithRetryAsync"/>. The status is ignored by resources with a status subresource.
    /// </summary>
    public Task<KubeResult<T>> UpdateAsync(T value, CancellationToken cancellationToken = default) => PutAsync(value, null, cancellationToken);

    /// <summary>PUT the status subresource (only the status of the object is taken; resourceVersion as in <see cref="UpdateAsync"/>).</summary>
    public Task<KubeResult<T>> UpdateStatusAsync(T value, CancellationToken cancellationToken = default) => PutAsync(value, "status", cancellationToken);

    /// <summary>GET the status subresource (the whole object, as the server returns it).</summary>
    public Task<KubeResult<T>> GetStatusAsync(string? @namespace, string name, CancellationToken cancellationToken = default) =>
        ObjectAsync(HttpMethod.Get, Type.ObjectPath(@namespace, name, "status"), null, null, cancellationToken);

    /// <summary>PATCH the object (merge, strategic merge, JSON patch or server-side apply).</summary>
    public Task<KubeResult<T>> PatchAsync(string? @namespace, string name, KubePatch patch, CancellationToken cancellationToken = default) =>
        SendPatchAsync(@namespace, name, patch, null, cancellationToken);

    /// <summary>PATCH the status subresource.</summary>
    public Task<KubeResult<T>> PatchStatusAsync(string? @namespace, string name, KubePatch patch, CancellationToken cancellationToken = default) =>
        SendPatchAsync(@namespace, name, patch, "status", cancellationToken);

    /// <summary>
    /// DELETE one object. The value is what the server answered: the object when it still exists for a while
    /// (finalizers, foreground deletion), else a Status. NotFound when it is already gone.
    /// </summary>
    public async Task<KubeResult<JsonObject>> DeleteAsync(string? @namespace, string name, DeleteOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var result = await Client.SendAsync(HttpMethod.Delete, Type.ObjectPath(@namespace, name), (options ?? new DeleteOptions()).ToJson(),
            "application/json", cancellationToken).ConfigureAwait(false);
        var answer = KubeClient.AsObject(result);
        if (answer.Succeeded && answer.Value["kind"]?.GetValue<string>() == Type.Kind) Client.Cache?.Wrote(Type, answer.Value);
        else if (answer.Succeeded || answer.IsNotFound) Client.Cache?.Deleted(Type, @namespace, name);
        return answer;
    }

    /// <summary>
    /// Read, change, write, and on 409 Conflict read again and re-apply <paramref name="mutate"/> (with backoff, at
    /// most <see cref="KubeClientOptions.ConflictRetry"/> attempts): no concurrent change is lost. <paramref name="mutate"/>
    /// gets the current object and returns the object to write, or null when nothing needs to change (the current
    /// object is returned without a write). It may run several times, so it must not have side effects.
    /// </summary>
    public Task<KubeResult<T>> UpdateWithRetryAsync(string? @namespace, string name, Func<T, T?> mutate, CancellationToken cancellationToken = default) =>
        RetryAsync(@namespace, name, mutate, status: false, cancellationToken);

    /// <summary><see cref="UpdateWithRetryAsync"/> for the status subresource.</summary>
    public Task<KubeResult<T>> UpdateStatusWithRetryAsync(string? @namespace, string name, Func<T, T?> mutate, CancellationToken cancellationToken = default) =>
        RetryAsync(@namespace, name, mutate, status: true, cancellationToken);

    /// <summary>
    /// Writes <paramref name="change"/> (a merge patch of the status, e.g. <see cref="KubePatch.ModelChange"/>) to the
    /// status subresource with optimistic concurrency: the patch carries <paramref name="resourceVersion"/>, the
    /// version the change was computed from; on 409 Conflict the same change is sent again onto the current version
    /// (it names only the fields this writer changes, so a concurrent writer's other fields survive, and a writer
    /// that edits faster than a read and a write take cannot make the status write fail). No request when <paramref name="change"/> is null; NotFound when the object is gone.
    /// </summary>
    public async Task<KubeResult<T>?> PatchStatusWithRetryAsync(string? @namespace, string name, string? resourceVersion, JsonObject? change,
        CancellationToken cancellationToken = default)
    {
        if (change is null) return null;
        var retry = Client.Options.ConflictRetry;
        for (var attempt = 1; ; attempt++)
        {
            var patch = new JsonObject { ["status"] = change.DeepClone() };
            if (!string.IsNullOrEmpty(resourceVersion)) patch["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion };
            var written = await PatchStatusAsync(@namespace, name, KubePatch.Merge(patch), cancellationToken).ConfigureAwait(false);
            if (!written.IsConflict || attempt >= retry.MaxAttempts) return written;
            var delay = retry.Delay(attempt, Client.Options.Random);
            KubeClientLog.ConflictRetry(Client.Logger, Type.ToString(), @namespace, name, attempt, delay);
            await Task.Delay(delay, Client.Time, cancellationToken).ConfigureAwait(false);
            // The object changed since the change was computed. The change names only this writer's fields, so it is
            // sent again onto whatever version is current (the server applies a merge patch atomically): a writer that
            // edits the object faster than a read and a write take can never starve it, and others' fields survive.
            resourceVersion = null;
        }
    }

    /// <summary>
    /// One watch connection: events until the server ends it (its timeout, or an ERROR event such as 410 Expired)
    /// or the connection drops. A failure to start is one Error event. Use <see cref="WatchAllAsync"/> for a watch
    /// that lists, resumes and re-lists by itself.
    /// </summary>
    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync(string? @namespace, WatchOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new WatchOptions();
        var (path, deadline) = WatchPath(@namespace, options.LabelSelector, options.FieldSelector, options.ResourceVersion, options.AllowBookmarks,
            options.Timeout);
        var (stream, error) = await WatchStream.OpenAsync(Client, path, deadline, cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            yield return new WatchEvent<T>(WatchEventType.Error, null, options.ResourceVersion, error);
            yield break;
        }
        using (stream)
        {
            while (true)
            {
                var next = await stream.NextAsync(cancellationToken).ConfigureAwait(false);
                if (next is null) yield break;
                var converted = Convert(next);
                yield return converted;
                if (converted.Type == WatchEventType.Error) yield break;
            }
        }
    }

    /// <summary>
    /// Every change, for as long as the caller enumerates, as an informer sees it: a list (paged), a Synced event,
    /// then a watch from the list's version; when a watch ends it resumes from the last version seen (bookmarks
    /// included); on 410 Gone it lists again and reports the difference from what it had reported (Added, Modified,
    /// Deleted) followed by Synced, so the caller's view stays exact. Other failures are reported as Error events and
    /// retried with backoff (<see cref="KubeClientOptions.WatchBackoff"/>). Ends only by cancellation.
    /// </summary>
    public async IAsyncEnumerable<WatchEvent<T>> WatchAllAsync(string? @namespace, WatchAllOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new WatchAllOptions();
        var known = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var version = options.ResourceVersion;
        var needList = string.IsNullOrEmpty(version);
        var failures = 0;
        var where = @namespace ?? "all namespaces";
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (needList)
            {
                var list = await Client.Resource(Type).ListAllAsync(@namespace,
                    new ListOptions { LabelSelector = options.LabelSelector, FieldSelector = options.FieldSelector }, cancellationToken).ConfigureAwait(false);
                if (!list.Succeeded)
                {
                    yield return new WatchEvent<T>(WatchEventType.Error, null, version, list.Error);
                    await BackoffAsync(++failures, list.Error!, where, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                version = list.Value.Metadata.ResourceVersion ?? "";
                KubeClientLog.Listed(Client.Logger, list.Value.Items.Count, Type.ToString(), where, version);
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var item in list.Value.Items)
                {
                    var key = Key(item);
                    seen.Add(key);
                    var type = !known.TryGetValue(key, out var before) ? WatchEventType.Added
                        : KubeJson.ResourceVersion(before) != KubeJson.ResourceVersion(item) ? WatchEventType.Modified
                        : (WatchEventType?)null;
                    known[key] = item;
                    if (type is { } t) yield return Convert(new RawEvent(t, item, KubeJson.ResourceVersion(item), null));
                }
                foreach (var gone in known.Keys.Where(k => !seen.Contains(k)).ToList())
                {
                    var last = known[gone];
                    known.Remove(gone);
                    yield return Convert(new RawEvent(WatchEventType.Deleted, last, version, null));
                }
                yield return new WatchEvent<T>(WatchEventType.Synced, null, version);
                needList = false;
            }

            var (path, deadline) = WatchPath(@namespace, options.LabelSelector, options.FieldSelector, version, allowBookmarks: true, options.WatchTimeout);
            var (stream, error) = await WatchStream.OpenAsync(Client, path, deadline, cancellationToken).ConfigureAwait(false);
            if (stream is null)
            {
                if (error!.Reason == KubeErrorReason.Expired)
                {
                    KubeClientLog.WatchExpired(Client.Logger, Type.ToString(), where, version ?? "");
                    needList = true;
                    continue;
                }
                yield return new WatchEvent<T>(WatchEventType.Error, null, version, error);
                await BackoffAsync(++failures, error, where, cancellationToken).ConfigureAwait(false);
                continue;
            }
            KubeError? failure = null;
            using (stream)
            {
                while (true)
                {
                    var next = await stream.NextAsync(cancellationToken).ConfigureAwait(false);
                    if (next is null)
                    {
                        failure = stream.Failure;
                        break;
                    }
                    if (next.Type == WatchEventType.Error)
                    {
                        if (next.Error!.Reason == KubeErrorReason.Expired)
                        {
                            KubeClientLog.WatchExpired(Client.Logger, Type.ToString(), where, version ?? "");
                            needList = true;
                        }
                        else
                        {
                            failure = next.Error;
                        }
                        break;
                    }
                    failures = 0;
                    if (next.ResourceVersion is { Length: > 0 } rv) version = rv;
                    if (next.Type == WatchEventType.Bookmark || next.Object is null) continue;
                    var key = Key(next.Object);
                    if (next.Type == WatchEventType.Deleted) known.Remove(key);
                    else known[key] = next.Object;
                    yield return Convert(next);
                }
            }
            if (failure is not null)
            {
                yield return new WatchEvent<T>(WatchEventType.Error, null, version, failure);
                await BackoffAsync(++failures, failure, where, cancellationToken).ConfigureAwait(false);
            }
            else if (!needList)
            {
                KubeClientLog.WatchResumed(Client.Logger, Type.ToString(), where, version ?? "");
            }
        }
    }

    private async Task BackoffAsync(int failures, KubeError error, string where, CancellationToken cancellationToken)
    {
        var delay = Client.Options.WatchBackoff.Delay(failures, Client.Options.Random);
        KubeClientLog.WatchFailed(Client.Logger, Type.ToString(), where, error.ToString(), delay);
        await Task.Delay(delay, Client.Time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The watch URL, and when the client stops waiting for the server to end it (its timeout plus 30 s).</summary>
    private (string Path, TimeSpan Deadline) WatchPath(string? @namespace, string? labelSelector, string? fieldSelector, string? resourceVersion,
        bool allowBookmarks, TimeSpan? timeout)
    {
        var seconds = timeout is { } t
            ? Math.Max(1, (long)Math.Ceiling(t.TotalSeconds))
            : (long)(Client.Options.WatchTimeout.TotalSeconds * (1 + Client.Options.Random.NextDouble()));
        var query = new QueryBuilder()
            .Add("watch", "true")
            .Add("labelSelector", labelSelector)
            .Add("fieldSelector", fieldSelector)
            .Add("resourceVersion", resourceVersion)
            .Add("allowWatchBookmarks", allowBookmarks ? "true" : null)
            .Add("timeoutSeconds", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return (Type.CollectionPath(@namespace) + query, TimeSpan.FromSeconds(seconds + 30));
    }

    private WatchEvent<T> Convert(RawEvent raw)
    {
        if (raw.Object is null) return new WatchEvent<T>(raw.Type, null, raw.ResourceVersion, raw.Error);
        try
        {
            return new WatchEvent<T>(raw.Type, KubeJson.FromObject<T>(raw.Object), raw.ResourceVersion, raw.Error);
        }
        catch (JsonException) when (raw.Type == WatchEventType.Bookmark)
        {
            return new WatchEvent<T>(raw.Type, null, raw.ResourceVersion);
        }
        catch (JsonException e)
        {
            return new WatchEvent<T>(WatchEventType.Error, null, raw.ResourceVersion,
                KubeError.Client(KubeErrorReason.ClientError, $"cannot read a {Type.Kind} of the watch as {typeof(T).Name}: {e.Message}"));
        }
    }

    private static string Key(JsonObject node) => (KubeJson.Namespace(node) ?? "") + "/" + KubeJson.Name(node);

    private async Task<KubeResult<T>> RetryAsync(string? @namespace, string name, Func<T, T?> mutate, bool status, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mutate);
        var retry = Client.Options.ConflictRetry;
        for (var attempt = 1; ; attempt++)
        {
            // The first read may come from the cache; after a conflict the cache may be behind, so read the server.
            var current = attempt == 1 ? await GetAsync(@namespace, name, cancellationToken).ConfigureAwait(false)
                : status ? await GetStatusAsync(@namespace, name, cancellationToken).ConfigureAwait(false)
                : await GetFreshAsync(@namespace, name, cancellationToken).ConfigureAwait(false);
            if (!current.Succeeded) return current;
            var changed = mutate(current.Value);
            if (changed is null) return current;
            var written = status
                ? await UpdateStatusAsync(changed, cancellationToken).ConfigureAwait(false)
                : await UpdateAsync(changed, cancellationToken).ConfigureAwait(false);
            if (!written.IsConflict || attempt >= retry.MaxAttempts) return written;
            var delay = retry.Delay(attempt, Client.Options.Random);
            KubeClientLog.ConflictRetry(Client.Logger, Type.ToString(), @namespace, name, attempt, delay);
            await Task.Delay(delay, Client.Time, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<KubeResult<T>> PutAsync(T value, string? subresource, CancellationToken cancellationToken)
    {
        var node = KubeJson.ToObject(value);
        var name = KubeJson.Name(node);
        if (string.IsNullOrEmpty(name)) throw new ArgumentException($"the {Type.Kind} to update has no metadata.name", nameof(value));
        var ns = RequireNamespace(node, "update");
        var query = new QueryBuilder().Add("fieldManager", Client.Options.FieldManager);
        return ObjectAsync(HttpMethod.Put, Type.ObjectPath(ns, name, subresource) + query, node.ToJsonString(KubeJson.Options), "application/json",
            cancellationToken);
    }

    private Task<KubeResult<T>> SendPatchAsync(string? @namespace, string name, KubePatch patch, string? subresource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(patch);
        var query = new QueryBuilder().Add("fieldManager", Client.Options.FieldManager).Add("force", patch.Force ? "true" : null);
        return ObjectAsync(HttpMethod.Patch, Type.ObjectPath(@namespace, name, subresource) + query, patch.Body, patch.ContentType, cancellationToken);
    }

    private string? RequireNamespace(JsonObject node, string verb)
    {
        var ns = KubeJson.Namespace(node);
        if (Type.Namespaced && string.IsNullOrEmpty(ns))
            throw new ArgumentException($"the {Type.Kind} to {verb} has no metadata.namespace", nameof(node));
        return Type.Namespaced ? ns : null;
    }

    private async Task<KubeResult<T>> ObjectAsync(HttpMethod method, string path, string? body, string? contentType, CancellationToken cancellationToken)
    {
        var result = await Client.SendAsync(method, path, body, contentType ?? "application/json", cancellationToken).ConfigureAwait(false);
        var node = KubeClient.AsObject(result);
        if (!node.Succeeded) return KubeResult<T>.Fail(node.Error!);
        if (method != HttpMethod.Get) Client.Cache?.Wrote(Type, node.Value);
        try
        {
            return KubeResult<T>.Ok(KubeJson.FromObject<T>(node.Value));
        }
        catch (JsonException e)
        {
            return KubeResult<T>.Fail(KubeError.Client(KubeErrorReason.ClientError, $"cannot read the {Type.Kind} as {typeof(T).Name}: {e.Message}"));
        }
    }

    public override string ToString() => $"{Type} as {typeof(T).Name}";
}
