using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Workloads;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Services;

/// <summary>The three Services of a canary: <c>{service}</c> (the apex), <c>{service}-primary</c> and <c>{service}-canary</c>.</summary>
public sealed record ServiceNames(string Apex, string Primary, string Canary)
{
    /// <summary>Flagger's <c>GetServiceNames</c>: the apex is <c>spec.service.name</c>, or the target's name.</summary>
    public static ServiceNames Of(CanaryPolicy canary)
    {
        ArgumentNullException.ThrowIfNull(canary);
        return new ServiceNames(canary.ServiceName, canary.ServiceName + "-primary", canary.ServiceName + "-canary");
    }
}

/// <summary>Which pods the apex Service selects.</summary>
public enum ApexSelection
{
    /// <summary>The primary's (Flagger's apex, always, and every mesh router's).</summary>
    Primary,

    /// <summary>The target's (the canary): the <c>kubernetes</c> provider's 0/100, and what <see cref="KubernetesServices.FinalizeAsync"/> leaves.</summary>
    Canary,
}

/// <summary>
/// The ClusterIP Services of a canary, after Flagger's <c>pkg/router/kubernetes_default.go</c>:
/// <list type="bullet">
/// <item><c>{service}-canary</c> selects the target's pods, <c>{service}-primary</c> the primary's
/// (<c>{label}: {value}-primary</c>), and the apex <c>{service}</c> the primary's too (or the target's, for the
/// <c>kubernetes</c> provider's 0/100, see <see cref="KubernetesServiceRouter"/>).</item>
/// <item>Ports: <c>spec.service.port</c> named <c>portName</c> (default <c>http</c>), TCP, to <c>targetPort</c>
/// (default the port), with <c>appProtocol</c>; with <c>portDiscovery</c>, every other container port of the target
/// (sidecars excepted) as <c>port:port</c>.</item>
/// <item>Metadata: <c>spec.service.apex</c>/<c>primary</c>/<c>canary</c> labels and annotations, plus
/// <c>{label}: {service name}</c>; created owned by the Canary. A Service that exists already is updated in place
/// (clusterIP, nodePorts and other fields kept) when its ports or selector differ; its labels and annotations are
/// managed only when this Canary controls it, keeping the keys <c>spec.service.unmanagedMetadata</c> names.</item>
/// </list>
/// Idempotent: a call that finds everything as it should be writes nothing. Mesh routers compose it: call
/// <see cref="ReconcileAsync(CanaryPolicy, CancellationToken)"/> from their own reconcile, and
/// <see cref="FinalizeAsync"/> from their finalize.
/// </summary>
public sealed class KubernetesServices
{
    /// <summary>On the apex: set to <c>canary</c> while the <c>kubernetes</c> provider routes all traffic to the canary.</summary>
    public const string RouteAnnotation = "aviary.dev/route";

    private const string KubectlAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

    private readonly KubeClient _client;
    private readonly ILogger _logger;
    private readonly WorkloadOptions _options;

    /// <param name="client">The API client.</param>
    /// <param name="logger">Where it logs the Services it creates and changes.</param>
    /// <param name="options">The selector labels (the same as the workloads'); Flagger's defaults when null.</param>
    public KubernetesServices(KubeClient client, ILogger logger, WorkloadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(logger);
        _client = client;
        _logger = logger;
        _options = options ?? WorkloadOptions.Default;
    }

    private ResourceClient<JsonObject> Services => _client.Resource(KubeResources.Services);

    /// <summary>Creates or updates the three Services, the apex selecting the primary.</summary>
    public ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        ReconcileAsync(canary, ApexSelection.Primary, cancellationToken);

    /// <summary>Creates or updates the three Services, the apex selecting <paramref name="apex"/>.</summary>
    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, ApexSelection apex, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (canary.ServicePort is not { } port) return Outcome.Fail($"canary {canary.Id}: spec.service.port is required to create its Services");
        var owner = ObjectMetadata.CanaryOwner(canary);
        if (!owner.Succeeded) return Outcome.Fail(owner.Error!);
        var target = await TargetMetadata.ReadAsync(_client, canary, _options, cancellationToken).ConfigureAwait(false);
        if (!target.Succeeded) return Outcome.Fail(target.Error!);
        var meta = target.Value!;
        var names = ServiceNames.Of(canary);
        var service = canary.Manifest.Spec.Service;
        var ports = Ports(canary, port, meta);

