using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Local.Store;

namespace Aviary.Local.Routing;

/// <summary>
/// Keeps a router's weights in the state store: every change is saved before it is applied, and the saved weights
/// are applied again once the router is reconciled after a restart — so a killed controller routes as before, with
/// the built-in proxy (which dies with it) or a generated HAProxy (which it restarts).
/// </summary>
public sealed class PersistentRouter(IRouter inner, StateStore store) : IRouter
{
    private bool _restored;

    public IRouter Inner => inner;

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var result = await inner.ReconcileAsync(canary, cancellationToken);
        if (!result.Succeeded || _restored) return result;
        if (store.LoadRoutes(canary.Id) is { } saved && saved != RouteWeights.AllPrimary)
        {
            var restored = await inner.SetRoutesAsync(canary, saved, cancellationToken);
            if (!restored.Succeeded) return restored;
        }
        _restored = true;
        return result;
    }

    public ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        inner.GetRoutesAsync(canary, cancellationToken);

    public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        store.SaveRoutes(canary.Id, weights);
        return await inner.SetRoutesAsync(canary, weights, cancellationToken);
    }

    public async ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        store.SaveRoutes(canary.Id, RouteWeights.AllPrimary);
        return await inner.FinalizeAsync(canary, cancellationToken);
    }
}
