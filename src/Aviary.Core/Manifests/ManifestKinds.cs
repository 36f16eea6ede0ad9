using System.Text.Json.Nodes;
using Aviary.Core.Model;
using Aviary.Core.Validation;

namespace Aviary.Core.Manifests;

/// <summary>A kind of document Aviary reads, its model type and its semantic validation.</summary>
/// <param name="ApiVersion">The document's <c>apiVersion</c>.</param>
/// <param name="Kind">The document's <c>kind</c>.</param>
/// <param name="ClrType">The model record bound from the document.</param>
/// <param name="Compile">Semantic checks; returns what the runtime uses (a <c>CanaryPolicy</c> for a Canary).</param>
/// <param name="Preprocess">Rewrites accepted legacy forms before the schema check (e.g. <c>canaryAnalysis</c>).</param>
public sealed record ManifestKind(
    string ApiVersion,
    string Kind,
    Type ClrType,
    Func<IManifest, DiagnosticBag, object?> Compile,
    Action<JsonObject, DiagnosticBag>? Preprocess = null);

/// <summary>The kinds Aviary reads.</summary>
public static class ManifestKinds
{
    public static IReadOnlyList<ManifestKind> All { get; } =
    [
        new(FlaggerApi.Version, Canary.KindName, typeof(Canary),
            (m, bag) => CanaryValidator.Validate((Canary)m, bag), PreprocessCanary),
        new(FlaggerApi.Version, MetricTemplate.KindName, typeof(MetricTemplate),
            (m, bag) => MetricTemplateValidator.Validate((MetricTemplate)m, bag)),
        new(FlaggerApi.Version, AlertProvider.KindName, typeof(AlertProvider),
            (m, bag) => AlertProviderValidator.Validate((AlertProvider)m, bag)),
        new(Workload.ApiVersionName, Workload.KindName, typeof(Workload),
            (m, bag) => WorkloadValidator.Validate((Workload)m, bag)),
    ];

    /// <summary>API groups whose documents Aviary owns; documents of other groups are skipped with a warning.</summary>
    public static IReadOnlyList<string> Groups { get; } = [FlaggerApi.Group, "aviary.dev"];

    private static void PreprocessCanary(JsonObject root, DiagnosticBag bag)
    {
        if (root["spec"] is not JsonObject spec || !spec.ContainsKey("canaryAnalysis")) return;
        if (spec["analysis"] is null)
        {
            var legacy = spec["canaryAnalysis"];
            spec.Remove("canaryAnalysis");
            spec["analysis"] = legacy;
            bag.Warning("spec.canaryAnalysis", "deprecated, read as spec.analysis");
        }
        else
        {
            spec.Remove("canaryAnalysis");
            bag.Warning("spec.canaryAnalysis", "deprecated and ignored: spec.analysis is set");
        }
    }
}
