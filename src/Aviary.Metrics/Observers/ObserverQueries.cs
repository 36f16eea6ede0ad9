using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Metrics.Templates;

namespace Aviary.Metrics.Observers;

/// <summary>
/// The PromQL of Flagger's built-in metrics for one traffic provider: <c>request-success-rate</c> (percent of
/// non-5xx responses of the canary) and <c>request-duration</c> (the canary's latency, usually p99). Both are query
/// templates rendered with <see cref="QueryTemplate"/>; <see cref="DurationToMilliseconds"/> turns the duration
/// query's unit into milliseconds (1 when it already answers in milliseconds).
/// </summary>
/// <param name="Provider">The provider the queries are for, e.g. <c>linkerd</c> (the <see cref="MetricSample.Source"/>).</param>
public sealed partial record ObserverQueries(string Provider, string SuccessRate, string Duration, double DurationToMilliseconds = 1)
{
    /// <summary>The query template of a built-in metric, or null for any other metric.</summary>
    public string? QueryFor(string metricName) => metricName switch
    {
        MetricCheck.RequestSuccessRate => SuccessRate,
        MetricCheck.RequestDuration => Duration,
        _ => null,
    };

    /// <summary>Changes the model before rendering (Skipper writes names with <c>_</c> for non-word characters); none by default.</summary>
    public Func<MetricTemplateModel, MetricTemplateModel>? PrepareModel { get; init; }

    /// <summary>The query of a built-in metric rendered for <paramref name="model"/>, or a render error.</summary>
    public Outcome<string> Render(string metricName, MetricTemplateModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (QueryFor(metricName) is not { } query) return Outcome<string>.Fail($"{metricName} is not a built-in metric");
        return QueryTemplate.Render(query, PrepareModel is null ? model : PrepareModel(model));
    }

    /// <summary>The factor applied to the answer of <paramref name="metricName"/>'s query.</summary>
    public double ScaleFor(string metricName) => metricName == MetricCheck.RequestDuration ? DurationToMilliseconds : 1;
}
