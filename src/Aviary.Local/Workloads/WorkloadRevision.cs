using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.Core.Primitives;
using Aviary.Core.Model;

namespace Aviary.Local.Workloads;

/// <summary>The revision of a workload: a hash of its process template (replicas excluded, as for a pod template).</summary>
public static class WorkloadRevision
{
    /// <summary>
    /// The first 10 digits of <see cref="Hashing.Sha256"/>: revisions are stored in state files and instance ids with
    /// this length, and a longer one would make every running canary see a "new" revision after an upgrade.
    /// </summary>
    public static string Of(ProcessTemplate template) => Hashing.Sha256(Serialize(template))[..10];

    public static string Serialize(ProcessTemplate template) => JsonSerializer.Serialize(template, ModelJson.Options);

    public static ProcessTemplate? Deserialize(string json) => JsonSerializer.Deserialize<ProcessTemplate>(json, ModelJson.Options);
}
