namespace Aviary.Metrics.Observers;

/// <summary>
/// Linkerd's proxy metrics (<c>response_total</c>, <c>response_latency_ms</c>, inbound side of the canary's pods).
/// Aviary's built-in router exports the same families, so <c>builtin</c> uses these queries too.
/// </summary>
internal static class Linkerd
{
    public static ObserverQueries Queries { get; } = new(
        "linkerd",
        SuccessRate: """
            sum(
                rate(
                    response_total{
                        namespace="{{ namespace }}",
                        deployment=~"{{ target }}",
                        classification!="failure",
                        direction="inbound"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    response_total{
                        namespace="{{ namespace }}",
                        deployment=~"{{ target }}",
                        direction="inbound"
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
                        response_latency_ms_bucket{
                            namespace="{{ namespace }}",
                            deployment=~"{{ target }}",
                            direction="inbound"
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """);
}
