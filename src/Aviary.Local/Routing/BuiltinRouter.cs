using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Local.Store;
using Aviary.Routing.Proxy;

namespace Aviary.Local.Routing;

/// <summary>
/// <see cref="IRouter"/> over Aviary's built-in proxy: listens on the canary's <c>service.port</c> and persists
/// every weight change before applying it, so that a restarted controller routes as the killed one did.
/// </summary>
public sealed class BuiltinRouter(IProxyRouter proxy, StateStore store, string bindAddress = "127.0.0.1") : IRouter
{
    private bool _listening;

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        if (_listening) return Outcome.Ok;
        if (canary.ServicePort is not { } port)
            return Outcome.Fail($"{canary.Id}: spec.service.port is required by the built-in router");
        var saved = store.LoadRoutes(canary.Id) ?? RouteWeights.AllPrimary;
        try
        {
            proxy.SetRoute(canary.Id, Config(canary, saved));
        }
        catch (ArgumentException e)
        {
            return Outcome.Fail($"cannot route {canary.Id}: {e.Message}");
        }
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
            var config = Config(canary, weights);
            store.SaveRoutes(canary.Id, weights);
            proxy.SetRoute(canary.Id, config);
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
