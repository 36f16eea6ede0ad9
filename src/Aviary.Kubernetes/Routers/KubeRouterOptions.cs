namespace Aviary.Kubernetes.Routers;

/// <summary>Settings of the Kubernetes routers (Flagger's command-line flags of the same meaning).</summary>
public sealed record KubeRouterOptions
{
    /// <summary>The annotation prefix of the NGINX ingress controller (Flagger's <c>-ingress-annotations-prefix</c>).</summary>
    public const string DefaultIngressAnnotationsPrefix = "nginx.ingress.kubernetes.io";

    /// <summary>
    /// The provider of canaries whose <c>spec.provider</c> is empty (Flagger's <c>-mesh-provider</c>). Default null:
    /// an empty provider is an error rather than a guess.
    /// </summary>
    public string? DefaultProvider { get; init; }

    /// <summary>Prefix of the canary annotations the <c>nginx</c> router writes; default <see cref="DefaultIngressAnnotationsPrefix"/>.</summary>
    public string IngressAnnotationsPrefix { get; init; } = DefaultIngressAnnotationsPrefix;

    /// <summary>
    /// The ingress class the <c>contour</c> router's HTTPProxy names (<c>projectcontour.io/ingress.class</c>; Flagger's
    /// <c>-ingress-class</c>); none when null.
    /// </summary>
    public string? IngressClass { get; init; }
}
