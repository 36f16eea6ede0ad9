using System.Text.Json.Nodes;

namespace Aviary.Core.Simulation;

/// <summary>
/// A rehearsal of a rollout for <c>aviary simulate</c>: when the workload changes, what the metrics and
/// webhooks answer, and when the copies are ready. Lists are per call (metrics: per analysis tick that
/// queries them; webhooks: per call); the last value repeats.
/// </summary>
public sealed record Scenario
{
    /// <summary>Upper bound of simulated ticks; default 100.</summary>
    public int? Ticks { get; init; }

    /// <summary>Ticks at which the workload gets a new revision; default [1].</summary>
    public IReadOnlyList<int>? Revisions { get; init; }

    /// <summary>Metric name to values per analysis tick (numbers, or null for no data).</summary>
    public IReadOnlyDictionary<string, JsonArray>? Metrics { get; init; }

    /// <summary>Webhook name to HTTP status per call.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>>? Webhooks { get; init; }

    /// <summary>Readiness per tick of the canary and the primary.</summary>
    public ScenarioReadiness? Ready { get; init; }

    public static Scenario Default { get; } = new();
}

public sealed record ScenarioReadiness
{
    public IReadOnlyList<bool>? Canary { get; init; }
    public IReadOnlyList<bool>? Primary { get; init; }
}
