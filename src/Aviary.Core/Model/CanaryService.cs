using System.ComponentModel.DataAnnotations;
using Aviary.Core.Primitives;

namespace Aviary.Core.Model;

/// <summary>The service Aviary exposes in front of the primary and canary (Flagger's <c>spec.service</c>).</summary>
public sealed record CanaryService
{
    /// <summary>Apex service name; defaults to the target's name.</summary>
    public string? Name { get; init; }

    /// <summary>Port the apex service (or Aviary's built-in router) listens on.</summary>
    [Required] public double? Port { get; init; }
    public string? PortName { get; init; }
    public IntOrString? TargetPort { get; init; }
    public string? AppProtocol { get; init; }
    [AllowedValues("PreferClose", "PreferSameZone", "PreferSameNode")] public string? TrafficDistribution { get; init; }
    public bool? PortDiscovery { get; init; }
    public bool? Headless { get; init; }
    public string? Timeout { get; init; }
    public string? BackendTimeout { get; init; }
    public string? MeshName { get; init; }
    public IReadOnlyList<string>? Backends { get; init; }
    public IReadOnlyList<string>? Hosts { get; init; }
    public bool? Delegation { get; init; }
    public IReadOnlyList<string>? Gateways { get; init; }
    [MaxLength(32)] public IReadOnlyList<ParentReference>? GatewayRefs { get; init; }

    /// <summary>
    /// Aviary extension: the Gateway API route the <c>gatewayapi</c> routers write: <c>HTTPRoute</c> (the default, as
    /// Flagger) or <c>GRPCRoute</c> (<c>gateway.networking.k8s.io/v1</c>), whose weights, header matches and mirroring
    /// a gateway applies to gRPC calls by service and method.
    /// </summary>
    [AllowedValues("HTTPRoute", "GRPCRoute")] public string? RouteKind { get; init; }
    public IReadOnlyList<HttpMatchRequest>? Match { get; init; }
    public HttpRetry? Retries { get; init; }
    public HttpRewrite? Rewrite { get; init; }
    public IReadOnlyList<HttpRequestMirrorFilter>? Mirror { get; init; }
    public Headers? Headers { get; init; }
    public CorsPolicy? CorsPolicy { get; init; }
    public TrafficPolicy? TrafficPolicy { get; init; }
    public CustomMetadata? Apex { get; init; }
    public CustomMetadata? Primary { get; init; }
    public CustomMetadata? Canary { get; init; }
    public UnmanagedMetadata? UnmanagedMetadata { get; init; }
}

public sealed record UnmanagedMetadata
{
    public IReadOnlyList<string>? Annotations { get; init; }
    public IReadOnlyList<string>? Labels { get; init; }
}

/// <summary>Gateway API parent reference.</summary>
public sealed record ParentReference
{
    [StringLength(253)] public string? Group { get; init; }
    [StringLength(63, MinimumLength = 1)] public string? Kind { get; init; }
    [Required, StringLength(253, MinimumLength = 1)] public string Name { get; init; } = "";
    [StringLength(63, MinimumLength = 1)] public string? Namespace { get; init; }
    [StringLength(253, MinimumLength = 1)] public string? SectionName { get; init; }
    [Range(1, 65535)] public int? Port { get; init; }
}

/// <summary>Gateway API backend reference.</summary>
public sealed record BackendObjectReference
{
    [StringLength(253)] public string? Group { get; init; }
    [StringLength(63, MinimumLength = 1)] public string? Kind { get; init; }
    [Required, StringLength(253, MinimumLength = 1)] public string Name { get; init; } = "";
    [StringLength(63, MinimumLength = 1)] public string? Namespace { get; init; }
    [Range(1, 65535)] public int? Port { get; init; }
}

public sealed record HttpRequestMirrorFilter
{
    [Required] public BackendObjectReference? BackendRef { get; init; }
}

/// <summary>Istio string match: at most one of exact, prefix or regex.</summary>
public sealed record StringMatch
{
    public string? Exact { get; init; }
    public string? Prefix { get; init; }
    public string? Regex { get; init; }
}

/// <summary>Istio HTTPMatchRequest, used by <c>spec.service.match</c>.</summary>
public sealed record HttpMatchRequest
{
    public string? Name { get; init; }
    public StringMatch? Uri { get; init; }
    public StringMatch? Scheme { get; init; }
    public StringMatch? Method { get; init; }
    public StringMatch? Authority { get; init; }
    public IReadOnlyDictionary<string, StringMatch>? Headers { get; init; }
    public IReadOnlyDictionary<string, StringMatch>? QueryParams { get; init; }
    public IReadOnlyDictionary<string, StringMatch>? WithoutHeaders { get; init; }
    public int? Port { get; init; }
    public IReadOnlyDictionary<string, string>? SourceLabels { get; init; }
    public IReadOnlyList<string>? Gateways { get; init; }
    public bool? IgnoreUriCase { get; init; }
    public string? SourceNamespace { get; init; }
}

