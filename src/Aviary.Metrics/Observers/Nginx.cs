namespace Aviary.Metrics.Observers;

/// <summary>The NGINX ingress controller's metrics of the canary ingress; the duration is a mean, not a quantile.</summary>
internal static class Nginx
{
    public static ObserverQueries Queries { get; } = new(
        "nginx",
        SuccessRate: """
            sum(
                rate(
                    nginx_ingress_controller_requests{
                        namespace="{{ namespace }}",
                        ingress="{{ ingress }}",
                        canary!="",
                        status!~"5.*"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    nginx_ingress_controller_requests{
                        namespace="{{ namespace }}",
                        ingress="{{ ingress }}",
                        canary!=""
                    }[{{ interval }}]
                )
            )
            * 100
            """,
        Duration: """
            sum(
                rate(
                    nginx_ingress_controller_response_duration_seconds_sum{
                        namespace="{{ namespace }}",
                        ingress="{{ ingress }}",
                        canary!=""
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    nginx_ingress_controller_response_duration_seconds_count{
                        namespace="{{ namespace }}",
                        ingress="{{ ingress }}",
                        canary!=""
                    }[{{ interval }}]
                )
            )
            * 1000
            """);
}
