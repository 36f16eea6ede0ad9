using System.ComponentModel.DataAnnotations;

namespace Aviary.Core.Model;

/// <summary>
/// Aviary's local workload (<c>aviary.dev/v1alpha1</c>): a process template that Aviary starts as the primary and
/// canary copies of a service, the way a Deployment's pod template is started by Kubernetes. A Canary's
/// <c>targetRef</c> names it with <c>kind: Workload</c>.
/// </summary>
public sealed record Workload : IManifest
{
    public const string KindName = "Workload";
    public const string ApiVersionName = "aviary.dev/v1alpha1";

    public string ApiVersion { get; init; } = ApiVersionName;
    public string Kind { get; init; } = KindName;
    [Required] public ObjectMeta Metadata { get; init; } = new();
    [Required] public WorkloadSpec Spec { get; init; } = new();
}

public sealed record WorkloadSpec
{
    /// <summary>Instances of each copy (primary, and canary while it is analysed); default 1.</summary>
    [Range(0, 64)] public int? Replicas { get; init; }

    /// <summary>What an instance runs. Its hash is the workload's revision.</summary>
    [Required] public ProcessTemplate Template { get; init; } = new();
}

/// <summary>
/// A process to start. <c>{port}</c> in the command, the args and env values is replaced by the port the
/// instance must listen on (also given as <c>AVIARY_PORT</c>); <c>{name}</c>, <c>{role}</c> (primary or canary)
/// and <c>{instance}</c> are replaced too.
/// </summary>
public sealed record ProcessTemplate
{
    [Required] public string Command { get; init; } = "";
    public IReadOnlyList<string>? Args { get; init; }
    public IReadOnlyList<EnvVar>? Env { get; init; }

    /// <summary>Working directory; relative paths are resolved from the manifest's folder. Default: that folder.</summary>
    public string? WorkingDir { get; init; }

    public Probe? ReadinessProbe { get; init; }

    /// <summary>Seconds between SIGTERM and SIGKILL when an instance stops; default 10.</summary>
    [Range(0, 3600)] public int? TerminationGracePeriodSeconds { get; init; }
}

public sealed record EnvVar
{
    [Required] public string Name { get; init; } = "";
    public string? Value { get; init; }
}

/// <summary>An HTTP readiness probe, as in Kubernetes: ready while GET answers 200–399.</summary>
public sealed record Probe
{
    [Required] public HttpGetAction HttpGet { get; init; } = new();
    [Range(0, 3600)] public int? InitialDelaySeconds { get; init; }

    /// <summary>Seconds between probes; default 1 (Kubernetes uses 10; local instances start in a second).</summary>
    [Range(1, 3600)] public int? PeriodSeconds { get; init; }

    /// <summary>Seconds before a probe times out; default 1.</summary>
    [Range(1, 3600)] public int? TimeoutSeconds { get; init; }

    /// <summary>Consecutive failures before a ready instance is taken out of the router; default 3.</summary>
    [Range(1, 100)] public int? FailureThreshold { get; init; }
}

public sealed record HttpGetAction
{
    /// <summary>Path to GET; default <c>/</c>.</summary>
    public string? Path { get; init; }

    [AllowedValues("HTTP", "http")] public string? Scheme { get; init; }
}
