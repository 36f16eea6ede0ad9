using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Workloads;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Services;

/// <summary>
/// The router of <c>provider: kubernetes</c>: blue/green through the Services alone, with no mesh. The apex selects
/// the primary's pods; the analysis (and any load test) reaches the canary through <c>{service}-canary</c>; a
/// promotion moves the new version into the primary, so traffic never has to move. The weights are therefore all or
/// nothing:
/// <list type="bullet">
/// <item><see cref="SetRoutesAsync"/> takes 100/0 (the apex selects the primary; every rollback, restart and
/// promotion) and 0/100 (the apex selects the target's pods: what the scheduler asks when the primary fails during a
/// promotion and the canary is the only healthy copy). Anything else, mirroring included, is refused with the
/// reason; the scheduler never asks for it with this provider. Flagger's kubernetes router ignores every weight;
/// Aviary does what 0/100 says.</item>
/// <item>0/100 is remembered on the apex (annotation <c>aviary.dev/route: canary</c>), so that
/// <see cref="ReconcileAsync"/> keeps it, but only while the primary is not ready: once it is ready again, the apex
/// goes back to it. Without that, a later promotion (during which this provider sets no weights) would end with the
/// apex on a target scaled to zero.</item>
/// <item><see cref="GetRoutesAsync"/> reads the apex's selector: 100/0 or 0/100.</item>
/// <item><see cref="FinalizeAsync"/> is <see cref="KubernetesServices.FinalizeAsync"/>.</item>
/// </list>
/// </summary>
public sealed class KubernetesServiceRouter : IRouter
{
    private readonly KubeClient _client;

    /// <param name="client">The API client.</param>
    /// <param name="logger">Where the Services' changes are logged.</param>
    /// <param name="options">The selector labels (the same as the workloads'); Flagger's defaults when null.</param>
    public KubernetesServiceRouter(KubeClient client, ILogger logger, WorkloadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        Services = new KubernetesServices(client, logger, options);
    }

    /// <summary>The Services it manages.</summary>
    public KubernetesServices Services { get; }

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var side = ApexSelection.Primary;
        var route = await Services.ReadRouteAnnotationAsync(canary, cancellationToken).ConfigureAwait(false);
        if (!route.Succeeded) return Outcome.Fail(route.Error!);
        if (route.Value == "canary")
        {
            var primaryReady = await PrimaryReadyAsync(canary, cancellationToken).ConfigureAwait(false);
            if (!primaryReady.Succeeded) return Outcome.Fail(primaryReady.Error!);
            if (!primaryReady.Value) side = ApexSelection.Canary;
        }
        return await Services.ReconcileAsync(canary, side, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var apex = await Services.ReadApexAsync(canary, cancellationToken).ConfigureAwait(false);
        if (!apex.Succeeded) return Outcome<RouteWeights>.Fail(apex.Error!);
        return apex.Value switch
        {
            ApexSelection.Primary => RouteWeights.AllPrimary,
            ApexSelection.Canary => new RouteWeights(0, 100),
            _ => Outcome<RouteWeights>.Fail($"service {canary.ServiceName}.{canary.Namespace} selects neither {canary.PrimaryName} nor {canary.TargetName}"),
        };
    }

    public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (weights.Mirrored) return Outcome.Fail("traffic mirroring is not supported by the kubernetes provider");
        var side = weights switch
        {
            { Primary: 100, Canary: 0 } => ApexSelection.Primary,
            { Primary: 0, Canary: 100 } => ApexSelection.Canary,
            _ => (ApexSelection?)null,
        };
        if (side is null)
            return Outcome.Fail($"the kubernetes provider routes all traffic to the primary or to the canary (100/0 or 0/100), not {weights}");
        return await Services.ReconcileAsync(canary, side.Value, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Services.FinalizeAsync(canary, cancellationToken);

    private async Task<Outcome<bool>> PrimaryReadyAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var resource = canary.TargetKind == "DaemonSet" ? KubeResources.DaemonSets : KubeResources.Deployments;
        var primary = await _client.Resource(resource).GetAsync(canary.Namespace, canary.PrimaryName, cancellationToken).ConfigureAwait(false);
        if (primary.IsNotFound) return false;
        if (!primary.Succeeded)
            return Outcome<bool>.Fail($"{canary.TargetKind.ToLowerInvariant()} {canary.PrimaryName}.{canary.Namespace} get query error: {primary.Error!.Message}");
        var readiness = canary.TargetKind == "DaemonSet"
            ? ReadinessRules.DaemonSet(primary.Value, canary.PrimaryReadyThreshold, null)
            : ReadinessRules.Deployment(primary.Value, canary.PrimaryReadyThreshold, isPrimary: true);
        return readiness.Ready;
    }
}
