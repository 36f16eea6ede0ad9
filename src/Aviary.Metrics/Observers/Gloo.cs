namespace Aviary.Metrics.Observers;

/// <summary>Gloo's Envoy cluster metrics of the canary upstream (any <c>gloo*</c> provider).</summary>
internal static class Gloo
{
    public static ObserverQueries Queries { get; } = new(
        "gloo",
        SuccessRate: """
            sum(
                rate(
                    envoy_cluster_upstream_rq{
                        envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",
                        envoy_response_code!~"5.*"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    envoy_cluster_upstream_rq{
                        envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",
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
                            envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """);
}
