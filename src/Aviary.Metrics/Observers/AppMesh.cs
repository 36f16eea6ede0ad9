namespace Aviary.Metrics.Observers;

/// <summary>App Mesh's Envoy metrics of the canary's pods (any <c>appmesh*</c> provider).</summary>
internal static class AppMesh
{
    public static ObserverQueries Queries { get; } = new(
        "appmesh",
        SuccessRate: """
            sum(
                rate(
                    envoy_cluster_upstream_rq{
                        kubernetes_namespace="{{ namespace }}",
                        kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",
                        envoy_response_code!~"5.*"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    envoy_cluster_upstream_rq{
                        kubernetes_namespace="{{ namespace }}",
                        kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
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
                            kubernetes_namespace="{{ namespace }}",
                            kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """);
}
