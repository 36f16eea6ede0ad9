namespace Aviary.Metrics.Observers;

/// <summary>Open Service Mesh's metrics of the canary Deployment.</summary>
internal static class Osm
{
    public static ObserverQueries Queries { get; } = new(
        "osm",
        SuccessRate: """
            sum(
                rate(
                    osm_request_total{
                        destination_namespace="{{ namespace }}",
                        destination_kind="Deployment",
                        destination_name="{{ target }}",
                        response_code!~"5.*"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    osm_request_total{
                        destination_namespace="{{ namespace }}",
                        destination_kind="Deployment",
                        destination_name="{{ target }}"
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
                        osm_request_duration_ms_bucket{
                            destination_namespace="{{ namespace }}",
                            destination_kind="Deployment",
                            destination_name="{{ target }}"
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """);
}
