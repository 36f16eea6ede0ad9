using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;

namespace Aviary.Metrics.Providers;

/// <summary>A resource of the cluster's API by its group version, kind and plural (e.g. <c>metrics.keptn.sh/v1beta1</c>, <c>KeptnMetric</c>, <c>keptnmetrics</c>).</summary>
public sealed record ClusterResource(string ApiVersion, string Kind, string Plural);

/// <summary>
/// The cluster's objects, for metric providers whose data lives there (Keptn's KeptnMetric and Analysis). The Kubernetes
/// runtime supplies it over its API client; the local runtime has none.
/// </summary>
public interface IClusterObjects
{
    /// <summary>The object, or a null value when it does not exist.</summary>
    ValueTask<Outcome<JsonObject?>> GetAsync(ClusterResource resource, string @namespace, string name, CancellationToken cancellationToken);

    /// <summary>Creates the object; the created object as the server answered.</summary>
    ValueTask<Outcome<JsonObject>> CreateAsync(ClusterResource resource, string @namespace, JsonObject value, CancellationToken cancellationToken);

    /// <summary>Deletes the object; a missing one is fine.</summary>
    ValueTask<Outcome> DeleteAsync(ClusterResource resource, string @namespace, string name, CancellationToken cancellationToken);
}
