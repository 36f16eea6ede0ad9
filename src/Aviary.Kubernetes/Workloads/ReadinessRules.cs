using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;

namespace Aviary.Kubernetes.Workloads;

/// <summary>
/// When a Deployment or DaemonSet counts as ready, after Flagger's <c>deployment_ready.go</c> and
/// <c>daemonset_ready.go</c>, with its messages. The progress deadline is not applied here: the readiness carries
/// since when the copy has been trying (<see cref="Readiness.WaitingSince"/>) or that Kubernetes gave up
/// (<see cref="Readiness.Stalled"/>), and the scheduler decides with its own clock.
/// </summary>
internal static class ReadinessRules
{
    /// <summary>
    /// Flagger's <c>isDeploymentReady</c>: the controller has seen the latest spec; no ProgressDeadlineExceeded;
    /// every replica updated; no old replica left; at least <paramref name="threshold"/>% of the updated replicas
    /// available. Waiting since the Available condition's lastUpdateTime when it is False with
    /// MinimumReplicasUnavailable (what Flagger measures the deadline from). A primary scaled to zero is not ready.
    /// </summary>
    public static Readiness Deployment(JsonObject deployment, int threshold, bool isPrimary)
    {
        var generation = JsonTree.Long(deployment, "metadata", "generation") ?? 0;
        var observed = JsonTree.Long(deployment, "status", "observedGeneration") ?? 0;
        if (generation > observed)
            return Readiness.NotReady("waiting for rollout to finish: observed deployment generation less than desired generation");

        var conditions = JsonTree.Array(deployment, "status", "conditions");
        var progressing = Condition(conditions, "Progressing");
        DateTimeOffset? since = null;
        if (progressing is not null && Condition(conditions, "Available") is { } available
            && JsonTree.String(available, "status") == "False" && JsonTree.String(available, "reason") == "MinimumReplicasUnavailable")
        {
            since = JsonTree.Time(JsonTree.String(available, "lastUpdateTime"));
        }

        var desired = JsonTree.Long(deployment, "spec", "replicas");
        var replicas = JsonTree.Long(deployment, "status", "replicas") ?? 0;
        var updated = JsonTree.Long(deployment, "status", "updatedReplicas") ?? 0;
        var availableReplicas = JsonTree.Long(deployment, "status", "availableReplicas") ?? 0;
        var needed = Share(updated, threshold);

        if (progressing is not null && JsonTree.String(progressing, "reason") == "ProgressDeadlineExceeded")
        {
            var name = JsonTree.String(deployment, "metadata", "name") ?? "";
            return Readiness.NotReady($"deployment \"{name}\" exceeded its progress deadline", since, stalled: true);
        }
        if (desired is { } d && updated < d)
            return Readiness.NotReady(Invariant($"waiting for rollout to finish: {updated} out of {d} new replicas have been updated"), since);
        if (replicas > updated)
            return Readiness.NotReady(Invariant($"waiting for rollout to finish: {replicas - updated} old replicas are pending termination"), since);
        if (availableReplicas < needed)
        {
            return Readiness.NotReady(
                Invariant($"waiting for rollout to finish: {availableReplicas} of {needed} (readyThreshold {threshold}%) updated replicas are available"), since);
        }
        // Flagger means to refuse a primary at zero replicas (its check compares pointers, so it never fires).
        if (isPrimary && desired == 0) return Readiness.NotReady("primary deployment is scaled to zero");
        return Readiness.IsReady;
    }

    /// <summary>
    /// Flagger's <c>isDaemonSetReady</c>: the controller has seen the latest spec; every scheduled daemon pod
    /// updated; at least <paramref name="threshold"/>% of the desired ones available. A DaemonSet has no progress
    /// condition, so it waits since <paramref name="waitingSince"/> (see <see cref="DaemonSetWorkload"/>).
    /// </summary>
    public static Readiness DaemonSet(JsonObject daemonSet, int threshold, DateTimeOffset? waitingSince)
    {
        var generation = JsonTree.Long(daemonSet, "metadata", "generation") ?? 0;
        var observed = JsonTree.Long(daemonSet, "status", "observedGeneration") ?? 0;
        if (generation > observed)
            return Readiness.NotReady("waiting for rollout to finish: observed daemonset generation less than desired generation", waitingSince);

        var desired = JsonTree.Long(daemonSet, "status", "desiredNumberScheduled") ?? 0;
        var updated = JsonTree.Long(daemonSet, "status", "updatedNumberScheduled") ?? 0;
        var available = JsonTree.Long(daemonSet, "status", "numberAvailable") ?? 0;
        var needed = Share(desired, threshold);
        if (updated < desired)
            return Readiness.NotReady(Invariant($"waiting for rollout to finish: {updated} out of {desired} new pods have been updated"), waitingSince);
        if (available < needed)
        {
            return Readiness.NotReady(
                Invariant($"waiting for rollout to finish: {available} of {needed} (readyThreshold {threshold}%) updated pods are available"), waitingSince);
        }
        return Readiness.IsReady;
    }

    /// <summary>Flagger's <c>int32(float32(count) * float32(threshold)/100)</c>, in single precision as Go computes it.</summary>
    internal static long Share(long count, int threshold)
    {
        var ratio = (float)threshold / 100f;
        var product = (float)count * ratio;
        return (long)product;
    }

    private static JsonObject? Condition(JsonArray? conditions, string type) =>
        conditions?.OfType<JsonObject>().FirstOrDefault(c => JsonTree.String(c, "type") == type);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
