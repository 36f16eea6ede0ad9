using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// Maps an object's apiVersion and kind to its resource: the built-in <see cref="KubeResources"/> table first, then
/// discovery of the group version (<c>/api/v1</c> or <c>/apis/{group}/{version}</c>), cached per client. A group
/// version that does not exist (yet: a CRD just installed) is asked again on the next call.
/// </summary>
public sealed class ResourceCatalog
{
    private readonly KubeClient _client;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, IReadOnlyList<ResourceType>> _discovered = new(StringComparer.Ordinal);

    internal ResourceCatalog(KubeClient client, ILogger logger)
    {
        _client = client;
        _logger = logger;
    }

    /// <summary>The resource of <paramref name="kind"/> in <paramref name="apiVersion"/>; NotFound when the server has none.</summary>
    public async ValueTask<KubeResult<ResourceType>> ResolveAsync(string apiVersion, string kind, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(apiVersion);
        ArgumentException.ThrowIfNullOrEmpty(kind);
        if (KubeResources.Find(apiVersion, kind) is { } known) return KubeResult<ResourceType>.Ok(known);
        var resources = await DiscoverAsync(apiVersion, cancellationToken).ConfigureAwait(false);
        if (!resources.Succeeded) return resources.Cast<ResourceType>();
        foreach (var r in resources.Value)
        {
            if (r.Kind == kind)
            {
                KubeClientLog.Discovered(_logger, kind, apiVersion, r.Plural);
                return KubeResult<ResourceType>.Ok(r);
            }
        }
        return KubeResult<ResourceType>.Fail(new KubeError(404, KubeErrorReason.NotFound, $"the server has no kind {kind} in {apiVersion}"));
    }

    /// <summary>The resource of an object (its <c>apiVersion</c> and <c>kind</c>).</summary>
    public ValueTask<KubeResult<ResourceType>> ResolveAsync(JsonObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var apiVersion = value["apiVersion"]?.GetValue<string>();
        var kind = value["kind"]?.GetValue<string>();
        if (string.IsNullOrEmpty(apiVersion) || string.IsNullOrEmpty(kind))
            throw new ArgumentException("the object has no apiVersion or kind", nameof(value));
        return ResolveAsync(apiVersion, kind, cancellationToken);
    }

    /// <summary>The resources of one group version (subresources left out), from discovery.</summary>
    public async Task<KubeResult<IReadOnlyList<ResourceType>>> DiscoverAsync(string apiVersion, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(apiVersion);
        if (_discovered.TryGetValue(apiVersion, out var cached)) return KubeResult<IReadOnlyList<ResourceType>>.Ok(cached);
        var slash = apiVersion.IndexOf('/', StringComparison.Ordinal);
        var (group, version) = slash < 0 ? ("", apiVersion) : (apiVersion[..slash], apiVersion[(slash + 1)..]);
        var path = group.Length == 0 ? "/api/" + version : $"/apis/{group}/{version}";
        var answer = KubeClient.AsObject(await _client.SendAsync(HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false));
        if (!answer.Succeeded) return answer.Cast<IReadOnlyList<ResourceType>>();
        var list = new List<ResourceType>();
        if (answer.Value["resources"] is JsonArray resources)
        {
            foreach (var node in resources.OfType<JsonObject>())
            {
                var name = node["name"]?.GetValue<string>();
                var kind = node["kind"]?.GetValue<string>();
                if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(kind) || name.Contains('/', StringComparison.Ordinal)) continue;
                list.Add(new ResourceType(group, version, kind, name, node["namespaced"]?.GetValue<bool>() ?? true));
            }
        }
        _discovered[apiVersion] = list;
        return KubeResult<IReadOnlyList<ResourceType>>.Ok(list);
    }

    /// <summary>Every group version the server serves (<c>v1</c> and those of <c>/apis</c>).</summary>
    public async Task<KubeResult<IReadOnlyList<string>>> GroupVersionsAsync(CancellationToken cancellationToken = default)
    {
        var answer = KubeClient.AsObject(await _client.SendAsync(HttpMethod.Get, "/apis", null, cancellationToken).ConfigureAwait(false));
        if (!answer.Succeeded) return answer.Cast<IReadOnlyList<string>>();
        var result = new List<string> { "v1" };
        if (answer.Value["groups"] is JsonArray groups)
        {
            foreach (var g in groups.OfType<JsonObject>())
            {
                if (g["versions"] is not JsonArray versions) continue;
                foreach (var v in versions.OfType<JsonObject>())
                    if (v["groupVersion"]?.GetValue<string>() is { Length: > 0 } gv) result.Add(gv);
            }
        }
        return KubeResult<IReadOnlyList<string>>.Ok(result);
    }
}
