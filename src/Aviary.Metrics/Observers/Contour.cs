namespace Aviary.Metrics.Observers;

/// <summary>Contour's Envoy cluster metrics of the canary service.</summary>
internal static class Contour
{
    public static ObserverQueries Queries { get; } = new(
        "contour",
        SuccessRate: """
            sum(
                rate(
                    envoy_cluster_upstream_rq{
                        envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+",
                        envoy_response_code!~"5.*"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    envoy_cluster_upstream_rq{
                        envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+",
                    }[{{ interval }}]
                )
            )
            * 100
            """,
        Duration: """
            histogram_quantile(
                0.99,
                sum(
                    rate(
                        envoy_cluster_upstream_rq_time_bucket{
                            envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+",
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """);
}
