namespace Aviary.Core.Scheduling;

/// <summary>One check of one analysis tick, with its value: the analysis history.</summary>
/// <param name="Kind"><c>metric</c>, <c>webhook</c> or <c>judge</c>.</param>
/// <param name="Value">The measured value (percent, milliseconds, or the query's unit); the HTTP status for a webhook.</param>
public sealed record AnalysisCheck(
    DateTimeOffset Time,
    string Kind,
    string Name,
    double? Value,
    double? Min,
    double? Max,
    CheckResult Result,
    string? Message)
{
    /// <summary>Named numbers behind the check (the judge's estimates per arm, bounds and evidence), for people and metrics.</summary>
    public IReadOnlyDictionary<string, double>? Details { get; init; }
}
