using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Routers;

/// <summary>The SMI TrafficSplit API version a <see cref="SmiRouter"/> writes.</summary>
public enum SmiVersion
{
    /// <summary><c>split.smi-spec.io/v1alpha1</c>: weights are quantities, written as strings (<c>"90"</c>).</summary>
    V1Alpha1,

    /// <summary><c>split.smi-spec.io/v1alpha2</c>: integer weights (what Linkerd's SMI extension serves).</summary>
    V1Alpha2,

    /// <summary><c>split.smi-spec.io/v1alpha3</c>: integer weights, as v1alpha2.</summary>
    V1Alpha3,
}

/// <summary>
/// Providers <c>linkerd</c>, <c>osm</c> and <c>smi:v1alpha1|v1alpha2|v1alpha3</c>: one SMI <c>TrafficSplit</c> named
/// after the apex service, owned by the Canary, with <c>spec.service</c> = the first of <c>service.hosts</c> (else the
/// apex name) and two backends, <c>&lt;svc&gt;-canary</c> and <c>&lt;svc&gt;-primary</c>, carrying the weights. A
/// TrafficSplit splits by weight only: A/B testing, mirroring and session affinity are answered with a failed
/// <see cref="Outcome"/>.
/// </summary>
public sealed class SmiRouter : WeightedObjectRouter
{
    private readonly SmiVersion _version;
    private readonly string? _targetMesh;

    /// <param name="client">The API client.</param>
    /// <param name="version">The TrafficSplit version to write and read.</param>
    /// <param name="provider">The provider name it serves (for messages).</param>
    /// <param name="targetMesh">The mesh of <c>smi:vX:&lt;mesh&gt;</c>; <c>istio</c> adds the gateways annotation Istio's SMI adapter reads.</param>
    /// <param name="logger">Where it logs; nowhere when null.</param>
    public SmiRouter(KubeClient client, SmiVersion version = SmiVersion.V1Alpha2, string provider = "linkerd", string? targetMesh = null,
        ILogger? logger = null)
        : base(client, KubeResources.TrafficSplits.WithVersion(VersionName(version)), logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(provider);
        _version = version;
        _targetMesh = targetMesh;
        Provider = provider;
    }

    public override string Provider { get; }

    private static string VersionName(SmiVersion version) => version switch
    {
        SmiVersion.V1Alpha1 => "v1alpha1",
        SmiVersion.V1Alpha3 => "v1alpha3",
        _ => "v1alpha2",
    };

    private protected override JsonObject? Desire(CanaryPolicy canary, JsonObject? current, RouteWeights weights)
    {
        var host = canary.Manifest.Spec.Service?.Hosts is [var first, ..] ? first : canary.ServiceName;
        var spec = new JsonObject
        {
            ["service"] = host,
            ["backends"] = new JsonArray(
                Backend(canary.ServiceName + "-canary", weights.Canary),
                Backend(canary.ServiceName + "-primary", weights.Primary)),
        };
        Dictionary<string, string>? annotations = null;
        if (_targetMesh == "istio" && canary.Manifest.Spec.Service?.Gateways is { Count: > 0 } gateways)
        {
            annotations = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["VirtualService.v1alpha3.networking.istio.io/spec.gateways"] = JsonSerializer.Serialize(gateways, KubeJson.Options),
            };
        }
        return RoutingJson.Desire(Objects.Type, canary.ServiceName, canary, current, spec, labels: null, annotations);
    }

    private JsonObject Backend(string service, int weight) => new()
    {
        ["service"] = service,
        // v1alpha1 weights are resource quantities, which Kubernetes writes as strings.
        ["weight"] = _version == SmiVersion.V1Alpha1 ? JsonValue.Create(weight.ToString(System.Globalization.CultureInfo.InvariantCulture)) : JsonValue.Create(weight),
    };

    private protected override Outcome<RouteWeights> ReadWeights(CanaryPolicy canary, JsonObject split)
    {
        string primary = canary.ServiceName + "-primary", canaryName = canary.ServiceName + "-canary";
        int? p = null, c = null;
        foreach (var backend in (split["spec"]?["backends"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var service = RoutingJson.Text(backend["service"]);
            if (service != primary && service != canaryName) continue;
            var weight = RoutingJson.Integer(backend["weight"]);
            if (weight is null)
                return Outcome<RouteWeights>.Fail($"TrafficSplit {canary.ServiceName}.{canary.Namespace} backend {service} has a weight that is not a whole number: {backend["weight"]?.ToJsonString()}");
            if (service == primary) p = weight;
            else c = weight;
        }
        if ((p ?? 0) == 0 && (c ?? 0) == 0)
            return Outcome<RouteWeights>.Fail($"TrafficSplit {canary.ServiceName}.{canary.Namespace} does not contain routes for {primary} and {canaryName}");
        return new RouteWeights(p ?? 0, c ?? 0);
    }
}
