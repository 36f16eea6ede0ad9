using Aviary.Core.Abstractions;

namespace Aviary.Metrics;

public enum QueryResultKind
{
    Value,
    NoData,
    Error,
}

/// <summary>
/// The answer of one query: a value, no data (an empty result or NaN, e.g. a ratio of two rates without traffic),
/// or an error with a message for the events. Expected failures (unreachable server, bad query, several series)
/// are errors here, never exceptions.
/// </summary>
public readonly record struct QueryResult(QueryResultKind Kind, double Value, string? Message)
{
    public static QueryResult Of(double value) => new(QueryResultKind.Value, value, null);

    public static QueryResult NoData(string message) => new(QueryResultKind.NoData, double.NaN, message);

    public static QueryResult Failed(string message) => new(QueryResultKind.Error, double.NaN, message);

    public bool HasValue => Kind == QueryResultKind.Value;

    /// <summary>The same answer as a metric sample, with <paramref name="scale"/> applied to a value and
    /// <paramref name="prefix"/> (e.g. <c>metric template x.ns: </c>) put before a message.</summary>
    public MetricSample ToSample(string source, double scale = 1, string prefix = "") => Kind switch
    {
        QueryResultKind.Value => MetricSample.Of(Value * scale, source),
        QueryResultKind.NoData => MetricSample.NoData(prefix + Message, source),
        _ => MetricSample.Failed(prefix + Message, source),
    };

    public override string ToString() => Kind == QueryResultKind.Value
        ? Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)
        : $"{Kind}: {Message}";
}
