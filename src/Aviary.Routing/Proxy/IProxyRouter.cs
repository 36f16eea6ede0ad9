using Aviary.Core.Abstractions;
using Aviary.Core.Model;

namespace Aviary.Routing.Proxy;

/// <summary>
/// A service the router listens for. <see cref="Service"/> is the key used by every other call (the canary's
/// <c>name.namespace</c>); <see cref="Namespace"/> and <see cref="Target"/> label the metrics (Linkerd's
/// <c>deployment</c> label is <c>Target</c> for the canary and <c>Target-primary</c> for the primary).
/// </summary>
public sealed record ServiceBinding(string Service, string Namespace, string Target, int Port, string BindAddress = "127.0.0.1");

/// <summary>
/// The routing of one service, swapped as a whole (a weight change is atomic).
/// With <see cref="Match"/> empty, every request is split by <see cref="Weights"/>; otherwise only requests
/// that match one of the conditions are split by the weights and the others always go to the primary
/// (Flagger's A/B testing). When <see cref="RouteWeights.Mirrored"/> is set, every request is served by the
/// primary and <see cref="MirrorWeight"/> percent of them are also copied, fire-and-forget, to the canary.
/// </summary>
public sealed record RouteConfig(
    RouteWeights Weights,
    IReadOnlyList<AnalysisMatch> Match,
    int MirrorWeight,
    SessionAffinity? SessionAffinity)
{
    public static RouteConfig AllPrimary { get; } = new(RouteWeights.AllPrimary, [], 100, null);

    /// <summary>
    /// Max-Age of the primary session-affinity cookie (<see cref="Core.Model.SessionAffinity.PrimaryCookieName"/>).
    /// Flagger uses the analysis interval, so that a client held on the primary is split anew at the next step;
    /// null means the canary cookie's Max-Age.
    /// </summary>
    public TimeSpan? PrimaryCookieMaxAge { get; init; }
}

/// <summary>Request counts and a latency histogram of one backend over a time window.</summary>
/// <param name="Total">Requests answered (including proxy errors, counted as 502/504).</param>
/// <param name="ServerErrors">Requests answered with a 5xx status.</param>
/// <param name="LatencyBucketsMs">Upper bounds of the histogram buckets, in milliseconds (ascending; the last is +Inf).</param>
/// <param name="LatencyCounts">Requests per bucket (not cumulative), same length as <paramref name="LatencyBucketsMs"/>.</param>
public sealed record TrafficWindow(long Total, long ServerErrors, IReadOnlyList<double> LatencyBucketsMs, IReadOnlyList<long> LatencyCounts)
{
    /// <summary>
    /// False when the counters began after the window did (the router, and so its in-memory counters, started within
    /// it, e.g. a restarted controller): the window holds less time than was asked for.
    /// </summary>
    public bool Complete { get; init; } = true;
}

/// <summary>The built-in weighted reverse proxy: one listener per canary service, shared by the whole controller.</summary>
public interface IProxyRouter : IBackendRegistry, IAsyncDisposable
{
    /// <summary>Starts serving <paramref name="binding"/>; idempotent. Fails (as data) when the port is taken.</summary>
    Task<Outcome> ListenAsync(ServiceBinding binding, CancellationToken cancellationToken);

    /// <summary>Stops the listener of <paramref name="service"/> after in-flight requests finish.</summary>
    Task StopListeningAsync(string service, CancellationToken cancellationToken);

    /// <summary>Replaces the routing of <paramref name="service"/> atomically; requests already routed are unaffected.</summary>
    void SetRoute(string service, RouteConfig config);

    RouteConfig GetRoute(string service);

    /// <summary>Traffic of one backend over the last <paramref name="window"/>, for the built-in metrics.</summary>
    TrafficWindow GetTraffic(string service, BackendRole role, TimeSpan window);

    /// <summary>Everything one backend has answered since the service started listening (cumulative, like a counter).</summary>
    TrafficWindow GetTotals(string service, BackendRole role);
}
