namespace Aviary.Metrics.Observers;

/// <summary>
/// Knative's Envoy metrics of the canary revision. Flagger sets <c>{{ route }}</c> to the Knative service's latest
/// created revision; the Kubernetes runtime must do the same (a runtime variable cannot, since route is a field).
/// </summary>
internal static class Knative
{
    public static ObserverQueries Queries { get; } = new(
        "knative",
        SuccessRate: """
            sum(
                rate(
                    envoy_cluster_upstream_rq{
                        envoy_cluster_name=~"{{ namespace }}/{{ route }}",
                        envoy_response_code!~"5.*"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    envoy_cluster_upstream_rq{
                        envoy_cluster_name=~"{{ namespace }}/{{ route }}",
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
                            envoy_cluster_name=~"{{ namespace }}/{{ route }}",
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """);
}
