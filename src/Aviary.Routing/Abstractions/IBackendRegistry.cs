namespace Aviary.Routing;

/// <summary>Which of a canary service's two backends.</summary>
public enum BackendRole
{
    Primary,
    Canary,
}

/// <summary>One instance behind the router: a stable id (for metrics and draining) and its address.</summary>
public sealed record BackendEndpoint(string Id, Uri Address);

/// <summary>
/// Where a workload publishes the instances behind a router (the built-in proxy's pools, HAProxy's server slots):
/// only ready instances are published, and a removed instance is drained before it is stopped.
/// </summary>
public interface IBackendRegistry
{
    /// <summary>Replaces the endpoints of one backend; removed endpoints get no new requests.</summary>
    void SetEndpoints(string service, BackendRole role, IReadOnlyList<BackendEndpoint> endpoints);

    IReadOnlyList<BackendEndpoint> GetEndpoints(string service, BackendRole role);

    /// <summary>Waits until endpoint <paramref name="endpointId"/> has no request in flight (call after removing it). False on timeout.</summary>
    Task<bool> DrainAsync(string service, string endpointId, TimeSpan timeout, CancellationToken cancellationToken);
}
