namespace Aviary.Core.Analysis;

/// <summary>
/// What a statistical judge carries from one tick to the next (persisted in the canary's status, so a restarted
/// controller continues the same test): the counters last read, and per metric the accumulated evidence.
/// </summary>
public sealed record JudgeState
{
    /// <summary>The revision this evidence is about; evidence about another revision is discarded.</summary>
    public string? Revision { get; init; }

    /// <summary>The cumulative counts read at the last tick (the next tick judges only what came since).</summary>
    public Abstractions.ArmCounts? Last { get; init; }

    /// <summary>Per metric (<c>request-success-rate</c>, <c>request-duration</c>), the judge's own numbers.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>? Metrics { get; init; }
}
