using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Workloads;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Provider <c>knative</c>, as Flagger's Knative router: the routing object is the target Knative Service itself; its
/// <c>spec.traffic</c> sends <c>percent</c> to the latest revision (the canary) and the rest to the revision named by
/// <c>flagger.app/primary-revision</c>. The weights are read from <c>status.traffic</c>, what Knative applied. There are
/// no apex, <c>-primary</c> or <c>-canary</c> Services: Knative routes to revisions. Finalizing routes everything to the
/// primary revision and keeps the annotation (Flagger drops it, so a re-created Canary would take an unanalysed latest
/// revision as its primary). Weights only: A/B testing, mirroring and session affinity are refused (see
/// <see cref="RouterCapabilities"/>).
/// </summary>
public sealed class KnativeRouter : IKubeRouter
{
    private readonly KnativeServices _knative;
    private readonly ILogger _logger;

    public KnativeRouter(KubeClient client, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _logger = logger ?? NullLogger.Instance;
        _knative = new KnativeServices(client, _logger);
    }

    public string Provider => Providers.Knative;

    /// <summary>
    /// Initializes the Service when the workload has not yet (the latest revision is the primary and takes everything,
    /// as Flagger's initialization); afterwards the traffic is left alone.
    /// </summary>
    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (RouterCapabilities.Refusal(canary, Provider) is { } refused) return Outcome.Fail(refused);
        return await _knative.UpdateAsync(canary,
            current => KnativeServices.PrimaryRevision(current) is null && KnativeServices.LatestCreatedRevision(current) is { Length: > 0 } latest
                ? KnativeServices.With(current, latest, KnativeServices.Traffic(latest, RouteWeights.AllPrimary))
                : null,
            cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var got = await _knative.GetAsync(canary, cancellationToken).ConfigureAwait(false);
        if (!got.Succeeded) return Outcome<RouteWeights>.Fail(got.Error!);
        var service = got.Value!;
        if (KnativeServices.PrimaryRevision(service) is not { } primary)
            return Outcome<RouteWeights>.Fail($"Knative Service {canary.TargetId} annotation {KnativeServices.PrimaryRevisionAnnotation} not found");
        var traffic = (service["status"]?["traffic"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var latest = traffic.FirstOrDefault(t => t["latestRevision"] is JsonValue v && v.GetValue<bool>());
        if (latest is null)
            return Outcome<RouteWeights>.Fail($"Knative Service {canary.TargetId} traffic spec invalid (status.traffic has no target for the latest revision)");
        if (RoutingJson.Integer(latest["percent"]) is not { } c)
            return Outcome<RouteWeights>.Fail($"Knative Service {canary.TargetId} canary revision traffic percent does not exist");
        // Right after a promotion the primary is the latest revision, and the rest is still on the former primary until
        // the router routes everything to the new one: that rest counts as the primary's.
        var primaryTarget = traffic.FirstOrDefault(t => t != latest && RoutingJson.Text(t["revisionName"]) == primary);
        int p;
        if (primaryTarget is null) p = 100 - c;
        else if (RoutingJson.Integer(primaryTarget["percent"]) is { } percent) p = percent;
        else return Outcome<RouteWeights>.Fail($"Knative Service {canary.TargetId} primary revision traffic percent does not exist");
        return new RouteWeights(p, c);
    }

    public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if ((RouterCapabilities.Refusal(canary, Provider, weights.Mirrored) ?? RouterChecks.InvalidWeights(canary, weights)) is { } error) return Outcome.Fail(error);
        string? missing = null;
        var result = await _knative.UpdateAsync(canary, current =>
        {
            if (KnativeServices.PrimaryRevision(current) is not { } primary)
            {
                missing = $"Knative Service {canary.TargetId} annotation {KnativeServices.PrimaryRevisionAnnotation} not found";
                return null;
            }
            return KnativeServices.With(current, primary, KnativeServices.Traffic(primary, weights));
        }, cancellationToken).ConfigureAwait(false);
        if (missing is not null) return Outcome.Fail(missing);
        if (result.Succeeded) KubeRouterLog.Routed(_logger, "Service", canary.TargetName, canary.Namespace, weights.ToString());
        return result;
    }

    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        SetRoutesAsync(canary, RouteWeights.AllPrimary, cancellationToken);
}
