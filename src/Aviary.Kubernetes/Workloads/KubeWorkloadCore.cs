using Aviary.Core.Primitives;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Workloads;

/// <summary>
/// What Deployments and DaemonSets share (Flagger's <c>deployment_controller.go</c> and <c>daemonset_controller.go</c>
/// are nearly the same file): bootstrap of the primary and its config copies, the revision, promotion. Each kind
/// adds its spec fields, readiness and scaling. Stateless: everything it remembers is in the cluster.
/// </summary>
internal abstract class KubeWorkloadCore
{
    protected KubeWorkloadCore(KubeClient client, TimeProvider timeProvider, ILogger logger, WorkloadOptions? options)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        Client = client;
        Time = timeProvider;
        Logger = logger;
        Options = options ?? WorkloadOptions.Default;
        Configs = new ConfigTracker(client, Options, logger);
        Autoscaler = new PrimaryAutoscaler(client, logger);
    }

    protected KubeClient Client { get; }

    protected TimeProvider Time { get; }

    protected ILogger Logger { get; }

    protected WorkloadOptions Options { get; }

    protected ConfigTracker Configs { get; }

    protected PrimaryAutoscaler Autoscaler { get; }

    /// <summary><c>Deployment</c> or <c>DaemonSet</c>.</summary>
    protected abstract string Kind { get; }

    protected abstract ResourceType Resource { get; }

    /// <summary>The kind as Flagger writes it in messages.</summary>
    protected string Lower => Kind.ToLowerInvariant();

    protected ResourceClient<JsonObject> Objects => Client.Resource(Resource);

    // ---- what each kind adds ----

    /// <summary>Refuses a target this kind cannot run (e.g. a DaemonSet without RollingUpdate).</summary>
    protected virtual Outcome Check(CanaryPolicy canary, JsonObject target) => Outcome.Ok;

    /// <summary>The new primary's spec (selector and template given).</summary>
    protected abstract Task<JsonObject> NewPrimarySpecAsync(CanaryPolicy canary, JsonObject target, JsonObject selector, JsonObject template,
        CancellationToken cancellationToken);

    /// <summary>Copies the target's spec fields (other than the template) to the primary at promotion.</summary>
    protected abstract void PromoteSpec(CanaryPolicy canary, JsonObject targetSpec, JsonObject primarySpec);

    /// <summary>The pod template that defines the target's revision (what Aviary itself changes on it left out).</summary>
    protected virtual JsonObject RevisionTemplate(JsonObject target) => JsonTree.Object(target, "spec", "template")?.DeepClone() as JsonObject ?? [];

    /// <summary>Adjusts the primary's pod template after copying (e.g. without the DaemonSet scale-down node selector).</summary>
    protected virtual void AdjustPrimaryTemplate(JsonObject template)
    {
    }

    /// <summary>Adds what a change of the primary's template also records (e.g. when a DaemonSet's rollout started).</summary>
    protected virtual void OnPrimaryTemplateChanged(JsonObject primary)
    {
    }

    protected abstract Readiness ReadinessOf(CanaryPolicy canary, JsonObject obj, bool isPrimary);

    // ---- IWorkload ----

    public async ValueTask<Outcome> EnsurePrimaryAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (CheckKind(canary) is { Succeeded: false } wrongKind) return wrongKind;
        if (PrimaryAutoscaler.Supported(canary) is { Succeeded: false } unsupported) return unsupported;
        var owner = ObjectMetadata.CanaryOwner(canary);
        if (!owner.Succeeded) return Outcome.Fail(owner.Error!);
        var target = await GetTargetAsync(canary, cancellationToken).ConfigureAwait(false);
        if (!target.Succeeded) return Outcome.Fail(target.Error!);
        if (Check(canary, target.Value!) is { Succeeded: false } refused) return refused;
        var selector = SelectorLabel(canary, target.Value!);
        if (!selector.Succeeded) return Outcome.Fail(selector.Error!);
        var (label, value) = selector.Value;

        var primary = await Objects.GetAsync(canary.Namespace, canary.PrimaryName, cancellationToken).ConfigureAwait(false);
        if (primary.IsNotFound)
        {
            var configs = await Configs.ScanAsync(canary, PodSpec(target.Value!), cancellationToken).ConfigureAwait(false);
            if (!configs.Succeeded) return Outcome.Fail(configs.Error!);
            var synced = await Configs.SyncPrimaryCopiesAsync(canary, configs.Value!, owner.Value!, cancellationToken).ConfigureAwait(false);
            if (!synced.Succeeded) return synced;

            var revision = Revision(target.Value!, configs.Value!);
            var template = PrimaryTemplate(canary, target.Value!, configs.Value!, label, value, revision);
            var matchLabels = new JsonObject { [label] = value + "-primary" };
            var spec = await NewPrimarySpecAsync(canary, target.Value!, new JsonObject { ["matchLabels"] = matchLabels }, template, cancellationToken)
                .ConfigureAwait(false);
            var created = new JsonObject
            {
                ["apiVersion"] = Resource.ApiVersion,
                ["kind"] = Kind,
                ["metadata"] = new JsonObject
                {
                    ["name"] = canary.PrimaryName,
                    ["namespace"] = canary.Namespace,
                    ["labels"] = JsonTree.ToNode(PrimaryObjectLabels(target.Value!, label, value)),
                    ["annotations"] = JsonTree.ToNode(ObjectMetadata.PrimaryAnnotations(
                        JsonTree.Map(JsonTree.Object(target.Value, "metadata", "annotations")), revision)),
                    ["ownerReferences"] = new JsonArray(owner.Value!.DeepClone()),
                },
                ["spec"] = spec,
            };
            OnPrimaryTemplateChanged(created);
            var result = await Objects.CreateAsync(created, cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded && !result.IsAlreadyExists)
                return Outcome.Fail($"creating {Lower} {canary.PrimaryName}.{canary.Namespace} failed: {result.Error!.Message}");
            if (result.Succeeded) WorkloadLog.PrimaryCreated(Logger, Kind, canary.PrimaryName, canary.Namespace);
        }
        else if (!primary.Succeeded)
        {
            return Outcome.Fail($"{Lower} {canary.PrimaryName}.{canary.Namespace} get query error: {primary.Error!.Message}");
        }

        return await Autoscaler.ReconcileAsync(canary, owner.Value!, update: false, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Outcome<WorkloadState>> ObserveAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (CheckKind(canary) is { Succeeded: false } wrongKind) return Outcome<WorkloadState>.Fail(wrongKind.Error!);
        var target = await GetTargetAsync(canary, cancellationToken).ConfigureAwait(false);
        if (!target.Succeeded) return Outcome<WorkloadState>.Fail(target.Error!);
        var primary = await Objects.GetAsync(canary.Namespace, canary.PrimaryName, cancellationToken).ConfigureAwait(false);
        if (!primary.Succeeded)
            return Outcome<WorkloadState>.Fail($"{Lower} {canary.PrimaryName}.{canary.Namespace} get query error: {primary.Error!.Message}");
        var configs = await Configs.ScanAsync(canary, PodSpec(target.Value!), cancellationToken).ConfigureAwait(false);
        if (!configs.Succeeded) return Outcome<WorkloadState>.Fail(configs.Error!);

        var tracked = configs.Value!.ToDictionary(c => c.Key, c => c.Checksum, StringComparer.Ordinal);
        return new WorkloadState(
            Revision(target.Value!, configs.Value!),
            ReadinessOf(canary, primary.Value, isPrimary: true),
            ReadinessOf(canary, target.Value!, isPrimary: false),
            tracked,
            JsonTree.String(primary.Value, "metadata", "annotations", ObjectMetadata.RevisionAnnotation));
    }

    public async ValueTask<Outcome> PromoteAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (CheckKind(canary) is { Succeeded: false } wrongKind) return wrongKind;
        var owner = ObjectMetadata.CanaryOwner(canary);
        if (!owner.Succeeded) return Outcome.Fail(owner.Error!);
        var target = await GetTargetAsync(canary, cancellationToken).ConfigureAwait(false);
        if (!target.Succeeded) return Outcome.Fail(target.Error!);
        var selector = SelectorLabel(canary, target.Value!);
        if (!selector.Succeeded) return Outcome.Fail(selector.Error!);
        var (label, value) = selector.Value;

        var configs = await Configs.ScanAsync(canary, PodSpec(target.Value!), cancellationToken).ConfigureAwait(false);
        if (!configs.Succeeded) return Outcome.Fail(configs.Error!);
        var synced = await Configs.SyncPrimaryCopiesAsync(canary, configs.Value!, owner.Value!, cancellationToken).ConfigureAwait(false);
        if (!synced.Succeeded) return synced;

        var revision = Revision(target.Value!, configs.Value!);
        var template = PrimaryTemplate(canary, target.Value!, configs.Value!, label, value, revision);
        var targetAnnotations = JsonTree.Map(JsonTree.Object(target.Value, "metadata", "annotations"));
        var labels = PrimaryObjectLabels(target.Value!, label, value);
        var changed = false;
        var written = await Objects.UpdateWithRetryAsync(canary.Namespace, canary.PrimaryName, current =>
        {
            var next = (JsonObject)current.DeepClone();
            var spec = JsonTree.Ensure(next, "spec");
            PromoteSpec(canary, JsonTree.Object(target.Value, "spec") ?? [], spec);
            var templateChanged = !JsonTree.Same(spec["template"], template);
            spec["template"] = template.DeepClone();
            var meta = JsonTree.Ensure(next, "metadata");
            var annotations = ObjectMetadata.PrimaryAnnotations(targetAnnotations, revision);
            // The deployment controller's own bookkeeping on the primary stays.
            foreach (var (k, v) in JsonTree.Map(meta["annotations"]))
                if (k == "deployment.kubernetes.io/revision" || k == ObjectMetadata.RolloutStartedAnnotation) annotations[k] = v;
            meta["annotations"] = JsonTree.ToNode(annotations);
            meta["labels"] = JsonTree.ToNode(labels);
            if (templateChanged) OnPrimaryTemplateChanged(next);
            if (JsonTree.Same(next, current)) return null;
            changed = true;
            return next;
        }, cancellationToken).ConfigureAwait(false);
        if (!written.Succeeded)
            return Outcome.Fail($"updating {Lower} {canary.PrimaryName}.{canary.Namespace} template spec failed: {written.Error!.Message}");
        if (changed) WorkloadLog.PrimaryPromoted(Logger, Kind, canary.PrimaryName, canary.Namespace, revision);

        return await Autoscaler.ReconcileAsync(canary, owner.Value!, update: true, cancellationToken).ConfigureAwait(false);
    }

    // ---- shared ----

    protected Outcome CheckKind(CanaryPolicy canary) =>
        canary.TargetKind == Kind ? Outcome.Ok : Outcome.Fail($"canary {canary.Id} targets a {canary.TargetKind}, not a {Kind}");

    protected async Task<Outcome<JsonObject>> GetTargetAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var target = await Objects.GetAsync(canary.Namespace, canary.TargetName, cancellationToken).ConfigureAwait(false);
        return target.Succeeded
            ? target.Value
            : Outcome<JsonObject>.Fail($"{Lower} {canary.TargetId} get query error: {target.Error!.Message}");
    }

    protected Outcome<(string Label, string Value)> SelectorLabel(CanaryPolicy canary, JsonObject target) =>
        TargetMetadata.FindSelectorLabel(target, Lower, canary.TargetId, Options.SelectorLabels);

    protected static JsonObject? PodSpec(JsonObject target) => JsonTree.Object(target, "spec", "template", "spec");

    /// <summary>
    /// The revision of the target: a hash of its pod template (as <see cref="RevisionTemplate"/> gives it) and of the
    /// checksums of the configs it uses. A replica count is not part of it; an image, an env var, a pod annotation or
    /// a tracked config's data is.
    /// </summary>
    protected string Revision(JsonObject target, IReadOnlyList<TrackedConfig> configs)
    {
        var text = new StringBuilder(JsonTree.Canonical(RevisionTemplate(target)));
        foreach (var config in configs.OrderBy(c => c.Key, StringComparer.Ordinal))
            text.Append('\n').Append(config.Key).Append('=').Append(config.Checksum);
        return Hashing.Sha256(text.ToString());
    }

    /// <summary>
    /// The primary's pod template: the target's, with the selector label's value suffixed <c>-primary</c>, the config
    /// references pointing to the copies, pod (anti-)affinity and topology spread selectors that name the target
    /// pointing to the primary, and the revision annotation (which rolls the primary exactly when something changed).
    /// </summary>
    protected JsonObject PrimaryTemplate(CanaryPolicy canary, JsonObject target, IReadOnlyList<TrackedConfig> configs, string label, string value,
        string revision)
    {
        var template = JsonTree.Object(target, "spec", "template")?.DeepClone() as JsonObject ?? [];
        var meta = JsonTree.Ensure(template, "metadata");
        meta["labels"] = JsonTree.ToNode(ObjectMetadata.PrimaryLabels(JsonTree.Map(meta["labels"]), label, value + "-primary"));
        meta["annotations"] = JsonTree.ToNode(ObjectMetadata.PrimaryPodAnnotations(JsonTree.Map(meta["annotations"]), revision));
        var spec = JsonTree.Ensure(template, "spec");
        ConfigTracker.RewriteReferences(spec, configs);
        RewriteSelectors(spec, canary.TargetName);
        AdjustPrimaryTemplate(template);
        return template;
    }

    private SortedDictionary<string, string> PrimaryObjectLabels(JsonObject target, string label, string value) =>
        ObjectMetadata.PrimaryLabels(
            ObjectMetadata.IncludedByPrefix(JsonTree.Map(JsonTree.Object(target, "metadata", "labels")), Options.IncludeLabelPrefixes),
            label, value + "-primary");

    /// <summary>Flagger's <c>appendPrimarySuffixToValuesIfNeeded</c>: selector values equal to the target's name, under a selector label, get <c>-primary</c>.</summary>
    private void RewriteSelectors(JsonObject podSpec, string targetName)
    {
        var selectors = new List<JsonObject>();
        foreach (var constraint in (JsonTree.Array(podSpec, "topologySpreadConstraints") ?? []).OfType<JsonObject>())
            if (constraint["labelSelector"] is JsonObject s) selectors.Add(s);
        foreach (var term in (JsonTree.Array(podSpec, "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution") ?? []).OfType<JsonObject>())
            if (JsonTree.Object(term, "podAffinityTerm", "labelSelector") is { } s) selectors.Add(s);
        foreach (var term in (JsonTree.Array(podSpec, "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution") ?? []).OfType<JsonObject>())
            if (term["labelSelector"] is JsonObject s) selectors.Add(s);

        foreach (var selector in selectors)
        {
            foreach (var expression in (JsonTree.Array(selector, "matchExpressions") ?? []).OfType<JsonObject>())
            {
                if (!Options.SelectorLabels.Contains(JsonTree.String(expression, "key") ?? "")) continue;
                if (expression["values"] is not JsonArray values) continue;
                for (var i = 0; i < values.Count; i++)
                {
                    if (values[i] is JsonValue v && v.TryGetValue<string>(out var s) && s == targetName)
                    {
                        values[i] = targetName + "-primary";
                        break;
                    }
                }
            }
            if (selector["matchLabels"] is JsonObject matchLabels)
            {
                foreach (var key in matchLabels.Select(kv => kv.Key).ToList())
                    if (Options.SelectorLabels.Contains(key) && JsonTree.String(matchLabels, key) == targetName) matchLabels[key] = targetName + "-primary";
            }
        }
    }

    protected string Now() => JsonTree.Format(Time.GetUtcNow());

    protected static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}
