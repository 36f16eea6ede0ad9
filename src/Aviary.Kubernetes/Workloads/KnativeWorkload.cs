using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Routers;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Workloads;

/// <summary>
/// A canary whose target is a Knative Service (<c>serving.knative.dev/v1</c>, provider <c>knative</c>), with Flagger's
/// behaviour (<c>pkg/canary/knative_controller.go</c>): Knative keeps every revision, so there is no <c>-primary</c>
/// copy. The primary is the revision named by <c>flagger.app/primary-revision</c> (set to the latest created revision
/// when the canary is initialized, with all traffic on it), the canary is the latest created revision, the target's
/// revision is that revision's name, and promotion names the latest revision as the primary. Readiness is each
/// revision's <c>Ready</c> condition. Knative scales revisions itself, so scaling the canary and reverting do nothing.
/// </summary>
public sealed class KnativeWorkload(KubeClient client, ILogger logger) : IWorkload
{
    private readonly KnativeServices _knative = new(client, logger);

    public async ValueTask<Outcome> EnsurePrimaryAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var service = await _knative.GetAsync(canary, cancellationToken).ConfigureAwait(false);
        if (!service.Succeeded) return Outcome.Fail(service.Error!);
        if (KnativeServices.PrimaryRevision(service.Value!) is not null) return Outcome.Ok;
        if (KnativeServices.LatestCreatedRevision(service.Value!) is not { Length: > 0 } latest)
            return Outcome.Fail($"Knative Service {canary.TargetId} has no revision yet (status.latestCreatedRevisionName is empty)");
        // Initialization: the latest revision is the primary and takes everything.
        return await _knative.UpdateAsync(canary,
            current => KnativeServices.PrimaryRevision(current) is null
                ? KnativeServices.With(current, latest, KnativeServices.Traffic(latest, RouteWeights.AllPrimary))
                : null,
            cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Outcome<WorkloadState>> ObserveAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var got = await _knative.GetAsync(canary, cancellationToken).ConfigureAwait(false);
        if (!got.Succeeded) return Outcome<WorkloadState>.Fail(got.Error!);
        var service = got.Value!;
        if (KnativeServices.LatestCreatedRevision(service) is not { Length: > 0 } latest)
            return new WorkloadState("", Readiness.NotReady($"Knative Service {canary.TargetId} has no revision yet"),
                Readiness.NotReady($"Knative Service {canary.TargetId} has no revision yet"));
        var primary = KnativeServices.PrimaryRevision(service);
        var primaryReady = primary is null
            ? Readiness.NotReady($"Knative Service {canary.TargetId} primary revision annotation not found")
            : await RevisionReadinessAsync(canary, primary, cancellationToken).ConfigureAwait(false);
        var canaryReady = await RevisionReadinessAsync(canary, latest, cancellationToken).ConfigureAwait(false);
        return new WorkloadState(latest, primaryReady, canaryReady, PrimaryRevision: primary);
    }

    /// <summary>A revision's <c>Ready</c> condition; since when it has not been ready, and whether Knative gave up on it.</summary>
    private async Task<Readiness> RevisionReadinessAsync(CanaryPolicy canary, string revision, CancellationToken cancellationToken)
    {
        var got = await _knative.Revisions.GetAsync(canary.Namespace, revision, cancellationToken).ConfigureAwait(false);
        if (!got.Succeeded)
            return Readiness.NotReady($"Knative Revision {revision}.{canary.Namespace} get query error: {got.Error!.Message}");
        var ready = (got.Value!["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>()
            .FirstOrDefault(c => RoutingJson.Text(c["type"]) == "Ready");
        var status = RoutingJson.Text(ready?["status"]);
        if (status == "True") return Readiness.IsReady;
        DateTimeOffset? since = DateTimeOffset.TryParse(RoutingJson.Text(ready?["lastTransitionTime"]), CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal, out var t) ? t : null;
        var why = RoutingJson.Text(ready?["message"]) ?? RoutingJson.Text(ready?["reason"]);
        return Readiness.NotReady($"Knative Revision {revision}.{canary.Namespace} is not ready" + (why is null ? "" : $": {why}"), since,
            stalled: status == "False");
    }

    public ValueTask<Outcome> ScaleUpCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => ValueTask.FromResult(Outcome.Ok);

    public ValueTask<Outcome> ScaleDownCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => ValueTask.FromResult(Outcome.Ok);

    /// <summary>The latest revision becomes the primary (the router then routes everything to it).</summary>
    public async ValueTask<Outcome> PromoteAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        return await _knative.UpdateAsync(canary,
            current => KnativeServices.LatestCreatedRevision(current) is { Length: > 0 } latest ? KnativeServices.With(current, latest, null) : null,
            cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken) => ValueTask.FromResult(Outcome.Ok);
}
