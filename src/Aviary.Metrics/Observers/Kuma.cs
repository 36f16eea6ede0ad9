namespace Aviary.Metrics.Observers;

/// <summary>Kuma's Envoy cluster metrics of the canary service.</summary>
internal static class Kuma
{
    public static ObserverQueries Queries { get; } = new(
        "kuma",
        SuccessRate: """
            sum(
                rate(
                    envoy_cluster_upstream_rq{
                        service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+",
                        envoy_response_code!~"5.*"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    envoy_cluster_upstream_rq{
                        service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+",
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
                            service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+",
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """);
}