        var result = await ReconcileServiceAsync(canary, names.Canary, meta.SelectorLabel, meta.SelectorValue, ports, service?.Canary, owner.Value!, null,
            cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded) return result;
        result = await ReconcileServiceAsync(canary, names.Primary, meta.SelectorLabel, meta.PrimarySelectorValue, ports, service?.Primary, owner.Value!, null,
            cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded) return result;
        return await ReconcileServiceAsync(canary, names.Apex, meta.SelectorLabel,
            apex == ApexSelection.Primary ? meta.PrimarySelectorValue : meta.SelectorValue, ports, service?.Apex, owner.Value!,
            apex == ApexSelection.Canary ? "canary" : null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// For <c>revertOnDeletion</c>: the apex selects the target's pods again. A Service the user had before the
    /// Canary gets back the selector of its <c>kubectl apply</c> configuration when it has one (Flagger's revert);
    /// an apex this Canary created also loses its owner reference to the Canary, so that it outlives the Canary and
    /// keeps serving the target (Flagger leaves it to be garbage-collected). A missing apex is not an error.
    /// </summary>
    public async ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var names = ServiceNames.Of(canary);
        var apex = await Services.GetAsync(canary.Namespace, names.Apex, cancellationToken).ConfigureAwait(false);
        if (apex.IsNotFound) return Outcome.Ok;
        if (!apex.Succeeded) return Outcome.Fail($"service {names.Apex}.{canary.Namespace} get query error: {apex.Error!.Message}");
        var (byCanary, byThis) = ObjectMetadata.ControlledBy(apex.Value, canary);
        if (byCanary && !byThis) return Outcome.Ok;

        var target = await TargetMetadata.ReadAsync(_client, canary, _options, cancellationToken).ConfigureAwait(false);
        if (!target.Succeeded) return Outcome.Fail(target.Error!);
        JsonObject selector;
        if (!byCanary && JsonTree.String(apex.Value, "metadata", "annotations", KubectlAnnotation) is { } applied)
        {
            try
            {
                selector = JsonTree.Object(JsonNode.Parse(applied), "spec", "selector")?.DeepClone() as JsonObject
                    ?? new JsonObject { [target.Value!.SelectorLabel] = target.Value.SelectorValue };
            }
            catch (JsonException)
            {
                return Outcome.Fail($"router {names.Apex}.{canary.Namespace} failed to unMarshal annotation {KubectlAnnotation}");
            }
        }
        else
        {
            selector = new JsonObject { [target.Value!.SelectorLabel] = target.Value.SelectorValue };
        }

        var written = await Services.UpdateWithRetryAsync(canary.Namespace, names.Apex, current =>
        {
            var next = (JsonObject)current.DeepClone();
            JsonTree.Ensure(next, "spec")["selector"] = selector.DeepClone();
            var meta = JsonTree.Ensure(next, "metadata");
            if (meta["annotations"] is JsonObject annotations)
            {
                annotations.Remove(RouteAnnotation);
                if (annotations.Count == 0) meta.Remove("annotations");
            }
            if (byThis && meta["ownerReferences"] is JsonArray owners)
            {
                foreach (var own in owners.OfType<JsonObject>().Where(o => JsonTree.String(o, "kind") == Canary.KindName
                    && JsonTree.String(o, "name") == canary.Name).ToList())
                    owners.Remove(own);
                if (owners.Count == 0) meta.Remove("ownerReferences");
            }
            return JsonTree.Same(next, current) ? null : next;
        }, cancellationToken).ConfigureAwait(false);
        if (!written.Succeeded) return Outcome.Fail($"service {names.Apex}.{canary.Namespace} update error: {written.Error!.Message}");
        ServicesLog.ApexReverted(_logger, names.Apex, canary.Namespace, canary.TargetName);
        return Outcome.Ok;
    }

