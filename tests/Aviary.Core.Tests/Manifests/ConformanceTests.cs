using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.TestKit;

namespace Aviary.Core.Tests.Manifests;

/// <summary>
/// Aviary must agree with a real Kubernetes API server (with Flagger's CRD) on every manifest taken from
/// Flagger's repository: 97 accepted, 23 rejected, with the same missing or invalid fields named.
/// </summary>
public sealed class ConformanceTests
{
    public sealed record Entry(string File, string Kind, string ApiVersion, bool Accepted, string? KubernetesError);

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var e in Index()) data.Add(e.File);
        return data;
    }

    private static List<Entry> Index()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Conformance, "index.json")));
        return doc.RootElement.EnumerateArray().Select(e => new Entry(
            e.GetProperty("file").GetString()!,
            e.GetProperty("kind").GetString()!,
            e.GetProperty("apiVersion").GetString()!,
            e.GetProperty("acceptedByKubernetesWithFlaggerCrd").GetBoolean(),
            e.TryGetProperty("kubernetesError", out var err) ? err.GetString() : null)).ToList();
    }

    [Fact]
    public void Index_HasTheExpectedVerdicts()
    {
        var index = Index();
        Assert.Equal(120, index.Count);
        Assert.Equal(97, index.Count(e => e.Accepted));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Read_ConformanceManifest_AgreesWithKubernetes(string file)
    {
        var entry = Index().Single(e => e.File == file);
        var result = ManifestReader.Read(File.ReadAllText(Path.Combine(RepoPaths.Conformance, file)), file);
        var errors = result.Documents.SelectMany(d => d.Diagnostics).Where(d => d.IsError).Select(d => d.ToString()).ToList();
        if (result.SyntaxError is not null) errors.Add(result.SyntaxError.ToString());

        if (entry.Accepted)
        {
            Assert.True(result.IsValid, $"{file} is accepted by Kubernetes but Aviary says: {string.Join("; ", errors)}");
            return;
        }

        Assert.False(result.IsValid, $"{file} is rejected by Kubernetes ({entry.KubernetesError}) but Aviary accepts it");
        var k8s = entry.KubernetesError ?? "";
        foreach (var field in MissingFields(k8s))
            Assert.Contains(errors, e => e.StartsWith(field + ": required field is missing", StringComparison.Ordinal));
        if (entry.ApiVersion.Contains("v1alpha", StringComparison.Ordinal))
            Assert.Contains(errors, e => e.Contains(entry.ApiVersion, StringComparison.Ordinal));
        if (k8s.Contains("oneOf", StringComparison.Ordinal))
            Assert.Contains(errors, e => e.StartsWith("spec: set exactly one of address or secretRef", StringComparison.Ordinal));
    }

    /// <summary>Turns <c>ValidationError(Canary.spec.service): missing required field "port"</c> into <c>spec.service.port</c>.</summary>
    private static IEnumerable<string> MissingFields(string error)
    {
        var matches = System.Text.RegularExpressions.Regex.Matches(error, "ValidationError\\((\\w+)\\.([\\w.]+)\\): missing required field \"(\\w+)\"");
        return matches.Select(m => $"{m.Groups[2].Value}.{m.Groups[3].Value}").Distinct();
    }
}
