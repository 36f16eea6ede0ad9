namespace Aviary.Metrics.Observers;

/// <summary>
/// Aviary's HAProxy router, read from HAProxy's built-in Prometheus exporter. The runtime adds two variables:
/// <c>haproxy_backend</c> (the backend, <c>proxy</c> label) and <c>haproxy_canary_servers</c> (a regex of the canary's
/// server slots, <c>server</c> label).
/// <para>
/// HAProxy 2.6 exports no latency histogram, only <c>haproxy_server_response_time_average_seconds</c>: a sliding
/// average of each server's response times over its last 512 requests, kept as a decaying sum that starts at zero
/// (after k requests it reads v·(1 − (511/512)^k) for a steady latency v), so for a new or quiet server it reads far
/// below the real latency. The query undoes that with the server's count of answered requests
/// (<c>haproxy_server_http_responses_total</c>, all codes): avg / (1 − (511/512)^k). Not the session count: HAProxy
/// counts a session when it starts but adds its response time only when the answer arrives, so with a slow canary's
/// requests in flight the session count reads the mean at a fraction of the latency. What remains is a mean (not a p99) over the
/// server's last ~512 requests, not bounded by <c>{{ interval }}</c>; idle slots (0 requests) are left out, and the
/// canary's servers are averaged. Set <c>request-duration</c>'s threshold for a mean. HAProxy exports the raw average
/// in whole milliseconds, so after k answers the mean is known to about 1 / (1 − (511/512)^k) ms (32 ms after 16).
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
              / on(proxy, server)
              (1 - (511 / 512) ^ sum by (proxy, server) (haproxy_server_http_responses_total{proxy="{{ variables.haproxy_backend }}",server=~"{{ variables.haproxy_canary_servers }}"}))
              > 0
            ) * 1000
            """);

    /// <summary>The variable naming the HAProxy backend of the canary's service.</summary>
    public const string BackendVariable = "haproxy_backend";

    /// <summary>The variable holding a regex of the canary's server names in that backend.</summary>
    public const string CanaryServersVariable = "haproxy_canary_servers";
}
