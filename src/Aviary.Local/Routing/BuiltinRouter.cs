using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Routing;
using Aviary.Routing.Proxy;

namespace Aviary.Local.Routing;

/// <summary><see cref="IRouter"/> over Aviary's built-in proxy: listens on the canary's <c>service.port</c>.</summary>
public sealed class BuiltinRouter(IProxyRouter proxy, string bindAddress = "127.0.0.1") : IRouter
{
    private bool _listening;

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        if (_listening) return Outcome.Ok;
        if (canary.ServicePort is not { } port)
            return Outcome.Fail($"{canary.Id}: spec.service.port is required by the built-in router");
        var result = await proxy.ListenAsync(new ServiceBinding(canary.Id, canary.Namespace, canary.TargetName, port, bindAddress), cancellationToken);
        _listening = result.Succeeded;
        return result;
    }

    public ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Outcome<RouteWeights>.Ok(proxy.GetRoute(canary.Id).Weights));

    public ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        try
        {
            proxy.SetRoute(canary.Id, Config(canary, weights));
            return ValueTask.FromResult(Outcome.Ok);
        }
        catch (ArgumentException e)
        {
            // The proxy refuses routes it cannot apply (e.g. a match it does not support): the weights stay as they were.
            return ValueTask.FromResult(Outcome.Fail($"cannot route {canary.Id}: {e.Message}"));
        }
    }

    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        SetRoutesAsync(canary, RouteWeights.AllPrimary, cancellationToken);

    private static RouteConfig Config(CanaryPolicy canary, RouteWeights weights) => new(
        weights,
        canary.Strategy == DeploymentStrategy.ABTesting ? canary.Match : [],
        canary.MirrorWeight,
        canary.SessionAffinity)
    {
        PrimaryCookieMaxAge = canary.Interval,
    };
}
