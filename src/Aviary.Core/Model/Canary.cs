using Aviary.Core.Abstractions;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;

namespace Aviary.Core.Model;

/// <summary>A Flagger <c>flagger.app/v1beta1</c> Canary, accepted verbatim.</summary>
public sealed record Canary : IManifest
{
    public const string KindName = "Canary";

    public string ApiVersion { get; init; } = FlaggerApi.Version;
    public string Kind { get; init; } = KindName;
    [Required] public ObjectMeta Metadata { get; init; } = new();
    [Required] public CanarySpec Spec { get; init; } = new();
    public CanaryStatus? Status { get; init; }

    /// <summary><c>name.namespace</c>, the way Flagger names a canary in events.</summary>
    [JsonIgnore] public string Id => $"{Metadata.Name}.{Metadata.EffectiveNamespace}";
}

public sealed record CanarySpec
{
    /// <summary>Traffic management provider (Flagger's names, plus Aviary's <c>haproxy</c> and <c>builtin</c>).</summary>
    [ProviderName]
    public string? Provider { get; init; }

    /// <summary>Prometheus URL for the built-in metrics of the mesh providers.</summary>
    public string? MetricsServer { get; init; }

    /// <summary>Seconds the canary or primary may take to become ready before a rollback; default 600.</summary>
    public double? ProgressDeadlineSeconds { get; init; }

    [Required] public TargetReference TargetRef { get; init; } = new();
    public AutoscalerReference? AutoscalerRef { get; init; }
    public IngressReference? IngressRef { get; init; }
    public RouteReference? RouteRef { get; init; }
    public UpstreamReference? UpstreamRef { get; init; }
    public CanaryService? Service { get; init; }

    [Required] public CanaryAnalysis? Analysis { get; init; }

    /// <summary>Deprecated spelling of <see cref="Analysis"/>; the loader moves it there.</summary>
    public CanaryAnalysis? CanaryAnalysis { get; init; }

    public bool? SkipAnalysis { get; init; }
    public bool? RevertOnDeletion { get; init; }
    public bool? Suspend { get; init; }
}

public sealed record TargetReference
{
    [Required] public string ApiVersion { get; init; } = "";
    [Required, AllowedValues("DaemonSet", "Deployment", "Service", "Workload")] public string Kind { get; init; } = "";
    [Required] public string Name { get; init; } = "";
}

public sealed record IngressReference
{
    [Required] public string ApiVersion { get; init; } = "";
    [Required, AllowedValues("Ingress")] public string Kind { get; init; } = "";
    [Required] public string Name { get; init; } = "";
}

public sealed record RouteReference
{
    [Required] public string ApiVersion { get; init; } = "";
    [Required, AllowedValues("ApisixRoute")] public string Kind { get; init; } = "";
    [Required] public string Name { get; init; } = "";
}

public sealed record UpstreamReference
{
    [Required] public string ApiVersion { get; init; } = "";
    [Required, AllowedValues("Upstream")] public string Kind { get; init; } = "";
    [Required] public string Name { get; init; } = "";
    public string? Namespace { get; init; }
}

public sealed record AutoscalerReference
{
    [Required] public string ApiVersion { get; init; } = "";
    [Required, AllowedValues("HorizontalPodAutoscaler", "ScaledObject")] public string Kind { get; init; } = "";
    [Required] public string Name { get; init; } = "";
    public IReadOnlyDictionary<string, string>? PrimaryScalerQueries { get; init; }
    public ScalerReplicas? PrimaryScalerReplicas { get; init; }
}

public sealed record ScalerReplicas
{
    [Range(1, int.MaxValue)] public int? MinReplicas { get; init; }
    [Range(1, int.MaxValue)] public int? MaxReplicas { get; init; }
}

/// <summary>The API group and version of Flagger's resources.</summary>
public static class FlaggerApi
{
    public const string Group = "flagger.app";
    public const string Version = "flagger.app/v1beta1";
}

/// <summary>A document Aviary reads: Canary, MetricTemplate, AlertProvider or Workload.</summary>
public interface IManifest
{
    string ApiVersion { get; }
    string Kind { get; }
    ObjectMeta Metadata { get; }
}
