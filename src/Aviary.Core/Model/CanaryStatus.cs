using System.ComponentModel.DataAnnotations;

namespace Aviary.Core.Model;

/// <summary>Flagger's canary phases.</summary>
public static class CanaryPhase
{
    public const string Initializing = "Initializing";
    public const string Initialized = "Initialized";
    public const string Waiting = "Waiting";
    public const string Progressing = "Progressing";
    public const string WaitingPromotion = "WaitingPromotion";
    public const string Promoting = "Promoting";
    public const string Finalising = "Finalising";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
    public const string Terminating = "Terminating";
    public const string Terminated = "Terminated";

    public static readonly IReadOnlyList<string> All =
        [Initializing, Initialized, Waiting, Progressing, WaitingPromotion, Promoting, Finalising, Succeeded, Failed, Terminating, Terminated];

    /// <summary>Phases in which a rollout is under way.</summary>
    public static bool IsActive(string? phase) =>
        phase is Progressing or Waiting or WaitingPromotion or Promoting or Finalising;
}

/// <summary>The observed state of a canary; field-compatible with Flagger's status subresource.</summary>
public sealed record CanaryStatus
{
    [AllowedValues("", CanaryPhase.Initializing, CanaryPhase.Initialized, CanaryPhase.Waiting, CanaryPhase.Progressing,
        CanaryPhase.WaitingPromotion, CanaryPhase.Promoting, CanaryPhase.Finalising, CanaryPhase.Succeeded, CanaryPhase.Failed,
        CanaryPhase.Terminating, CanaryPhase.Terminated)]
    public string? Phase { get; init; }

    public int FailedChecks { get; init; }
    public int CanaryWeight { get; init; }
    public int Iterations { get; init; }
    public IReadOnlyDictionary<string, string>? TrackedConfigs { get; init; }

    /// <summary>Revision (template hash) last seen and analysed.</summary>
    public string? LastAppliedSpec { get; init; }

    /// <summary>Revision the primary runs.</summary>
    public string? LastPromotedSpec { get; init; }
    public DateTimeOffset? LastTransitionTime { get; init; }
    public string? SessionAffinityCookie { get; init; }
    public string? PrimarySessionAffinityCookie { get; init; }
    public string? PreviousSessionAffinityCookie { get; init; }
    public IReadOnlyList<CanaryCondition>? Conditions { get; init; }

    /// <summary>Aviary extension: the statistical judge's evidence so far (with <c>analysis.judge</c>).</summary>
    public Analysis.JudgeState? Judge { get; init; }

    public static CanaryStatus Empty { get; } = new();
}

/// <summary>A status condition; Aviary, like Flagger, maintains one of type <c>Promoted</c>.</summary>
public sealed record CanaryCondition
{
    [Required] public string Type { get; init; } = "";
    [Required] public string Status { get; init; } = "";
    [Required] public string Reason { get; init; } = "";
    public string? Message { get; init; }
    public DateTimeOffset? LastUpdateTime { get; init; }
    public DateTimeOffset? LastTransitionTime { get; init; }
}
