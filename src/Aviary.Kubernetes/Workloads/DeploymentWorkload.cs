using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Workloads;

/// <summary>
/// A canary whose target is an apps/v1 Deployment, with Flagger's behaviour (<c>pkg/canary/deployment_controller.go</c>,
/// <c>deployment_ready.go</c>, <c>config_tracker.go</c>, <c>hpa_reconciler.go</c>):
/// <list type="bullet">
/// <item><see cref="EnsurePrimaryAsync"/> creates <c>{target}-primary</c> (labels, selector and pod template copied, the
/// selector label's value suffixed <c>-primary</c>, the target's replicas or 1) with <c>-primary</c> copies of the
/// ConfigMaps and Secrets its pods use, and the <c>-primary</c> HPA or KEDA ScaledObject (<see cref="PrimaryAutoscaler"/>); all owned by the Canary. The target is not
/// scaled here: the scheduler scales it down once the primary is ready.</item>
/// <item><see cref="ObserveAsync"/>: the revision (hash of the pod template and of the tracked configs' data), the
/// tracked configs (<c>configmap/{name}</c> → checksum, Flagger's <c>status.trackedConfigs</c>), the revision the
/// primary runs (its <c>aviary.dev/revision</c> annotation) and the readiness of both, with
/// <see cref="Readiness.WaitingSince"/> from the Available condition and <see cref="Readiness.Stalled"/> on
/// ProgressDeadlineExceeded.</item>
/// <item><see cref="ScaleUpCanaryAsync"/> / <see cref="ScaleDownCanaryAsync"/> set the target's replicas from / to 0
/// (up: its own count if not zero, else the primary's, or with an HPA the HPA's minimum).</item>
/// <item><see cref="PromoteAsync"/> copies the template (and the configs) to the primary, keeping its selector; the
/// revision annotation on the pod template rolls the primary exactly when something changed, so a repeated call
/// writes nothing.</item>
/// <item><see cref="RevertAsync"/> gives the target the primary's replicas and succeeds once the target is ready.</item>
/// </list>
/// Stateless: one instance serves any number of canaries, concurrently; what it needs to remember is in the
/// cluster. Expected failures (a missing target, a refused write) are <see cref="Outcome"/> errors with Flagger's
/// wording.
/// </summary>
public sealed class DeploymentWorkload : IWorkload
{
    private readonly Core _core;

    /// <param name="client">The API client (its identity needs the operator's RBAC).</param>
    /// <param name="timeProvider">The clock (not used for Deployments' deadlines, which come from their conditions).</param>
    /// <param name="logger">Where it logs what it creates and changes.</param>
    /// <param name="options">Selector labels and copied label prefixes; Flagger's defaults when null.</param>
    public DeploymentWorkload(KubeClient client, TimeProvider timeProvider, ILogger logger, WorkloadOptions? options = null) =>
        _core = new Core(client, timeProvider, logger, options);

    public ValueTask<Outcome> EnsurePrimaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.EnsurePrimaryAsync(canary, cancellationToken);

    public ValueTask<Outcome<WorkloadState>> ObserveAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.ObserveAsync(canary, cancellationToken);

    public ValueTask<Outcome> ScaleUpCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.ScaleUpAsync(canary, cancellationToken);

    public ValueTask<Outcome> ScaleDownCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.ScaleDownAsync(canary, cancellationToken);

    public ValueTask<Outcome> PromoteAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.PromoteAsync(canary, cancellationToken);

    public ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.RevertAsync(canary, cancellationToken);

