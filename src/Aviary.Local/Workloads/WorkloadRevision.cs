using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.Core.Model;

namespace Aviary.Local.Workloads;

/// <summary>The revision of a workload: a hash of its process template (replicas excluded, as for a pod template).</summary>
public static class WorkloadRevision
{
    public static string Of(ProcessTemplate template) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Serialize(template))), 0, 5).ToLowerInvariant();

    public static string Serialize(ProcessTemplate template) => JsonSerializer.Serialize(template, ModelJson.Options);

    public static ProcessTemplate? Deserialize(string json) => JsonSerializer.Deserialize<ProcessTemplate>(json, ModelJson.Options);
}
