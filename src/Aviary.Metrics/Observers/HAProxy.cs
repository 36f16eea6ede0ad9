namespace Aviary.Metrics.Observers;

/// <summary>
/// Aviary's HAProxy router, read from HAProxy's built-in Prometheus exporter. The runtime adds two variables:
/// <c>haproxy_backend</c> (the backend, <c>proxy</c> label) and <c>haproxy_canary_servers</c> (a regex of the canary's
/// server slots, <c>server</c> label).
/// <para>
/// HAProxy 2.6 exports no latency histogram, only <c>haproxy_server_response_time_average_seconds</c>: a sliding
/// average of each server's response times over its last 512 requests, kept as a decaying sum that starts at zero
/// (after k requests it reads v·(1 − (511/512)^k) for a steady latency v), so for a new or quiet server it reads far
/// below the real latency. The query undoes that with the server's request count
/// (<c>haproxy_server_sessions_total</c>): avg / (1 − (511/512)^k). What remains is a mean (not a p99) over the
/// server's last ~512 requests, not bounded by <c>{{ interval }}</c>; idle slots (0 requests) are left out, and the
/// canary's servers are averaged. Set <c>request-duration</c>'s threshold for a mean.
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
            avg(
              haproxy_server_response_time_average_seconds{proxy="{{ variables.haproxy_backend }}",server=~"{{ variables.haproxy_canary_servers }}"}
              / (1 - (511 / 512) ^ haproxy_server_sessions_total{proxy="{{ variables.haproxy_backend }}",server=~"{{ variables.haproxy_canary_servers }}"})
              > 0
            ) * 1000
            """);

    /// <summary>The variable naming the HAProxy backend of the canary's service.</summary>
    public const string BackendVariable = "haproxy_backend";

    /// <summary>The variable holding a regex of the canary's server names in that backend.</summary>
    public const string CanaryServersVariable = "haproxy_canary_servers";
}