    private sealed class Core(KubeClient client, TimeProvider timeProvider, ILogger logger, WorkloadOptions? options)
        : KubeWorkloadCore(client, timeProvider, logger, options)
    {
        protected override string Kind => "Deployment";

        protected override ResourceType Resource => KubeResources.Deployments;

        protected override async Task<JsonObject> NewPrimarySpecAsync(CanaryPolicy canary, JsonObject target, JsonObject selector, JsonObject template,
            CancellationToken cancellationToken)
        {
            var targetSpec = JsonTree.Object(target, "spec") ?? [];
            var replicas = JsonTree.Long(targetSpec, "replicas") is long r and > 0 ? r
                : await Autoscaler.PrimaryMinReplicasAsync(canary, cancellationToken).ConfigureAwait(false) is long min and > 0 ? min
                : 1;
            var spec = new JsonObject();
            CopyFields(targetSpec, spec);
            spec["replicas"] = replicas;
            spec["selector"] = selector;
            spec["template"] = template;
            return spec;
        }

        protected override void PromoteSpec(CanaryPolicy canary, JsonObject targetSpec, JsonObject primarySpec)
        {
            CopyFields(targetSpec, primarySpec);
            // With an HPA, the primary's HPA decides its replicas; a target at zero (scaled down) says nothing.
            if (canary.Manifest.Spec.AutoscalerRef is null && JsonTree.Long(targetSpec, "replicas") is long replicas and > 0)
                primarySpec["replicas"] = replicas;
        }

        private static void CopyFields(JsonObject from, JsonObject to)
        {
            foreach (var field in new[] { "progressDeadlineSeconds", "minReadySeconds", "revisionHistoryLimit", "strategy" })
            {
                if (from[field] is { } value) to[field] = value.DeepClone();
                else to.Remove(field);
            }
        }

        protected override Readiness ReadinessOf(CanaryPolicy canary, JsonObject obj, bool isPrimary) =>
            ReadinessRules.Deployment(obj, isPrimary ? canary.PrimaryReadyThreshold : canary.CanaryReadyThreshold, isPrimary);

        public async ValueTask<Outcome> ScaleDownAsync(CanaryPolicy canary, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(canary);
            if (CheckKind(canary) is { Succeeded: false } wrongKind) return wrongKind;
            // A ScaledObject would scale the target back up: hold it at zero first (Flagger's PauseTargetScaler).
            var paused = await Autoscaler.PauseTargetAsync(canary, paused: true, cancellationToken).ConfigureAwait(false);
            if (!paused.Succeeded) return paused;
            return await ScaleAsync(canary, 0, cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask<Outcome> ScaleUpAsync(CanaryPolicy canary, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(canary);
            if (CheckKind(canary) is { Succeeded: false } wrongKind) return wrongKind;
            var resumed = await Autoscaler.PauseTargetAsync(canary, paused: false, cancellationToken).ConfigureAwait(false);
            if (!resumed.Succeeded) return resumed;
            var target = await GetTargetAsync(canary, cancellationToken).ConfigureAwait(false);
            if (!target.Succeeded) return Outcome.Fail(target.Error!);
            if (JsonTree.Long(target.Value, "spec", "replicas") is > 0) return Outcome.Ok;
            var replicas = await ScaleFromZeroReplicasAsync(canary, cancellationToken).ConfigureAwait(false);
            if (!replicas.Succeeded) return Outcome.Fail(replicas.Error!);
            return await ScaleAsync(canary, replicas.Value, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Flagger's <c>ScaleFromZero</c> count: without an HPA the primary's replicas (1 if none), with one the HPA's
        /// minimum when above 1.
        /// </summary>
        private async Task<Outcome<long>> ScaleFromZeroReplicasAsync(CanaryPolicy canary, CancellationToken cancellationToken)
        {
            if (canary.Manifest.Spec.AutoscalerRef is not null)
                return await Autoscaler.TargetMinReplicasAsync(canary, cancellationToken).ConfigureAwait(false) is long min and > 1 ? min : 1L;
            var primary = await Objects.GetAsync(canary.Namespace, canary.PrimaryName, cancellationToken).ConfigureAwait(false);
            if (primary.IsNotFound) return 1L;
            if (!primary.Succeeded)
                return Outcome<long>.Fail($"{Lower} {canary.PrimaryName}.{canary.Namespace} get query error: {primary.Error!.Message}");
            return JsonTree.Long(primary.Value, "spec", "replicas") is long r and > 0 ? r : 1L;
        }

        public async ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(canary);
            if (CheckKind(canary) is { Succeeded: false } wrongKind) return wrongKind;
            var target = await GetTargetAsync(canary, cancellationToken).ConfigureAwait(false);
            if (!target.Succeeded) return Outcome.Fail(target.Error!);
            var primary = await Objects.GetAsync(canary.Namespace, canary.PrimaryName, cancellationToken).ConfigureAwait(false);
            long replicas;
            if (primary.IsNotFound)
            {
                // No primary (deleted, or never created): scale from zero as for a rollout.
                if (JsonTree.Long(target.Value, "spec", "replicas") is long own and > 0) replicas = own;
                else
                {
                    var fromZero = await ScaleFromZeroReplicasAsync(canary, cancellationToken).ConfigureAwait(false);
                    if (!fromZero.Succeeded) return Outcome.Fail(fromZero.Error!);
                    replicas = fromZero.Value;
                }
            }
            else if (!primary.Succeeded)
            {
                return Outcome.Fail($"{Lower} {canary.PrimaryName}.{canary.Namespace} get query error: {primary.Error!.Message}");
            }
            else
            {
                replicas = JsonTree.Long(primary.Value, "spec", "replicas") ?? 1;
            }

            // The target's ScaledObject scales it again; the primary's copy goes.
            var resumed = await Autoscaler.PauseTargetAsync(canary, paused: false, cancellationToken).ConfigureAwait(false);
            if (!resumed.Succeeded) return resumed;
            var unscaled = await Autoscaler.DeletePrimaryScaledObjectAsync(canary, cancellationToken).ConfigureAwait(false);
            if (!unscaled.Succeeded) return unscaled;
            var scaled = await ScaleAsync(canary, replicas, cancellationToken).ConfigureAwait(false);
            if (!scaled.Succeeded) return scaled;
            // Flagger waits for the target before it hands the Services back; so does Aviary, one call at a time.
            var now = await GetTargetAsync(canary, cancellationToken).ConfigureAwait(false);
            if (!now.Succeeded) return Outcome.Fail(now.Error!);
            var readiness = ReadinessOf(canary, now.Value!, isPrimary: false);
            return readiness.Ready
                ? Outcome.Ok
                : Outcome.Fail($"{Lower} {canary.TargetId} scaled to {Format(replicas)} replicas, not ready yet: {readiness.Message}");
        }

        private async Task<Outcome> ScaleAsync(CanaryPolicy canary, long replicas, CancellationToken cancellationToken)
        {
            var target = await GetTargetAsync(canary, cancellationToken).ConfigureAwait(false);
            if (!target.Succeeded) return Outcome.Fail(target.Error!);
            if (JsonTree.Long(target.Value, "spec", "replicas") == replicas) return Outcome.Ok;
            var patch = KubePatch.Merge(new JsonObject { ["spec"] = new JsonObject { ["replicas"] = replicas } });
            var patched = await Objects.PatchAsync(canary.Namespace, canary.TargetName, patch, cancellationToken).ConfigureAwait(false);
            if (!patched.Succeeded)
                return Outcome.Fail($"scaling {canary.TargetId} to {Format(replicas)} failed: {patched.Error!.Message}");
            WorkloadLog.Scaled(Logger, Kind, canary.TargetName, canary.Namespace, replicas);
            return Outcome.Ok;
        }
    }
}
