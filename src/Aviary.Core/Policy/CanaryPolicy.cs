using Aviary.Core.Model;

namespace Aviary.Core.Policy;

public enum DeploymentStrategy
{
    Canary,
    BlueGreen,
    ABTesting,
}

/// <summary>When a webhook runs (Flagger's hook types).</summary>
public enum WebhookType
{
    Rollout,
    PreRollout,
    ConfirmRollout,
    ConfirmTrafficIncrease,
    ConfirmPromotion,
    PostRollout,
    Rollback,
    Event,
}

public enum AlertSeverity
{
    Info,
    Warn,
    Error,
}

/// <summary>What a metric check does when its query returns no data (Aviary's <c>onNoData</c>).</summary>
public enum NoDataPolicy
{
    /// <summary>Counts as a failed check (Flagger's behaviour, the default).</summary>
    Fail,

    /// <summary>Neither passes nor fails: the tick holds its step without counting a failure.</summary>
    Skip,

    /// <summary>Counts as a pass.</summary>
    Pass,
}

/// <summary>
/// A validated Canary with every default applied: what the scheduler runs. Built only by
/// <see cref="Validation.CanaryValidator"/>, so every value here is known to be in range.
/// </summary>
public sealed record CanaryPolicy
{
    public required Canary Manifest { get; init; }
    public required string Name { get; init; }
    public required string Namespace { get; init; }

    /// <summary>The target workload's name (Deployment, DaemonSet or Aviary Workload).</summary>
    public required string TargetName { get; init; }
    public required string TargetKind { get; init; }

    /// <summary>Traffic provider; empty means the runtime's default.</summary>
    public required string Provider { get; init; }

    /// <summary>What <see cref="Provider"/>'s router can do.</summary>
    public Abstractions.RouterCapabilities Capabilities => Abstractions.RouterCapabilities.Of(Provider);

    /// <summary>Apex service name: <c>spec.service.name</c> or the target's name.</summary>
    public required string ServiceName { get; init; }
    public required int? ServicePort { get; init; }

    public required TimeSpan Interval { get; init; }
    public required int Threshold { get; init; }
    public required int MaxWeight { get; init; }
    public required int StepWeight { get; init; }
    public required IReadOnlyList<int> StepWeights { get; init; }
    public required int StepWeightPromotion { get; init; }
    public required int Iterations { get; init; }
    public required bool Mirror { get; init; }
    public required int MirrorWeight { get; init; }
    public required IReadOnlyList<AnalysisMatch> Match { get; init; }
    public required TimeSpan ProgressDeadline { get; init; }
    public required int PrimaryReadyThreshold { get; init; }
    public required int CanaryReadyThreshold { get; init; }
    public required IReadOnlyList<MetricCheck> Metrics { get; init; }
    public required IReadOnlyList<WebhookCheck> Webhooks { get; init; }
    public required IReadOnlyList<AlertRoute> Alerts { get; init; }
    public required SessionAffinity? SessionAffinity { get; init; }
    public required bool SkipAnalysis { get; init; }
    public required bool Suspend { get; init; }
    public required bool RevertOnDeletion { get; init; }

    /// <summary>The statistical judge (<c>analysis.judge</c>), or null for Flagger's threshold analysis.</summary>
    public Analysis.JudgeSettings? Judge { get; init; }

    /// <summary><c>name.namespace</c>, as Flagger names a canary in events.</summary>
    public string Id => $"{Name}.{Namespace}";

    /// <summary><c>target.namespace</c>.</summary>
    public string TargetId => $"{TargetName}.{Namespace}";

    public string PrimaryName => $"{TargetName}-primary";

    public DeploymentStrategy Strategy =>
        Iterations > 0 && Match.Count > 0 ? DeploymentStrategy.ABTesting
        : Iterations > 0 ? DeploymentStrategy.BlueGreen
        : DeploymentStrategy.Canary;

    /// <summary>Largest canary weight: the last of <see cref="StepWeights"/>, else <see cref="MaxWeight"/>.</summary>
    public int EffectiveMaxWeight => StepWeights.Count > 0 ? Math.Min(100, StepWeights[^1]) : MaxWeight;

    public IEnumerable<WebhookCheck> HooksOf(WebhookType type) => Webhooks.Where(w => w.Type == type);
}

/// <summary>A resolved metric check.</summary>
public sealed record MetricCheck
{
    public const string RequestSuccessRate = "request-success-rate";
    public const string RequestDuration = "request-duration";

    public required string Name { get; init; }

    /// <summary>Query window as written (e.g. <c>1m</c>), for <c>{{ interval }}</c>.</summary>
    public required string IntervalText { get; init; }
    public required TimeSpan Interval { get; init; }
    public required double? Min { get; init; }
    public required double? Max { get; init; }
    public string? Query { get; init; }
    public NamedReference? TemplateRef { get; init; }
    public IReadOnlyDictionary<string, string> Variables { get; init; } = new Dictionary<string, string>();
    public NoDataPolicy OnNoData { get; init; } = NoDataPolicy.Fail;

    /// <summary>A built-in metric (success rate or duration) measured by the provider or router.</summary>
    public bool IsBuiltin => TemplateRef is null && Query is null && Name is RequestSuccessRate or RequestDuration;
}

/// <summary>A resolved webhook.</summary>
public sealed record WebhookCheck
{
    public required string Name { get; init; }
    public required WebhookType Type { get; init; }
    public required Uri Url { get; init; }
    public required TimeSpan Timeout { get; init; }
    public int Retries { get; init; }
    public bool MuteAlert { get; init; }
    public bool DisableTls { get; init; }
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}

/// <summary>An alert target of <c>analysis.alerts</c>; an empty severity means info.</summary>
public sealed record AlertRoute(string Name, AlertSeverity Severity, NamedReference ProviderRef);
