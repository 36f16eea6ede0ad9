namespace Aviary.Metrics.Observers;

/// <summary>
/// Flagger's generic "http" queries, for <c>kubernetes</c> and <c>gatewayapi:*</c>: the application's own
/// <c>http_request_duration_seconds</c> histogram of the canary's pods. It answers in seconds, hence the factor 1000.
/// </summary>
internal static class Http
{
    public static ObserverQueries Queries { get; } = new(
        "kubernetes",
        SuccessRate: """
            sum(
                rate(
                    http_request_duration_seconds_count{
                        kubernetes_namespace="{{ namespace }}",
                        kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",
                        status!~"5.*"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    http_request_duration_seconds_count{
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
                        http_request_duration_seconds_bucket{
                            kubernetes_namespace="{{ namespace }}",
                            kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """,
        DurationToMilliseconds: 1000);
}
