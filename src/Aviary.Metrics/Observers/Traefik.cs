namespace Aviary.Metrics.Observers;

/// <summary>Traefik's service metrics of the canary service; the histogram is in seconds, the query multiplies by 1000.</summary>
internal static class Traefik
{
    public static ObserverQueries Queries { get; } = new(
        "traefik",
        SuccessRate: """
            sum(
                rate(
                    traefik_service_request_duration_seconds_bucket{
                        service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd",
                        code!~"5..",
                        le="+Inf"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    traefik_service_request_duration_seconds_bucket{
                        service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd",
                        le="+Inf"
                    }[{{ interval }}]
                )
            ) * 100
            """,
        Duration: """
            histogram_quantile(
                0.99,
                sum(
                    rate(
                        traefik_service_request_duration_seconds_bucket{
                            service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"
                        }[{{ interval }}]
                    )
                ) by (le)
            ) * 1000
            """);
}
