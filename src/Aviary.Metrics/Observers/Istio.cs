namespace Aviary.Metrics.Observers;

/// <summary>Istio's standard metrics, reported by the destination workload's sidecar.</summary>
internal static class Istio
{
    public static ObserverQueries Queries { get; } = new(
        "istio",
        SuccessRate: """
            sum(
                rate(
                    istio_requests_total{
                        reporter="destination",
                        destination_workload_namespace="{{ namespace }}",
                        destination_workload=~"{{ target }}",
                        response_code!~"5.*"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    istio_requests_total{
                        reporter="destination",
                        destination_workload_namespace="{{ namespace }}",
                        destination_workload=~"{{ target }}"
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
                        istio_request_duration_milliseconds_bucket{
                            reporter="destination",
                            destination_workload_namespace="{{ namespace }}",
                            destination_workload=~"{{ target }}"
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """);
}
