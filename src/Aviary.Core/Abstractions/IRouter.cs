using Aviary.Core.Policy;

namespace Aviary.Core.Abstractions;

/// <summary>
/// Splits traffic between primary and canary: the built-in proxy, HAProxy, or a mesh's routing objects.
/// One implementation per provider, chosen by name; an unknown name is a validation error.
/// </summary>
public interface IRouter
{
    /// <summary>Creates or updates the routing objects so that the apex routes to the primary (idempotent).</summary>
    ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken);

    ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken);

    /// <summary>Sets the weights atomically (and, for A/B testing, routes matched requests by <c>analysis.match</c>).</summary>
    ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken);

    /// <summary>For <c>revertOnDeletion</c>: hands routing back to the target.</summary>
    ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken);
}

/// <summary>Traffic weights in percent; <see cref="Mirrored"/> copies primary traffic to the canary.</summary>
public readonly record struct RouteWeights(int Primary, int Canary, bool Mirrored = false)
{
    public static RouteWeights AllPrimary { get; } = new(100, 0);

    public override string ToString() => $"{Primary}/{Canary}{(Mirrored ? " mirrored" : "")}";
}