    /// <summary>Which side the apex selects now, from its selector; null when it is missing or selects neither.</summary>
    internal async Task<Outcome<ApexSelection?>> ReadApexAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var names = ServiceNames.Of(canary);
        var apex = await Services.GetAsync(canary.Namespace, names.Apex, cancellationToken).ConfigureAwait(false);
        if (!apex.Succeeded) return Outcome<ApexSelection?>.Fail($"service {names.Apex}.{canary.Namespace} get query error: {apex.Error!.Message}");
        var target = await TargetMetadata.ReadAsync(_client, canary, _options, cancellationToken).ConfigureAwait(false);
        if (!target.Succeeded) return Outcome<ApexSelection?>.Fail(target.Error!);
        var selected = JsonTree.String(apex.Value, "spec", "selector", target.Value!.SelectorLabel);
        return Outcome<ApexSelection?>.Ok(selected == target.Value.PrimarySelectorValue ? ApexSelection.Primary
            : selected == target.Value.SelectorValue ? ApexSelection.Canary
            : null);
    }

    /// <summary>The <see cref="RouteAnnotation"/> the apex carries (null when missing or absent).</summary>
    internal async Task<Outcome<string?>> ReadRouteAnnotationAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var names = ServiceNames.Of(canary);
        var apex = await Services.GetAsync(canary.Namespace, names.Apex, cancellationToken).ConfigureAwait(false);
        if (apex.IsNotFound) return Outcome<string?>.Ok(null);
        if (!apex.Succeeded) return Outcome<string?>.Fail($"service {names.Apex}.{canary.Namespace} get query error: {apex.Error!.Message}");
        return Outcome<string?>.Ok(JsonTree.String(apex.Value, "metadata", "annotations", RouteAnnotation));
    }

    private async Task<Outcome> ReconcileServiceAsync(CanaryPolicy canary, string name, string label, string selectorValue, JsonArray ports,
        CustomMetadata? metadata, JsonObject owner, string? route, CancellationToken cancellationToken)
    {
        var service = canary.Manifest.Spec.Service;
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in metadata?.Labels ?? new Dictionary<string, string>()) labels[k] = v;
        labels[label] = name;
        var annotations = ObjectMetadata.WithoutToolkit(metadata?.Annotations ?? new Dictionary<string, string>());
        if (route is not null) annotations[RouteAnnotation] = route;
        var selector = new JsonObject { [label] = selectorValue };

        var existing = await Services.GetAsync(canary.Namespace, name, cancellationToken).ConfigureAwait(false);
        if (existing.IsNotFound)
        {
            var spec = new JsonObject { ["type"] = "ClusterIP", ["selector"] = selector, ["ports"] = ports.DeepClone() };
            if (service?.Headless == true) spec["clusterIP"] = "None";
            if (!string.IsNullOrEmpty(service?.TrafficDistribution)) spec["trafficDistribution"] = service.TrafficDistribution;
            var created = await Services.CreateAsync(new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Service",
                ["metadata"] = new JsonObject
                {
                    ["name"] = name,
                    ["namespace"] = canary.Namespace,
                    ["labels"] = JsonTree.ToNode(labels),
                    ["annotations"] = annotations.Count > 0 ? JsonTree.ToNode(annotations) : null,
                    ["ownerReferences"] = new JsonArray(owner.DeepClone()),
                },
                ["spec"] = spec,
            }, cancellationToken).ConfigureAwait(false);
            if (!created.Succeeded && !created.IsAlreadyExists)
                return Outcome.Fail($"service {name}.{canary.Namespace} create error: {created.Error!.Message}");
            if (created.Succeeded) ServicesLog.Created(_logger, name, canary.Namespace);
            return Outcome.Ok;
        }
        if (!existing.Succeeded) return Outcome.Fail($"service {name} get query error: {existing.Error!.Message}");

        var changed = false;
        var written = await Services.UpdateWithRetryAsync(canary.Namespace, name, current =>
        {
            var next = (JsonObject)current.DeepClone();
            var spec = JsonTree.Ensure(next, "spec");
            var desiredPorts = WithNodePorts(ports, JsonTree.Array(spec, "ports"));
            if (!JsonTree.Same(SortedPorts(desiredPorts), SortedPorts(JsonTree.Array(spec, "ports"))))
                spec["ports"] = desiredPorts;
            if (!JsonTree.Same(spec["selector"], selector))
            {
                spec["selector"] = selector.DeepClone();
                if (!string.IsNullOrEmpty(service?.TrafficDistribution)) spec["trafficDistribution"] = service.TrafficDistribution;
            }
            var meta = JsonTree.Ensure(next, "metadata");
            var (_, ownedByThis) = ObjectMetadata.ControlledBy(current, canary);
            if (ownedByThis)
            {
                var currentAnnotations = JsonTree.Map(meta["annotations"]);
                var currentLabels = JsonTree.Map(meta["labels"]);
                var newAnnotations = new SortedDictionary<string, string>(annotations, StringComparer.Ordinal);
                var newLabels = new SortedDictionary<string, string>(labels, StringComparer.Ordinal);
                foreach (var key in service?.UnmanagedMetadata?.Annotations ?? [])
                    if (currentAnnotations.TryGetValue(key, out var v)) newAnnotations[key] = v;
                foreach (var key in service?.UnmanagedMetadata?.Labels ?? [])
                    if (currentLabels.TryGetValue(key, out var v)) newLabels[key] = v;
                if (!newAnnotations.SequenceEqual(currentAnnotations))
                {
                    if (newAnnotations.Count > 0) meta["annotations"] = JsonTree.ToNode(newAnnotations);
                    else meta.Remove("annotations");
                }
                if (!newLabels.SequenceEqual(currentLabels)) meta["labels"] = JsonTree.ToNode(newLabels);
            }
            else if (JsonTree.String(meta, "annotations", RouteAnnotation) != route)
            {
                // A Service Aviary does not own keeps its metadata, but for the routing mark of the kubernetes provider.
                var own = JsonTree.Ensure(meta, "annotations");
                if (route is null) own.Remove(RouteAnnotation);
                else own[RouteAnnotation] = route;
            }
            if (JsonTree.Same(next, current)) return null;
            changed = true;
            return next;
        }, cancellationToken).ConfigureAwait(false);
        if (!written.Succeeded) return Outcome.Fail($"service {name} update error: {written.Error!.Message}");
        if (changed) ServicesLog.Updated(_logger, name, canary.Namespace);
        return Outcome.Ok;
    }

    /// <summary>The Service ports of a canary: its own port, then the discovered ones that do not collide with it.</summary>
    internal static JsonArray Ports(CanaryPolicy canary, int port, TargetMetadata target)
    {
        var service = canary.Manifest.Spec.Service;
        var portName = string.IsNullOrEmpty(service?.PortName) ? "http" : service.PortName;
        JsonNode targetPort = service?.TargetPort is { } tp && tp.ToString() is not ("" or "0")
            ? tp.IsInt ? JsonValue.Create(tp.IntValue!.Value) : JsonValue.Create(tp.StringValue!)
            : JsonValue.Create(port);
        var main = new JsonObject { ["name"] = portName, ["protocol"] = "TCP", ["port"] = port, ["targetPort"] = targetPort };
        if (!string.IsNullOrEmpty(service?.AppProtocol)) main["appProtocol"] = service.AppProtocol;
        var ports = new JsonArray(main);
        foreach (var discovered in target.Ports)
        {
            if (discovered.Name == portName || discovered.Port == port) continue;
            ports.Add(new JsonObject { ["name"] = discovered.Name, ["protocol"] = "TCP", ["port"] = discovered.Port, ["targetPort"] = discovered.Port });
        }
        return ports;
    }

    /// <summary>The desired ports with the node ports the existing Service has for the same names (Flagger keeps them).</summary>
    private static JsonArray WithNodePorts(JsonArray desired, JsonArray? existing)
    {
        var result = (JsonArray)desired.DeepClone();
        foreach (var port in result.OfType<JsonObject>())
        {
            var match = existing?.OfType<JsonObject>().FirstOrDefault(e => JsonTree.String(e, "name") == JsonTree.String(port, "name"));
            if (JsonTree.Long(match, "nodePort") is long nodePort and > 0) port["nodePort"] = nodePort;
        }
        return result;
    }

    private static JsonArray SortedPorts(JsonArray? ports) =>
        new([.. (ports ?? []).OrderBy(p => JsonTree.Long(p, "port") ?? 0).ThenBy(p => JsonTree.String(p, "name"), StringComparer.Ordinal)
            .Select(p => p?.DeepClone())]);
}
