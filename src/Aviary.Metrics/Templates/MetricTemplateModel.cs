using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Metrics.Providers;

namespace Aviary.Metrics.Templates;

/// <summary>
/// The values a query template can use, computed as Flagger computes them for a canary and a metric:
/// <c>service</c> is <c>spec.service.name</c> or the target's name, <c>ingress</c> is <c>spec.ingressRef.name</c> or the
/// target's name, <c>route</c> is <c>spec.routeRef.name</c> or the target's name, <c>interval</c> is the metric's
/// interval as written (default <c>1m</c>). For provider <c>knative</c>, <c>route</c> is the target Knative Service's
/// latest created revision, as Flagger sets it (<see cref="ForAsync"/>).
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

    /// <summary>The Knative Services, whose latest created revision is <c>{{ route }}</c> for provider <c>knative</c>.</summary>
    public static ClusterResource KnativeServices { get; } = new("serving.knative.dev/v1", "Service", "services");

    /// <summary>
    /// <see cref="For"/>, and for <paramref name="provider"/> <c>knative</c> (the canary's, or the runtime's default)
    /// <c>route</c> set to <c>status.latestCreatedRevisionName</c> of the target Knative Service read from
    /// <paramref name="cluster"/>, as Flagger does for every metric; an error when that Service cannot be read.
    /// </summary>
    public static async ValueTask<Outcome<MetricTemplateModel>> ForAsync(CanaryPolicy canary, MetricCheck metric, string provider, IClusterObjects? cluster,
        IReadOnlyDictionary<string, string>? runtimeVariables, CancellationToken cancellationToken)
    {
        var model = For(canary, metric, runtimeVariables);
        if (provider != Aviary.Core.Abstractions.Providers.Knative) return model;
        var id = $"{canary.Namespace}/{canary.TargetName}";
        if (cluster is null) return Outcome<MetricTemplateModel>.Fail($"provider knative: no cluster to read Knative Service {id} from");
        var service = await cluster.GetAsync(KnativeServices, canary.Namespace, canary.TargetName, cancellationToken).ConfigureAwait(false);
        if (!service.Succeeded) return Outcome<MetricTemplateModel>.Fail($"error fetching Knative Service {id}: {service.Error}");
        if (service.Value is null) return Outcome<MetricTemplateModel>.Fail($"error fetching Knative Service {id}: not found");
        var latest = service.Value["status"]?["latestCreatedRevisionName"] is JsonValue v && v.TryGetValue<string>(out var name) ? name : "";
        return model with { Route = latest };
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
