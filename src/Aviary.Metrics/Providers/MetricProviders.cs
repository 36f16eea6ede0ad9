using System.Collections.Frozen;
using Aviary.Core.Abstractions;

namespace Aviary.Metrics.Providers;

/// <summary>
/// Builds the provider of a MetricTemplate by <c>spec.provider.type</c>. Adding one (Datadog, CloudWatch, …) is one
/// file with a <c>Create(MetricProviderContext)</c> and one line in <see cref="Factories"/>. A type that is not
/// implemented is an error naming it — never Flagger's silent fallback to Prometheus.
/// </summary>
public static class MetricProviders
{
    private static readonly FrozenDictionary<string, Func<MetricProviderContext, Outcome<IMetricQueryProvider>>> Factories =
        new Dictionary<string, Func<MetricProviderContext, Outcome<IMetricQueryProvider>>>(StringComparer.Ordinal)
        {
            [PrometheusProvider.TypeName] = PrometheusProvider.Create,
            [DatadogProvider.TypeName] = DatadogProvider.Create,
            [NewRelicProvider.TypeName] = NewRelicProvider.Create,
            [DynatraceProvider.TypeName] = DynatraceProvider.Create,
            [InfluxDbProvider.TypeName] = InfluxDbProvider.Create,
            [CloudWatchProvider.TypeName] = CloudWatchProvider.Create,
            [GraphiteProvider.TypeName] = GraphiteProvider.Create,
            [StackdriverProvider.TypeName] = StackdriverProvider.Create,
            [SplunkProvider.TypeName] = SplunkProvider.Create,
            [KeptnProvider.TypeName] = KeptnProvider.Create,
        }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Flagger's provider types (the MetricTemplate schema's enum).</summary>
    public static IReadOnlyList<string> FlaggerTypes { get; } =
        ["prometheus", "influxdb", "datadog", "externalmetrics", "stackdriver", "cloudwatch", "newrelic", "graphite", "dynatrace", "keptn", "splunk"];

    /// <summary>The types Aviary implements.</summary>
    public static IReadOnlyList<string> Implemented { get; } = [.. Factories.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The provider of <paramref name="context"/>'s type, or an error naming the type.</summary>
    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var type = context.Spec.Type;
        if (Factories.TryGetValue(type, out var create)) return create(context);
        var implemented = string.Join(", ", Implemented);
        return Outcome<IMetricQueryProvider>.Fail(FlaggerTypes.Contains(type, StringComparer.Ordinal)
            ? $"metric provider type '{type}' is not implemented by Aviary yet (implemented: {implemented})"
            : $"unknown metric provider type '{type}' (implemented: {implemented})");
    }
}
