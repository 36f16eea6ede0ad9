using Aviary.Core.Policy;

namespace Aviary.Core.Abstractions;

/// <summary>Measures one metric of a canary: a built-in metric, an inline query or a MetricTemplate.</summary>
public interface IMetricProvider
{
    ValueTask<MetricSample> QueryAsync(CanaryPolicy canary, MetricCheck metric, CancellationToken cancellationToken);
}

public enum MetricSampleKind
{
    Value,
    NoData,
    Error,

    /// <summary>
    /// No data, and the source cannot tell yet: it started measuring after the metric's window began (a restarted
    /// controller's router). The check is skipped, not failed.
    /// </summary>
    Incomplete,
}

/// <summary>
/// A measured value (percent for success rate, milliseconds for duration), no data, or an error.
/// <see cref="Source"/> names where it came from (e.g. <c>builtin</c>, <c>linkerd</c>, <c>prometheus</c>) for events.
/// </summary>
public sealed record MetricSample(MetricSampleKind Kind, double Value, string? Message, string Source)
{
    public static MetricSample Of(double value, string source = "builtin") => new(MetricSampleKind.Value, value, null, source);

    public static MetricSample NoData(string message, string source = "builtin") => new(MetricSampleKind.NoData, double.NaN, message, source);

    public static MetricSample Failed(string message, string source = "builtin") => new(MetricSampleKind.Error, double.NaN, message, source);

    public static MetricSample Incomplete(string message, string source = "builtin") => new(MetricSampleKind.Incomplete, double.NaN, message, source);
}
