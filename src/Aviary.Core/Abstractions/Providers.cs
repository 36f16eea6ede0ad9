using System.ComponentModel.DataAnnotations;

namespace Aviary.Core.Abstractions;

/// <summary>
/// Every traffic provider a Canary may name in <c>spec.provider</c>: Flagger's names, plus Aviary's local <c>builtin</c>
/// (the embedded router) and <c>haproxy</c>. The one list; what each provider can do is in <see cref="RouterCapabilities"/>.
/// </summary>
public static class Providers
{
    public const string Builtin = "builtin";
    public const string HAProxy = "haproxy";
    public const string Kubernetes = "kubernetes";
    public const string Istio = "istio";
    public const string Linkerd = "linkerd";
    public const string AppMesh = "appmesh";
    public const string AppMeshV1Beta2 = "appmesh:v1beta2";
    public const string Contour = "contour";
    public const string GatewayApiV1 = "gatewayapi:v1";
    public const string GatewayApiV1Beta1 = "gatewayapi:v1beta1";
    public const string Gloo = "gloo";
    public const string Knative = "knative";
    public const string Kuma = "kuma";
    public const string Nginx = "nginx";
    public const string Osm = "osm";
    public const string Skipper = "skipper";
    public const string SmiV1Alpha1 = "smi:v1alpha1";
    public const string SmiV1Alpha2 = "smi:v1alpha2";
    public const string SmiV1Alpha3 = "smi:v1alpha3";
    public const string Traefik = "traefik";
    public const string Apisix = "apisix";

    /// <summary>All of them, in a stable order.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        Apisix, AppMesh, AppMeshV1Beta2, Builtin, Contour, GatewayApiV1, GatewayApiV1Beta1, Gloo, HAProxy, Istio, Knative, Kubernetes, Kuma,
        Linkerd, Nginx, Osm, Skipper, SmiV1Alpha1, SmiV1Alpha2, SmiV1Alpha3, Traefik,
    ];

    /// <summary>
    /// Providers a Canary may still name (so that the error is about the provider, not a typo) but that no runtime runs,
    /// with the reason: AWS App Mesh reached its end of life on 30 September 2026.
    /// </summary>
    public static string? Retired(string? provider) => provider is AppMesh or AppMeshV1Beta2
        ? "AWS App Mesh reached its end of life in September 2026 and Aviary has no router for it; move the service to another mesh or ingress (for example gatewayapi:v1 or istio)"
        : null;

    /// <summary>Whether <paramref name="provider"/> is one of <see cref="All"/>.</summary>
    public static bool IsKnown(string? provider) => provider is not null && All.Contains(provider, StringComparer.Ordinal);
}

/// <summary>Validation rule for <c>spec.provider</c>: empty (the runtime's default) or one of <see cref="Providers.All"/>.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ProviderNameAttribute() : AllowedValuesAttribute([.. Providers.All.Prepend("").Cast<object?>()]);
