using System.ComponentModel.DataAnnotations;
using IntOrStringValue = Aviary.Core.Primitives.IntOrString;

namespace Aviary.Core.Model;

/// <summary>Flagger's <c>spec.analysis</c>: how traffic moves and what is checked at each step.</summary>
public sealed record CanaryAnalysis
{
    /// <summary>Schedule interval, a duration such as <c>30s</c> or <c>1m</c>; default 60s, at least 1s.</summary>
    public string? Interval { get; init; }

    /// <summary>Failed checks before a rollback; values of 0 or less mean 1.</summary>
    public int? Threshold { get; init; }

    /// <summary>Blue/green and A/B testing: number of analysis iterations before promotion.</summary>
    public int? Iterations { get; init; }

    /// <summary>Largest canary weight in percent; default 100.</summary>
    public int? MaxWeight { get; init; }

    /// <summary>Canary weight increment per successful tick, in percent.</summary>
    public int? StepWeight { get; init; }

    /// <summary>Explicit canary weights, in percent, in increasing order.</summary>
    public IReadOnlyList<int>? StepWeights { get; init; }

    /// <summary>Primary weight increment per tick after promotion; 0 moves all traffic at once.</summary>
    public int? StepWeightPromotion { get; init; }

    public bool? Mirror { get; init; }
    public int? MirrorWeight { get; init; }

    /// <summary>Percent of primary replicas that must be available; default 100.</summary>
    public int? PrimaryReadyThreshold { get; init; }

    /// <summary>Percent of canary replicas that must be available; default 100.</summary>
    public int? CanaryReadyThreshold { get; init; }

    public IReadOnlyList<AnalysisMatch>? Match { get; init; }
    public IReadOnlyList<CanaryMetric>? Metrics { get; init; }
    public IReadOnlyList<CanaryWebhook>? Webhooks { get; init; }
    public IReadOnlyList<CanaryAlert>? Alerts { get; init; }
    public SessionAffinity? SessionAffinity { get; init; }

    /// <summary>
    /// Aviary extension: judge the canary against the primary statistically instead of with Flagger's fixed thresholds.
    /// Absent, Flagger's behaviour is unchanged.
    /// </summary>
    public JudgeSpec? Judge { get; init; }
}

/// <summary><c>analysis.judge</c>: an anytime-valid comparison of the canary with the primary over the same traffic.</summary>
public sealed record JudgeSpec
{
    [Required, AllowedValues("sequential")] public string Type { get; init; } = "";

    /// <summary>Non-inferiority margin of the error rate, in percentage points; default 0.5.</summary>
    public double? MaxErrorRateIncrease { get; init; }

    /// <summary>Margin of the share of requests slower than <see cref="LatencyThreshold"/>, in percentage points (<c>10</c> or <c>10%</c>); default 10.</summary>
    public IntOrStringValue? MaxLatencyIncrease { get; init; }

    /// <summary>What counts as a slow request, a duration such as <c>500ms</c>; default: request-duration's max.</summary>
    public string? LatencyThreshold { get; init; }

    /// <summary>Bound on the chance of rolling back a canary that is not worse, over the whole rollout; default 0.01.</summary>
    public double? FalseRollbackRate { get; init; }

    /// <summary>Promote as soon as the canary is shown not worse than the primary; default false.</summary>
    public bool? PromoteEarly { get; init; }

    /// <summary>Fewest canary requests in a tick for the tick to count; default 10.</summary>
    public int? MinRequests { get; init; }

    /// <summary>
    /// How often the judge also looks between analysis ticks, a duration shorter than <c>analysis.interval</c> such as
    /// <c>10s</c>: a look rolls the canary back as soon as it is shown worse, and otherwise changes nothing. The test is
    /// anytime-valid, so extra looks do not raise false rollbacks. Default: the judge looks at the analysis ticks only.
    /// </summary>
    public string? LookInterval { get; init; }
}

/// <summary>An A/B testing match: headers, query parameters or source labels.</summary>
public sealed record AnalysisMatch
{
    public IReadOnlyDictionary<string, HeaderMatch>? Headers { get; init; }
    public IReadOnlyDictionary<string, StringMatch>? QueryParams { get; init; }
    public IReadOnlyDictionary<string, string>? SourceLabels { get; init; }
}

/// <summary>Header match of <c>analysis.match</c>: exactly one of exact, prefix, suffix or regex.</summary>
public sealed record HeaderMatch
{
    public string? Exact { get; init; }
    public string? Prefix { get; init; }
    public string? Suffix { get; init; }
    public string? Regex { get; init; }
}

public sealed record CanaryMetric
{
    [Required] public string Name { get; init; } = "";

    /// <summary>Query window, a duration such as <c>1m</c>; default 1m.</summary>
    public string? Interval { get; init; }

    /// <summary>Deprecated; read as <see cref="ThresholdRange"/>.</summary>
    public double? Threshold { get; init; }
    public ThresholdRange? ThresholdRange { get; init; }
    public string? Query { get; init; }
    public NamedReference? TemplateRef { get; init; }
    public IReadOnlyDictionary<string, string>? TemplateVariables { get; init; }

    /// <summary>Aviary extension: what "no data" means for this check; default fail, as in Flagger.</summary>
    [AllowedValues("fail", "skip", "pass")] public string? OnNoData { get; init; }
}

public sealed record ThresholdRange
{
    public double? Min { get; init; }
    public double? Max { get; init; }
}

public sealed record CanaryWebhook
{
    [Required] public string Name { get; init; } = "";

    /// <summary>When the hook runs; empty means <c>rollout</c>.</summary>
    [AllowedValues("", "confirm-rollout", "pre-rollout", "rollout", "confirm-promotion", "post-rollout", "event", "rollback",
        "confirm-traffic-increase")]
    public string? Type { get; init; }

    [Required] public string Url { get; init; } = "";
    public bool? MuteAlert { get; init; }

    /// <summary>Request timeout; default 10s.</summary>
    public string? Timeout { get; init; }
    public int? Retries { get; init; }
    public bool? DisableTLS { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

public sealed record CanaryAlert
{
    [Required] public string Name { get; init; } = "";
    [AllowedValues("", "info", "warn", "error")] public string? Severity { get; init; }
    [Required] public NamedReference? ProviderRef { get; init; }
}

public sealed record SessionAffinity
{
    [Required] public string CookieName { get; init; } = "";
    public string? PrimaryCookieName { get; init; }
    public string? Domain { get; init; }
    public bool? HttpOnly { get; init; }
    public double? MaxAge { get; init; }
    public bool? Partitioned { get; init; }
    public string? Path { get; init; }
    [AllowedValues("Strict", "Lax", "None")] public string? SameSite { get; init; }
    public bool? Secure { get; init; }
}
