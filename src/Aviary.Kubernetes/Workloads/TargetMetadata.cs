using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Workloads;

/// <summary>A container port found by <c>spec.service.portDiscovery</c>, exposed by the Services as <c>{Port}:{Port}</c>.</summary>
/// <param name="Name">The port's name, or <c>tcp-{container}-{index}</c>.</param>
/// <param name="Port">The container port.</param>
public sealed record DiscoveredPort(string Name, int Port);

/// <summary>
/// What the Services and routers need to know about a canary's target (Flagger's <c>GetMetadata</c>): the selector
/// label and its value (the primary's pods carry <c>{value}-primary</c>), and with <c>portDiscovery</c> the other
/// ports of its containers.
/// </summary>
/// <param name="SelectorLabel">The first of <see cref="WorkloadOptions.SelectorLabels"/> in the target's <c>spec.selector.matchLabels</c>.</param>
/// <param name="SelectorValue">Its value on the target's pods.</param>
/// <param name="Ports">The discovered ports (empty without <c>portDiscovery</c>), ordered by port.</param>
public sealed record TargetMetadata(string SelectorLabel, string SelectorValue, IReadOnlyList<DiscoveredPort> Ports)
{
    /// <summary>The selector value of the primary's pods.</summary>
    public string PrimarySelectorValue => SelectorValue + "-primary";

    /// <summary>Mesh sidecars whose ports are never discovered (Flagger's list).</summary>
    private static readonly HashSet<string> Sidecars = new(StringComparer.Ordinal) { "istio-proxy", "envoy" };

    /// <summary>Reads the target (a Deployment or DaemonSet) of <paramref name="canary"/>.</summary>
    public static async Task<Outcome<TargetMetadata>> ReadAsync(KubeClient client, CanaryPolicy canary, WorkloadOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(canary);
        options ??= WorkloadOptions.Default;
        var resource = canary.TargetKind switch
        {
            "Deployment" => KubeResources.Deployments,
            "DaemonSet" => KubeResources.DaemonSets,
            _ => null,
        };
        if (resource is null)
            return Outcome<TargetMetadata>.Fail($"targetRef kind {canary.TargetKind} is not supported by Aviary's Kubernetes runtime (Deployment or DaemonSet)");
        var lower = canary.TargetKind.ToLowerInvariant();
        var target = await client.Resource(resource).GetAsync(canary.Namespace, canary.TargetName, cancellationToken).ConfigureAwait(false);
        if (!target.Succeeded) return Outcome<TargetMetadata>.Fail($"{lower} {canary.TargetId} get query error: {target.Error!.Message}");
        var selector = FindSelectorLabel(target.Value, lower, canary.TargetId, options.SelectorLabels);
        if (!selector.Succeeded) return Outcome<TargetMetadata>.Fail(selector.Error!);
        var ports = canary.Manifest.Spec.Service?.PortDiscovery == true
            ? DiscoverPorts(canary, JsonTree.Array(target.Value, "spec", "template", "spec", "containers"))
            : [];
        return new TargetMetadata(selector.Value.Label, selector.Value.Value, ports);
    }

    /// <summary>The selector label and value of a Deployment or DaemonSet, or Flagger's error.</summary>
    internal static Outcome<(string Label, string Value)> FindSelectorLabel(JsonObject target, string kindLower, string targetId, IReadOnlyList<string> labels)
    {
        var matchLabels = JsonTree.Map(JsonTree.Object(target, "spec", "selector", "matchLabels"));
        foreach (var label in labels)
            if (matchLabels.TryGetValue(label, out var value)) return (label, value);
        return Outcome<(string, string)>.Fail($"{kindLower} {targetId} spec.selector.matchLabels must contain one of [{string.Join(' ', labels)}]");
    }

    /// <summary>
    /// Flagger's <c>getPorts</c>: every container port but the sidecars' and the service's own (its targetPort, by
    /// number or name, else its port), named by the port's name or <c>tcp-{container}-{index}</c>. A port number
    /// found twice is kept once (a Service cannot expose it twice).
    /// </summary>
    internal static IReadOnlyList<DiscoveredPort> DiscoverPorts(CanaryPolicy canary, JsonArray? containers)
    {
        var targetPort = canary.Manifest.Spec.Service?.TargetPort is { } tp && tp.ToString() is not ("" or "0") ? tp : (Core.Primitives.IntOrString?)null;
        var found = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var container in (containers ?? []).OfType<JsonObject>())
        {
            var containerName = JsonTree.String(container, "name") ?? "";
            if (Sidecars.Contains(containerName)) continue;
            var index = 0;
            foreach (var port in (JsonTree.Array(container, "ports") ?? []).OfType<JsonObject>())
            {
                var i = index++;
                if (JsonTree.Long(port, "containerPort") is not { } number) continue;
                var portName = JsonTree.String(port, "name");
                if (targetPort is not { } target)
                {
                    if (number == canary.ServicePort) continue;
                }
                else if (target.IsInt ? number == target.IntValue : portName == target.StringValue)
                {
                    continue;
                }
                var name = string.IsNullOrEmpty(portName) ? $"tcp-{containerName}-{i.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : portName;
                found[name] = (int)number;
            }
        }
        return found.GroupBy(kv => kv.Value).Select(g => new DiscoveredPort(g.First().Key, g.Key)).OrderBy(p => p.Port).ToList();
    }
}