public sealed record HttpRetry
{
    public int? Attempts { get; init; }
    public string? PerTryTimeout { get; init; }
    public string? RetryOn { get; init; }
}

public sealed record HttpRewrite
{
    public string? Uri { get; init; }
    public string? Authority { get; init; }
    public string? Type { get; init; }
}

public sealed record Headers
{
    public HeaderOperations? Request { get; init; }
    public HeaderOperations? Response { get; init; }
}

public sealed record HeaderOperations
{
    public IReadOnlyDictionary<string, string>? Set { get; init; }
    public IReadOnlyDictionary<string, string>? Add { get; init; }
    public IReadOnlyList<string>? Remove { get; init; }
}

public sealed record CorsPolicy
{
    public IReadOnlyList<string>? AllowOrigin { get; init; }
    public IReadOnlyList<StringMatch>? AllowOrigins { get; init; }
    public IReadOnlyList<string>? AllowMethods { get; init; }
    public IReadOnlyList<string>? AllowHeaders { get; init; }
    public IReadOnlyList<string>? ExposeHeaders { get; init; }
    public string? MaxAge { get; init; }
    public bool? AllowCredentials { get; init; }
}

/// <summary>Istio DestinationRule traffic policy.</summary>
public sealed record TrafficPolicy
{
    public ConnectionPoolSettings? ConnectionPool { get; init; }
    public LoadBalancerSettings? LoadBalancer { get; init; }
    public OutlierDetection? OutlierDetection { get; init; }
    public ClientTlsSettings? Tls { get; init; }
}

public sealed record ConnectionPoolSettings
{
    public HttpConnectionPoolSettings? Http { get; init; }
}

public sealed record HttpConnectionPoolSettings
{
    [AllowedValues("DEFAULT", "DO_NOT_UPGRADE", "UPGRADE")] public string? H2UpgradePolicy { get; init; }
    public int? Http1MaxPendingRequests { get; init; }
    public int? Http2MaxRequests { get; init; }
    public string? IdleTimeout { get; init; }
    public int? MaxRequestsPerConnection { get; init; }
    public int? MaxRetries { get; init; }
}

public sealed record LoadBalancerSettings
{
    [AllowedValues("ROUND_ROBIN", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "LEAST_REQUEST")] public string? Simple { get; init; }
    public ConsistentHashSettings? ConsistentHash { get; init; }
    public LocalityLoadBalancerSetting? LocalityLbSetting { get; init; }
    public string? WarmupDurationSecs { get; init; }
}

public sealed record ConsistentHashSettings
{
    public string? HttpHeaderName { get; init; }
    public HttpCookie? HttpCookie { get; init; }
    public bool? UseSourceIp { get; init; }
    public string? HttpQueryParameterName { get; init; }
    public int? MinimumRingSize { get; init; }
}

public sealed record HttpCookie
{
    public string? Name { get; init; }
    public string? Path { get; init; }
    public string? Ttl { get; init; }
}

public sealed record LocalityLoadBalancerSetting
{
    public IReadOnlyList<LocalityDistribute>? Distribute { get; init; }
    public IReadOnlyList<LocalityFailover>? Failover { get; init; }
    public bool? Enabled { get; init; }
}

public sealed record LocalityDistribute
{
    public string? From { get; init; }
    public IReadOnlyDictionary<string, int>? To { get; init; }
}

public sealed record LocalityFailover
{
    public string? From { get; init; }
    public string? To { get; init; }
}

public sealed record OutlierDetection
{
    public string? BaseEjectionTime { get; init; }
    public int? Consecutive5xxErrors { get; init; }
    public int? ConsecutiveErrors { get; init; }
    public int? ConsecutiveGatewayErrors { get; init; }
    public int? ConsecutiveLocalOriginFailures { get; init; }
    public string? Interval { get; init; }
    public int? MaxEjectionPercent { get; init; }
    public int? MinHealthPercent { get; init; }
    public bool? SplitExternalLocalOriginErrors { get; init; }
}

public sealed record ClientTlsSettings
{
    [AllowedValues("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL")] public string? Mode { get; init; }
    public string? ClientCertificate { get; init; }
    public string? PrivateKey { get; init; }
    public string? CaCertificates { get; init; }
    public string? Sni { get; init; }
    public IReadOnlyList<string>? SubjectAltNames { get; init; }
}
