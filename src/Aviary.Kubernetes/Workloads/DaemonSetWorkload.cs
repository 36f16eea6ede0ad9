using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Workloads;

/// <summary>
/// A canary whose target is an apps/v1 DaemonSet, with Flagger's behaviour (<c>pkg/canary/daemonset_controller.go</c>,
/// <c>daemonset_ready.go</c>): as <see cref="DeploymentWorkload"/> for the primary, its config copies and the
/// revision, with these differences:
/// <list type="bullet">
/// <item>A DaemonSet has no replicas: it is "scaled to zero" with a node selector no node matches,
/// <c>flagger.app/scale-to-zero: "true"</c> (Flagger's, so a DaemonSet Flagger scaled down is recognised), and scaled
/// up by removing it. That selector is not part of the revision and never reaches the primary.</item>
/// <item>The target must use the RollingUpdate strategy.</item>
/// <item>Readiness counts the desired, updated and available daemon pods. A DaemonSet has no progress condition, so
/// <see cref="Readiness.WaitingSince"/> is the later of the Canary's <c>status.lastTransitionTime</c> (what Flagger
/// measures from) and the time Aviary last changed the DaemonSet's template (its <c>aviary.dev/rollout-started</c>
/// annotation, written with the change by the injected <see cref="TimeProvider"/>).</item>
/// <item>An <c>autoscalerRef</c> is refused: an HPA cannot scale a DaemonSet.</item>
/// </list>
/// Stateless, like <see cref="DeploymentWorkload"/>.
/// </summary>
public sealed class DaemonSetWorkload : IWorkload
{
    /// <summary>The node selector that keeps every daemon pod off every node (Flagger's key and value).</summary>
    public const string ScaleToZeroKey = "flagger.app/scale-to-zero";

    private const string ScaleToZeroValue = "true";

    private readonly Core _core;

    /// <param name="client">The API client (its identity needs the operator's RBAC).</param>
    /// <param name="timeProvider">The clock that stamps when Aviary changed a DaemonSet's template.</param>
    /// <param name="logger">Where it logs what it creates and changes.</param>
    /// <param name="options">Selector labels and copied label prefixes; Flagger's defaults when null.</param>
    public DaemonSetWorkload(KubeClient client, TimeProvider timeProvider, ILogger logger, WorkloadOptions? options = null) =>
        _core = new Core(client, timeProvider, logger, options);

    public ValueTask<Outcome> EnsurePrimaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.EnsurePrimaryAsync(canary, cancellationToken);

    public ValueTask<Outcome<WorkloadState>> ObserveAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.ObserveAsync(canary, cancellationToken);

    public ValueTask<Outcome> ScaleUpCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.ScaleAsync(canary, up: true, cancellationToken);

    public ValueTask<Outcome> ScaleDownCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.ScaleAsync(canary, up: false, cancellationToken);

    public ValueTask<Outcome> PromoteAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.PromoteAsync(canary, cancellationToken);

