using System.Security.Cryptography;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// The session-affinity cookies (<c>analysis.sessionAffinity</c>) a mesh routing object carries at some weights, as
/// Flagger's Istio and Gateway API routers write them (<see cref="StickyCookies"/>): while the canary takes traffic, the
/// weighted route hands out the canary cookie on the canary's responses (and the primary cookie, when
/// <c>primaryCookieName</c> is set, on the primary's, for one analysis interval), and routes ahead of it send the
/// cookies' holders to their arm; once the canary takes nothing, a route ahead of the weighted one expires the last
/// rollout's canary cookie.
/// </summary>
/// <remarks>
/// Flagger keeps the cookie values in the Canary's status; here the routing object itself is the state: the values are
/// read back from its cookie-matching routes (<see cref="Read"/>), so a restarted operator keeps them and a new rollout
/// (the canary takes traffic again after a promotion or rollback) gets new ones.
/// </remarks>
/// <param name="Canary">The canary cookie while the canary takes traffic.</param>
/// <param name="Primary">The primary cookie while the canary takes traffic, when <c>primaryCookieName</c> is set.</param>
/// <param name="Previous">The last rollout's canary cookie, expired while the canary takes nothing.</param>
internal sealed record SessionCookies(SessionAffinity Affinity, (string Name, string Value)? Canary, (string Name, string Value)? Primary,
    (string Name, string Value)? Previous, long PrimaryMaxAge)
{
    /// <summary>A cookie-matching route of the current object: its <c>Cookie</c> regex and whether it expires the cookie.</summary>
    public readonly record struct Route(string? CookieRegex, bool Expires);

    /// <summary>The cookies at <paramref name="weights"/>; null when the canary has no session affinity or is an A/B test (whose matches decide, as in Flagger).</summary>
    public static SessionCookies? Read(CanaryPolicy canary, RouteWeights weights, IEnumerable<Route> current)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (canary.SessionAffinity is not { } affinity || canary.Match.Count > 0) return null;
        (string Name, string Value)? canaryCookie = null, primaryCookie = null, previous = null;
        foreach (var route in current)
        {
            if (StickyCookies.ParseMatchRegex(route.CookieRegex) is not { } cookie) continue;
            if (route.Expires) previous ??= cookie;
            else if (cookie.Name == affinity.CookieName) canaryCookie ??= cookie;
            else if (cookie.Name == affinity.PrimaryCookieName) primaryCookie ??= cookie;
        }
        var primaryAge = (long)canary.Interval.TotalSeconds;
        if (weights.Canary == 0 || weights.Mirrored) return new SessionCookies(affinity, null, null, canaryCookie ?? previous, primaryAge);
        canaryCookie ??= (affinity.CookieName, NewValue());
        if (affinity.PrimaryCookieName is { Length: > 0 } primaryName) primaryCookie ??= (primaryName, NewValue());
        else primaryCookie = null;
        return new SessionCookies(affinity, canaryCookie, primaryCookie, null, primaryAge);
    }

    /// <summary>The canary's Set-Cookie on the weighted route, or null.</summary>
    public string? CanarySetCookie => Canary is var (name, value) ? StickyCookies.SetCookie(Affinity, name, value, StickyCookies.MaxAge(Affinity)) : null;

    /// <summary>The primary's Set-Cookie on the weighted route (Max-Age: the analysis interval, as Flagger), or null.</summary>
    public string? PrimarySetCookie => Primary is var (name, value) ? StickyCookies.SetCookie(Affinity, name, value, PrimaryMaxAge) : null;

    /// <summary>The Set-Cookie that deletes the previous rollout's cookie, or null.</summary>
    public string? PreviousExpiry => Previous is var (name, value) ? StickyCookies.Expire(name, value) : null;

    private static string NewValue() => StickyCookies.NewValue(n => RandomNumberGenerator.GetInt32(n));

    /// <summary>The regex of a <c>Cookie</c> header that carries <paramref name="cookie"/>.</summary>
    public static string MatchRegex((string Name, string Value) cookie) => StickyCookies.MatchRegex(cookie.Name, cookie.Value);
}
