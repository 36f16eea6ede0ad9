using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Chooses the router of a canary by its provider name. Known names: <see cref="Providers"/> (plus Flagger's
/// <c>smi:vX:&lt;mesh&gt;</c> spelling). A provider the Kubernetes runtime does not implement, an unknown name, or an
/// empty one without <see cref="KubeRouterOptions.DefaultProvider"/> is a failed <see cref="Outcome{T}"/> — never a
/// silent fallback to another router.
/// </summary>
public sealed class KubeRouterFactory
{
    private readonly KubeClient _client;
    private readonly KubeRouterOptions _options;
    private readonly ILogger _logger;

    /// <param name="client">The API client the routers write through.</param>
    /// <param name="options">Default provider and NGINX prefix; defaults when null.</param>
    /// <param name="loggerFactory">Where the routers log (category <c>Aviary.Kubernetes.Routers</c>); nowhere when null.</param>
    public KubeRouterFactory(KubeClient client, KubeRouterOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _options = options ?? new KubeRouterOptions();
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Aviary.Kubernetes.Routers");
    }

    /// <summary>The mesh and ingress providers it builds routers for (<c>kubernetes</c> is the Services alone).</summary>
    public static IReadOnlyList<string> Routed { get; } =
    [
        Providers.Linkerd, Providers.Osm, Providers.SmiV1Alpha1, Providers.SmiV1Alpha2, Providers.SmiV1Alpha3, Providers.GatewayApiV1Beta1,
        Providers.GatewayApiV1, Providers.Istio, Providers.Nginx, Providers.Traefik, Providers.Apisix, Providers.Contour, Providers.Gloo, Providers.Kuma, Providers.Skipper, Providers.Knative,
    ];

    /// <summary>The router of <paramref name="canary"/>'s provider.</summary>
    public Outcome<IKubeRouter> Create(CanaryPolicy canary)
    {
        ArgumentNullException.ThrowIfNull(canary);
        return Create(canary.Provider);
    }

    /// <summary>The router of <paramref name="provider"/> (empty: <see cref="KubeRouterOptions.DefaultProvider"/>).</summary>
    public Outcome<IKubeRouter> Create(string? provider)
    {
        var name = string.IsNullOrEmpty(provider) ? _options.DefaultProvider : provider;
        if (string.IsNullOrEmpty(name))
            return Outcome<IKubeRouter>.Fail("spec.provider is empty and the operator has no default provider; set spec.provider to one of " + string.Join(", ", Routed));
        switch (name)
        {
            case Providers.Kubernetes:
                return Outcome<IKubeRouter>.Fail("provider 'kubernetes' has no routing object: the Services are its router (KubernetesServiceRouter)");
            case Providers.Linkerd: return new SmiRouter(_client, SmiVersion.V1Alpha2, name, null, _logger);
            case Providers.Osm: return new SmiRouter(_client, SmiVersion.V1Alpha2, name, "osm", _logger);
            case Providers.GatewayApiV1Beta1: return new GatewayApiRouter(_client, GatewayApiVersion.V1Beta1, _logger);
            case Providers.GatewayApiV1: return new GatewayApiRouter(_client, GatewayApiVersion.V1, _logger);
            case Providers.Istio: return new IstioRouter(_client, _logger);
            case Providers.Nginx: return new NginxRouter(_client, _options.IngressAnnotationsPrefix, _logger);
            case Providers.Traefik: return new TraefikRouter(_client, _logger);
            case Providers.Apisix: return new ApisixRouter(_client, _logger);
            case Providers.Knative: return new KnativeRouter(_client, _logger);
            case Providers.Skipper: return new SkipperRouter(_client, _logger);
            case Providers.Kuma: return new KumaRouter(_client, _logger);
            case Providers.Gloo: return new GlooRouter(_client, _logger);
            case Providers.Contour: return new ContourRouter(_client, _options.IngressClass, _logger);
        }
        // Flagger's smi:<version>[:<mesh>].
        var parts = name.Split(':');
        if (parts is ["smi", var version, ..] && parts.Length <= 3)
        {
            SmiVersion? smi = version switch
            {
                "v1alpha1" => SmiVersion.V1Alpha1,
                "v1alpha2" => SmiVersion.V1Alpha2,
                "v1alpha3" => SmiVersion.V1Alpha3,
                _ => null,
            };
            if (smi is { } v) return new SmiRouter(_client, v, name, parts.Length == 3 ? parts[2] : null, _logger);
        }
        var known = Providers.IsKnown(name);
        return Outcome<IKubeRouter>.Fail(known
            ? $"provider '{name}' is not supported by the Kubernetes runtime (supported: {string.Join(", ", Routed)})"
            : $"unknown provider '{name}' (the Kubernetes runtime supports {string.Join(", ", Routed)})");
    }
}
