using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Client;
using Aviary.Metrics.Providers;

namespace Aviary.Kubernetes.Operator;

/// <summary>The cluster's objects for metric providers (Keptn), over the operator's API client.</summary>
internal sealed class KubeClusterObjects(KubeClient client) : IClusterObjects
{
    private ResourceClient<JsonObject> Resource(ClusterResource r)
    {
        var slash = r.ApiVersion.IndexOf('/', StringComparison.Ordinal);
        var (group, version) = slash < 0 ? ("", r.ApiVersion) : (r.ApiVersion[..slash], r.ApiVersion[(slash + 1)..]);
        return client.Resource(new ResourceType(group, version, r.Kind, r.Plural));
    }

    public async ValueTask<Outcome<JsonObject?>> GetAsync(ClusterResource resource, string @namespace, string name, CancellationToken cancellationToken)
    {
        var got = await Resource(resource).GetAsync(@namespace, name, cancellationToken).ConfigureAwait(false);
        if (got.IsNotFound) return Outcome<JsonObject?>.Ok(null);
        return got.Succeeded ? Outcome<JsonObject?>.Ok(got.Value) : Outcome<JsonObject?>.Fail(got.Error!.Message);
    }

    public async ValueTask<Outcome<JsonObject>> CreateAsync(ClusterResource resource, string @namespace, JsonObject value, CancellationToken cancellationToken)
    {
        var created = await Resource(resource).CreateAsync(value, cancellationToken).ConfigureAwait(false);
        return created.Succeeded ? Outcome<JsonObject>.Ok(created.Value!) : Outcome<JsonObject>.Fail(created.Error!.Message);
    }

    public async ValueTask<Outcome> DeleteAsync(ClusterResource resource, string @namespace, string name, CancellationToken cancellationToken)
    {
        var deleted = await Resource(resource).DeleteAsync(@namespace, name, null, cancellationToken).ConfigureAwait(false);
        return deleted.Succeeded || deleted.IsNotFound ? Outcome.Ok : Outcome.Fail(deleted.Error!.Message);
    }
}
