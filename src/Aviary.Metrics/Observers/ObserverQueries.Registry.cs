using Aviary.Core.Abstractions;

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
    /// <summary>Providers with built-in queries (prefix matches: <c>appmesh*</c>, <c>gloo*</c>, <c>gatewayapi*</c>).</summary>
    public static IReadOnlyList<string> Providers { get; } =
    [
        "apisix", "appmesh", "builtin", "contour", "gatewayapi", "gloo", "haproxy", "istio", "knative", "kubernetes", "kuma", "linkerd",
        "nginx", "osm", "skipper", "traefik",
    ];

    /// <summary>The queries of <paramref name="provider"/>, or an error naming it.</summary>
    public static Outcome<ObserverQueries> For(string provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        switch (provider)
        {
            case "linkerd": return Linkerd.Queries;
            case "builtin": return Linkerd.Queries with { Provider = "builtin" };
            case "istio": return Istio.Queries;
            case "nginx": return Nginx.Queries;
            case "contour": return Contour.Queries;
            case "kuma": return Kuma.Queries;
            case "haproxy": return HAProxy.Queries;
            case "apisix": return Apisix.Queries;
            case "knative": return Knative.Queries;
            case "osm": return Osm.Queries;
            case "skipper": return Skipper.Queries;
            case "traefik": return Traefik.Queries;
            case "kubernetes": return Http.Queries with { Provider = provider };
        }
        if (provider.StartsWith("gatewayapi", StringComparison.Ordinal)) return Http.Queries with { Provider = provider };
        if (provider.StartsWith("appmesh", StringComparison.Ordinal)) return AppMesh.Queries with { Provider = provider };
        if (provider.StartsWith("gloo", StringComparison.Ordinal)) return Gloo.Queries with { Provider = provider };
        if (provider.StartsWith("smi", StringComparison.Ordinal))
            return Outcome<ObserverQueries>.Fail(
                $"provider {provider} has no built-in metric queries (Flagger would use Istio's): use a MetricTemplate, or the mesh's provider name");
        return Outcome<ObserverQueries>.Fail(provider.Length == 0
            ? "no provider given for the built-in metrics"
            : $"unknown provider '{provider}' for the built-in metrics (known: {string.Join(", ", Providers)})");
    }
}