    public ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken) => _core.RevertAsync(canary, cancellationToken);

    private sealed class Core(KubeClient client, TimeProvider timeProvider, ILogger logger, WorkloadOptions? options)
        : KubeWorkloadCore(client, timeProvider, logger, options)
    {
        protected override string Kind => "DaemonSet";

        protected override ResourceType Resource => KubeResources.DaemonSets;

        protected override Outcome Check(CanaryPolicy canary, JsonObject target)
        {
            if (canary.Manifest.Spec.AutoscalerRef is { } autoscaler)
                return Outcome.Fail($"autoscalerRef {autoscaler.Name}: a {autoscaler.Kind} cannot scale daemonset {canary.TargetId}");
            var strategy = JsonTree.String(target, "spec", "updateStrategy", "type") ?? "";
            return strategy is "" or "RollingUpdate"
                ? Outcome.Ok
                : Outcome.Fail($"daemonset {canary.TargetId} must have RollingUpdate strategy but have {strategy}");
        }

        protected override Task<JsonObject> NewPrimarySpecAsync(CanaryPolicy canary, JsonObject target, JsonObject selector, JsonObject template,
            CancellationToken cancellationToken)
        {
            var spec = new JsonObject();
            CopyFields(JsonTree.Object(target, "spec") ?? [], spec);
            spec["selector"] = selector;
            spec["template"] = template;
            return Task.FromResult(spec);
        }

        protected override void PromoteSpec(CanaryPolicy canary, JsonObject targetSpec, JsonObject primarySpec) => CopyFields(targetSpec, primarySpec);

        private static void CopyFields(JsonObject from, JsonObject to)
        {
            foreach (var field in new[] { "minReadySeconds", "revisionHistoryLimit", "updateStrategy" })
            {
                if (from[field] is { } value) to[field] = value.DeepClone();
                else to.Remove(field);
            }
        }

        protected override JsonObject RevisionTemplate(JsonObject target)
        {
            var template = base.RevisionTemplate(target);
            WithoutScaleToZero(template);
            return template;
        }

        protected override void AdjustPrimaryTemplate(JsonObject template) => WithoutScaleToZero(template);

        protected override void OnPrimaryTemplateChanged(JsonObject primary) => Stamp(primary);

        protected override Readiness ReadinessOf(CanaryPolicy canary, JsonObject obj, bool isPrimary)
        {
            var stamped = JsonTree.Time(JsonTree.String(obj, "metadata", "annotations", ObjectMetadata.RolloutStartedAnnotation));
            var transition = canary.Manifest.Status?.LastTransitionTime;
            DateTimeOffset? since = stamped is { } s && transition is { } t ? (s > t ? s : t) : stamped ?? transition;
            return ReadinessRules.DaemonSet(obj, isPrimary ? canary.PrimaryReadyThreshold : canary.CanaryReadyThreshold, since);
        }

        public async ValueTask<Outcome> ScaleAsync(CanaryPolicy canary, bool up, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(canary);
            if (CheckKind(canary) is { Succeeded: false } wrongKind) return wrongKind;
            var changed = false;
            var written = await Objects.UpdateWithRetryAsync(canary.Namespace, canary.TargetName, current =>
            {
                var next = (JsonObject)current.DeepClone();
                var podSpec = JsonTree.Ensure(JsonTree.Ensure(JsonTree.Ensure(next, "spec"), "template"), "spec");
                var selector = podSpec["nodeSelector"] as JsonObject;
                var present = JsonTree.String(selector, ScaleToZeroKey) is not null;
                if (up == !present) return null;
                if (up)
                {
                    WithoutScaleToZero((JsonObject)next["spec"]!["template"]!);
                    Stamp(next);
                }
                else
                {
                    JsonTree.Ensure(podSpec, "nodeSelector")[ScaleToZeroKey] = ScaleToZeroValue;
                }
                changed = true;
                return next;
            }, cancellationToken).ConfigureAwait(false);
            if (!written.Succeeded)
            {
                return written.IsNotFound
                    ? Outcome.Fail($"daemonset {canary.TargetId} get query error: {written.Error!.Message}")
                    : Outcome.Fail($"{(up ? "scaling up" : "updating")} daemonset {canary.TargetId} failed: {written.Error!.Message}");
            }
            if (changed) WorkloadLog.DaemonSetScaled(Logger, canary.TargetName, canary.Namespace, up ? "scaled up" : "scaled to zero", ScaleToZeroKey);
            return Outcome.Ok;
        }

        public async ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken)
        {
            var scaled = await ScaleAsync(canary, up: true, cancellationToken).ConfigureAwait(false);
            if (!scaled.Succeeded) return scaled;
            var target = await GetTargetAsync(canary, cancellationToken).ConfigureAwait(false);
            if (!target.Succeeded) return Outcome.Fail(target.Error!);
            var readiness = ReadinessOf(canary, target.Value!, isPrimary: false);
            return readiness.Ready ? Outcome.Ok : Outcome.Fail($"daemonset {canary.TargetId} scaled up, not ready yet: {readiness.Message}");
        }

        private void Stamp(JsonObject daemonSet) =>
            JsonTree.Ensure(JsonTree.Ensure(daemonSet, "metadata"), "annotations")[ObjectMetadata.RolloutStartedAnnotation] = Now();

        /// <summary>Removes the scale-down node selector (and an empty node selector, which the API server would not keep).</summary>
        private static void WithoutScaleToZero(JsonObject template)
        {
            if (JsonTree.Object(template, "spec") is not { } podSpec || podSpec["nodeSelector"] is not JsonObject selector) return;
            selector.Remove(ScaleToZeroKey);
            if (selector.Count == 0) podSpec.Remove("nodeSelector");
        }
    }
}
