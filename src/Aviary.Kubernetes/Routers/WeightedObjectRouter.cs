using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// A router whose routing is one object named after the apex service that only weighs the primary against the canary
/// (an SMI TrafficSplit, a TraefikService, a Contour HTTPProxy, a Gloo RouteTable): created with everything on the primary, reconciled keeping its weights
/// (and repairing the rest), written with new weights, and read back. A provider supplies the object (<see cref="Desire"/>)
/// and how to read its weights (<see cref="ReadWeights"/>); what its capabilities refuse is refused before any write.
/// </summary>
public abstract class WeightedObjectRouter : IKubeRouter
{
    private protected WeightedObjectRouter(KubeClient client, ResourceType type, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(client);
        Logger = logger ?? NullLogger.Instance;
        Objects = new RoutedObjects(client, type, Logger);
    }

    public abstract string Provider { get; }

    private protected RoutedObjects Objects { get; }

    private protected ILogger Logger { get; }

    /// <summary>The object as it should be with <paramref name="weights"/> (null: <paramref name="current"/> is already so).</summary>
    private protected abstract JsonObject? Desire(CanaryPolicy canary, JsonObject? current, RouteWeights weights);

    /// <summary>The weights <paramref name="current"/> routes by, or why they cannot be read.</summary>
    private protected abstract Outcome<RouteWeights> ReadWeights(CanaryPolicy canary, JsonObject current);

    /// <summary>Why this provider cannot route <paramref name="canary"/> at all (a missing field it needs), or null.</summary>
    private protected virtual string? Unroutable(CanaryPolicy canary) => null;

    /// <summary>Objects the routing object names, written before it on every reconcile (Gloo's Upstreams); none by default.</summary>
    private protected virtual Task<Outcome> ReconcileReferencedAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Task.FromResult(Outcome.Ok);

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if ((RouterCapabilities.Refusal(canary, Provider) ?? Unroutable(canary)) is { } error) return Outcome.Fail(error);
        var referenced = await ReconcileReferencedAsync(canary, cancellationToken).ConfigureAwait(false);
        if (!referenced.Succeeded) return referenced;
        // A new object sends everything to the primary; an existing one keeps its weights.
        return await Objects.ApplyAsync(canary.Namespace, canary.ServiceName, create: true,
            current => Desire(canary, current, current is null ? RouteWeights.AllPrimary : RouterChecks.OrAllPrimary(ReadWeights(canary, current))),
            cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var current = await Objects.RequireAsync(canary.Namespace, canary.ServiceName, cancellationToken).ConfigureAwait(false);
        return current.Succeeded ? ReadWeights(canary, current.Value!) : Outcome<RouteWeights>.Fail(current.Error!);
    }

    public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if ((RouterCapabilities.Refusal(canary, Provider, weights.Mirrored) ?? Unroutable(canary) ?? RouterChecks.InvalidWeights(canary, weights)) is { } error)
            return Outcome.Fail(error);
        var result = await Objects.ApplyAsync(canary.Namespace, canary.ServiceName, create: false, current => Desire(canary, current, weights),
            cancellationToken).ConfigureAwait(false);
        if (result.Succeeded) KubeRouterLog.Routed(Logger, Objects.Kind, canary.ServiceName, canary.Namespace, weights.ToString());
        return result;
    }

    /// <summary>Routes everything to the primary; the object itself goes with the Canary (owner reference).</summary>
    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        SetRoutesAsync(canary, RouteWeights.AllPrimary, cancellationToken);
}
