using Aviary.Core.Abstractions;
using TrafficProviders = Aviary.Core.Abstractions.Providers;

namespace Aviary.Metrics.Observers;

/// <summary>
/// The registry: chooses the built-in metric queries by traffic provider (<c>spec.provider</c>), as Flagger's observer factory
/// does: one file per provider in this folder. <c>builtin</c> (Aviary's router, which exports Linkerd's
/// <c>response_total</c> and <c>response_latency_ms</c>) uses Linkerd's queries; <c>kubernetes</c> and
/// <c>gatewayapi:*</c> use Flagger's generic "http" queries. An unknown provider is an error naming it — Flagger
/// silently falls back to Istio's queries, which then find no data.
/// </summary>
public sealed partial record ObserverQueries
{
    /// <summary>The providers (of <see cref="Core.Abstractions.Providers.All"/>) that have built-in queries.</summary>
    public static IReadOnlyList<string> Queried => [.. TrafficProviders.All.Where(p => For(p).Succeeded)];

    /// <summary>The queries of <paramref name="provider"/>, or an error naming it.</summary>
    public static Outcome<ObserverQueries> For(string provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        switch (provider)
        {
            case TrafficProviders.Linkerd: return Linkerd.Queries;
            case TrafficProviders.Builtin: return Linkerd.Queries with { Provider = TrafficProviders.Builtin };
            case TrafficProviders.Istio: return Istio.Queries;
            case TrafficProviders.Nginx: return Nginx.Queries;
            case TrafficProviders.Contour: return Contour.Queries;
            case TrafficProviders.Kuma: return Kuma.Queries;
            case TrafficProviders.HAProxy: return HAProxy.Queries;
            case TrafficProviders.Apisix: return Apisix.Queries;
            case TrafficProviders.Knative: return Knative.Queries;
            case TrafficProviders.Osm: return Osm.Queries;
            case TrafficProviders.Skipper: return Skipper.Queries;
            case TrafficProviders.Traefik: return Traefik.Queries;
            case TrafficProviders.Kubernetes: return Http.Queries with { Provider = provider };
        }
        if (provider.StartsWith("gatewayapi", StringComparison.Ordinal)) return Http.Queries with { Provider = provider };
        if (Aviary.Core.Abstractions.Providers.Retired(provider) is { } retired) return Outcome<ObserverQueries>.Fail($"provider {provider}: {retired}");
        if (provider.StartsWith("gloo", StringComparison.Ordinal)) return Gloo.Queries with { Provider = provider };
        if (provider.StartsWith("smi", StringComparison.Ordinal))
            return Outcome<ObserverQueries>.Fail(
                $"provider {provider} has no built-in metric queries (Flagger would use Istio's): use a MetricTemplate, or the mesh's provider name");
        return Outcome<ObserverQueries>.Fail(provider.Length == 0
            ? "no provider given for the built-in metrics"
            : $"unknown provider '{provider}' for the built-in metrics (known: {string.Join(", ", Queried)})");
    }
}
