using Aviary.Core.Policy;
using Aviary.Core.Validation;

namespace Aviary.Core.Abstractions;

/// <summary>
/// What the router of a provider can do: the one table that validation, the runtimes, the scheduler and the routers
/// consult, so an unsupported strategy is refused with its field path before anything runs.
/// </summary>
/// <param name="Weights">Progressive traffic: the router splits by weight. False for <c>kubernetes</c>, whose Services
/// switch all traffic at once (Flagger then runs blue/green).</param>
/// <param name="Match">A/B testing: routes requests by <c>analysis.match</c> (headers, cookies, query).</param>
/// <param name="Mirror">Copies traffic to the canary (<c>analysis.mirror</c>).</param>
/// <param name="SessionAffinity">Keeps a user on the arm a cookie names (<c>analysis.sessionAffinity</c>).</param>
public sealed record RouterCapabilities(bool Weights, bool Match, bool Mirror, bool SessionAffinity)
{
    private static readonly RouterCapabilities Everything = new(true, true, true, true);
    private static readonly RouterCapabilities WeightsOnly = new(true, false, false, false);
    private static readonly RouterCapabilities WeightsAndMatch = new(true, true, false, false);
    private static readonly RouterCapabilities ServicesOnly = new(false, false, false, false);

    /// <summary>
    /// The capabilities of <paramref name="provider"/>'s router. A/B testing follows Flagger's documentation (Istio, NGINX,
    /// Contour, Gloo, Gateway API; App Mesh is retired, see <see cref="Providers.Retired"/>); mirroring and session affinity are Istio's and Gateway API's there, and Aviary's
    /// built-in router has all four. An empty provider
    /// (the runtime's default, not chosen yet) refuses nothing: each runtime checks again once it has chosen.
    /// </summary>
    public static RouterCapabilities Of(string provider) => provider switch
    {
        "" or Providers.Builtin => Everything,
        Providers.Kubernetes => ServicesOnly,
        Providers.Istio or Providers.GatewayApiV1 or Providers.GatewayApiV1Beta1 => Everything,
        Providers.Nginx or Providers.Contour or Providers.Gloo => WeightsAndMatch,
        _ => WeightsOnly,
    };

    /// <summary>
    /// The capabilities of <paramref name="provider"/>'s router for <paramref name="canary"/>: a Gateway API router writing a
    /// <c>GRPCRoute</c> (<c>spec.service.routeKind</c>) has no session affinity (gRPC clients keep no cookies).
    /// </summary>
    public static RouterCapabilities For(CanaryPolicy canary, string provider)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var can = Of(provider);
        return IsGrpcRoute(canary) && provider.StartsWith("gatewayapi", StringComparison.Ordinal) ? can with { SessionAffinity = false } : can;
    }

    /// <summary>Whether <paramref name="canary"/> asks for a Gateway API <c>GRPCRoute</c> (<c>spec.service.routeKind</c>).</summary>
    public static bool IsGrpcRoute(CanaryPolicy canary) => canary?.Manifest.Spec.Service?.RouteKind == "GRPCRoute";

    /// <summary>
    /// Checks <paramref name="canary"/> against the capabilities of <paramref name="provider"/> (its own when null). An
    /// unsupported feature is an error at its field path; for <c>kubernetes</c> it is a warning, because Flagger runs such a
    /// canary as blue/green without it.
    /// </summary>
    public static IReadOnlyList<Diagnostic> Check(CanaryPolicy canary, string? provider = null)
    {
        ArgumentNullException.ThrowIfNull(canary);
        provider ??= canary.Provider;
        var can = For(canary, provider);
        var found = new List<Diagnostic>();
        if (IsGrpcRoute(canary) && provider.Length > 0 && !provider.StartsWith("gatewayapi", StringComparison.Ordinal))
            found.Add(Diagnostic.Error("spec.service.routeKind", $"GRPCRoute is written by the gatewayapi:v1 and gatewayapi:v1beta1 routers only, not by the {provider} router"));
        void Refuse(string path, string feature, Func<RouterCapabilities, bool> has)
        {
            var message = $"{feature} is not supported by the {provider} router (providers that support it: {string.Join(", ", Providers.All.Where(p => Providers.Retired(p) is null && has(Of(p))))})";
            found.Add(can.Weights ? Diagnostic.Error(path, message) : Diagnostic.Warning(path, message + "; ignored, the Services switch all traffic at once"));
        }
        if (canary.Match.Count > 0 && !can.Match) Refuse("spec.analysis.match", "A/B testing", c => c.Match);
        if (canary.Mirror && !can.Mirror) Refuse("spec.analysis.mirror", "mirroring", c => c.Mirror);
        if (canary.SessionAffinity is not null && !can.SessionAffinity)
        {
            if (IsGrpcRoute(canary) && Of(provider).SessionAffinity)
                found.Add(Diagnostic.Error("spec.analysis.sessionAffinity", $"session affinity is not supported by the {provider} router for a GRPCRoute (spec.service.routeKind): gRPC clients keep no cookies"));
            else Refuse("spec.analysis.sessionAffinity", "session affinity", c => c.SessionAffinity);
        }
        return found;
    }

    /// <summary>
    /// What a router answers when asked to route <paramref name="canary"/> (with <paramref name="mirrored"/> weights) beyond
    /// its capabilities; null when it can.
    /// </summary>
    public static string? Refusal(CanaryPolicy canary, string provider, bool mirrored = false)
    {
        if (Check(canary, provider).FirstOrDefault(d => d.IsError) is { } error) return $"cannot route {canary.Id}: {error}";
        return mirrored && !For(canary, provider).Mirror ? $"cannot route {canary.Id}: mirroring is not supported by the {provider} router (asked for mirrored weights)" : null;
    }
}
