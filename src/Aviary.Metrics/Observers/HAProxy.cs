namespace Aviary.Metrics.Observers;

/// <summary>
/// Aviary's HAProxy router, read from HAProxy's built-in Prometheus exporter. The runtime adds two variables:
/// <c>haproxy_backend</c> (the backend, <c>proxy</c> label) and <c>haproxy_canary_servers</c> (a regex of the canary's
/// server slots, <c>server</c> label).
/// <para>
/// HAProxy 2.6 exports no latency histogram, only <c>haproxy_server_response_time_average_seconds</c>: the mean
/// response time of each server's last 1024 requests, not a quantile and not bounded by <c>{{ interval }}</c>. So
/// <c>request-duration</c> here is the mean over the canary's servers, in milliseconds — lower than the p99 the other
/// providers report; set its thresholds accordingly. The success rate counts HAProxy's <c>code</c> classes over the
/// interval like the other providers.
/// </para>
/// </summary>
internal static class HAProxy
{
    public static ObserverQueries Queries { get; } = new(
        "haproxy",
        SuccessRate: """
            sum(rate(haproxy_server_http_responses_total{proxy="{{ variables.haproxy_backend }}",server=~"{{ variables.haproxy_canary_servers }}",code!="5xx"}[{{ interval }}]))
            /
            sum(rate(haproxy_server_http_responses_total{proxy="{{ variables.haproxy_backend }}",server=~"{{ variables.haproxy_canary_servers }}"}[{{ interval }}]))
            * 100
            """,
        Duration: """
            avg(haproxy_server_response_time_average_seconds{proxy="{{ variables.haproxy_backend }}",server=~"{{ variables.haproxy_canary_servers }}"}) * 1000
            """);

    /// <summary>The variable naming the HAProxy backend of the canary's service.</summary>
    public const string BackendVariable = "haproxy_backend";

    /// <summary>The variable holding a regex of the canary's server names in that backend.</summary>
    public const string CanaryServersVariable = "haproxy_canary_servers";
}
