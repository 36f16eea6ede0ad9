namespace Aviary.Routing;

/// <summary>
/// What a router can do beyond weighted splitting. A router that lacks a capability answers a request for it with a
/// failed <see cref="Aviary.Core.Abstractions.Outcome"/> that says so (never silently ignoring it).
/// </summary>
public interface IRouterCapabilities
{
    /// <summary>Whether the router routes by <c>analysis.match</c> (A/B testing on headers, cookies or query).</summary>
    bool SupportsMatch { get; }

    /// <summary>Whether the router copies traffic to the canary (<c>analysis.mirror</c>, mirrored <see cref="Aviary.Core.Abstractions.RouteWeights"/>).</summary>
    bool SupportsMirror { get; }
}
