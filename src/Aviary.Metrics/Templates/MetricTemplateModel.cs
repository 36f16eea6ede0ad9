using Aviary.Core.Policy;

namespace Aviary.Metrics.Templates;

/// <summary>
/// The values a query template can use, computed as Flagger computes them for a canary and a metric:
/// <c>service</c> is <c>spec.service.name</c> or the target's name, <c>ingress</c> is <c>spec.ingressRef.name</c> or the
/// target's name, <c>route</c> is <c>spec.routeRef.name</c> or the target's name, <c>interval</c> is the metric's
/// interval as written (default <c>1m</c>).
/// </summary>
public sealed record MetricTemplateModel
{
    public required string Name { get; init; }
    public required string Namespace { get; init; }
    public required string Target { get; init; }
    public required string Service { get; init; }
    public required string Ingress { get; init; }
    public required string Route { get; init; }
    public required string Interval { get; init; }

    /// <summary><c>{{ variables.X }}</c>: the metric's <c>templateVariables</c> over those the runtime adds.</summary>
    public IReadOnlyDictionary<string, string> Variables { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The model of <paramref name="metric"/> of <paramref name="canary"/>. <paramref name="runtimeVariables"/> are
    /// facts the runtime knows (e.g. HAProxy's backend name); a variable of the metric's <c>templateVariables</c>
    /// with the same name wins, as the user wrote it explicitly.
    /// </summary>
    public static MetricTemplateModel For(CanaryPolicy canary, MetricCheck metric, IReadOnlyDictionary<string, string>? runtimeVariables = null)
    {
        ArgumentNullException.ThrowIfNull(canary);
        ArgumentNullException.ThrowIfNull(metric);
        var spec = canary.Manifest.Spec;
        var target = canary.TargetName;
        IReadOnlyDictionary<string, string> variables = metric.Variables;
        if (runtimeVariables is { Count: > 0 })
        {
            var merged = new Dictionary<string, string>(runtimeVariables, StringComparer.Ordinal);
            foreach (var (key, value) in metric.Variables) merged[key] = value;
            variables = merged;
        }
        return new MetricTemplateModel
        {
            Name = canary.Name,
            Namespace = canary.Namespace,
            Target = target,
            Service = NonEmpty(spec.Service?.Name) ?? target,
            Ingress = NonEmpty(spec.IngressRef?.Name) ?? target,
            Route = NonEmpty(spec.RouteRef?.Name) ?? target,
            Interval = metric.IntervalText,
            Variables = variables,
        };
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
