namespace Aviary.Metrics.Observers;

/// <summary>Apache APISIX's metrics of the canary route (<c>{{ route }}</c> is <c>spec.routeRef.name</c>).</summary>
internal static class Apisix
{
    public static ObserverQueries Queries { get; } = new(
        "apisix",
        SuccessRate: """
            sum(
                rate(
                    apisix_http_status{
                        route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+",
                        code!~"5.."
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    apisix_http_status{
                        route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"
                    }[{{ interval }}]
                )
            ) * 100
            """,
        Duration: """
            histogram_quantile(
                0.99,
                sum(
                    rate(
                        apisix_http_latency_bucket{
                            type=~"request",
                            route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """);
}
