using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Routing.Proxy.LoadBalancing;

namespace Aviary.Routing.Proxy.Configuration;

/// <summary>
/// The compiled, immutable routing of one service. A request reads the current model once and is routed by it alone,
/// so a weight change is atomic: each request sees either the old or the new model, never a mix.
/// </summary>
internal sealed class RouteModel
{
    private RouteModel(RouteConfig config, RequestMatcher[] matchers, StickyCookie? canaryCookie, StickyCookie? primaryCookie,
        StickyCookie? previousCanaryCookie)
    {
        Config = config;
        Matchers = matchers;
        CanaryWeight = Math.Max(0, config.Weights.Canary);
        TotalWeight = Math.Max(0, config.Weights.Primary) + CanaryWeight;
        Mirrored = config.Weights.Mirrored;
        MirrorPercent = config.MirrorWeight is <= 0 or > 100 ? 100 : config.MirrorWeight;
        CanaryCookie = canaryCookie;
        PrimaryCookie = primaryCookie;
        PreviousCanaryCookie = previousCanaryCookie;
    }

    public static RouteModel Initial { get; } = new(RouteConfig.AllPrimary, [], null, null, null);

    public RouteConfig Config { get; }

    /// <summary>Empty: every request is split by the weights. Otherwise only requests matching one of them are.</summary>
    public RequestMatcher[] Matchers { get; }

    public int CanaryWeight { get; }

    public int TotalWeight { get; }

    public bool Mirrored { get; }

    /// <summary>Percent of requests copied to the canary when <see cref="Mirrored"/>; a mirror weight of 0 means 100.</summary>
    public int MirrorPercent { get; }

    /// <summary>Set while the canary weight is above 0 and session affinity is on.</summary>
    public StickyCookie? CanaryCookie { get; }

    /// <summary>Set with <see cref="CanaryCookie"/> when a primary cookie name is configured.</summary>
    public StickyCookie? PrimaryCookie { get; }

    /// <summary>The last rollout's canary cookie while the canary weight is 0: clients still sending it are told to drop it.</summary>
    public StickyCookie? PreviousCanaryCookie { get; }

    /// <summary>Validates <paramref name="config"/> and compiles it; cookie values carry over from <paramref name="previous"/>
    /// while the rollout goes on and are drawn anew when the canary weight rises from 0.</summary>
    public static RouteModel Create(RouteConfig config, RouteModel previous, SharedRandom random)
    {
        ArgumentNullException.ThrowIfNull(config);
        List<string> errors = [];
        var weights = config.Weights;
        if (weights.Primary is < 0 or > 100) errors.Add($"weights.primary {weights.Primary} is outside 0..100");
        if (weights.Canary is < 0 or > 100) errors.Add($"weights.canary {weights.Canary} is outside 0..100");
        if (weights.Primary + weights.Canary != 100) errors.Add($"weights {weights} do not add up to 100");
        if (config.MirrorWeight is < 0 or > 100) errors.Add($"mirrorWeight {config.MirrorWeight} is outside 0..100");
        if (config.PrimaryCookieMaxAge is { } age && age < TimeSpan.Zero) errors.Add("primaryCookieMaxAge must not be negative");

        var matchers = new List<RequestMatcher>();
        var match = config.Match ?? [];
        for (var i = 0; i < match.Count; i++)
        {
            if (match[i] is null) errors.Add($"match[{i}] is null");
            else if (RequestMatcher.Create(match[i], $"match[{i}]", errors) is { } matcher) matchers.Add(matcher);
        }

        var affinity = config.SessionAffinity;
        long maxAge = StickyCookies.DefaultMaxAgeSeconds;
        if (affinity is not null)
        {
            if (!IsToken(affinity.CookieName)) errors.Add($"sessionAffinity.cookieName '{affinity.CookieName}' is not a valid cookie name");
            if (affinity.PrimaryCookieName is { Length: > 0 } primaryName)
            {
                if (!IsToken(primaryName)) errors.Add($"sessionAffinity.primaryCookieName '{primaryName}' is not a valid cookie name");
                else if (primaryName == affinity.CookieName) errors.Add("sessionAffinity.primaryCookieName must differ from cookieName");
            }
            if (affinity.MaxAge is { } m)
            {
                if (m < 0 || m != Math.Floor(m) || m > int.MaxValue) errors.Add($"sessionAffinity.maxAge {m} is not a whole number of seconds");
                else if (m > 0) maxAge = (long)m;
            }
            if (affinity.SameSite is { Length: > 0 } sameSite && sameSite is not ("Strict" or "Lax" or "None"))
                errors.Add($"sessionAffinity.sameSite '{sameSite}' is not one of Strict, Lax, None");
            if (!IsAttributeValue(affinity.Domain)) errors.Add("sessionAffinity.domain contains a forbidden character");
            if (!IsAttributeValue(affinity.Path)) errors.Add("sessionAffinity.path contains a forbidden character");
        }
        if (errors.Count > 0) throw new ArgumentException("Invalid route: " + string.Join("; ", errors), nameof(config));

        StickyCookie? canaryCookie = null, primaryCookie = null, previousCookie = null;
        if (affinity is not null && !weights.Mirrored)
        {
            if (weights.Canary > 0)
            {
                // Same rollout (the canary already had traffic, same cookie name): keep the values clients hold.
                var sameRollout = previous.CanaryCookie is { } c && c.Name == affinity.CookieName;
                canaryCookie = sameRollout
                    ? previous.CanaryCookie!.WithAttributes(affinity, maxAge)
                    : StickyCookie.New(affinity, affinity.CookieName, maxAge, random);
                if (affinity.PrimaryCookieName is { Length: > 0 } primaryName)
                {
                    var primaryAge = config.PrimaryCookieMaxAge is { } a ? (long)a.TotalSeconds : maxAge;
                    primaryCookie = sameRollout && previous.PrimaryCookie is { } p && p.Name == primaryName
                        ? p.WithAttributes(affinity, primaryAge)
                        : StickyCookie.New(affinity, primaryName, primaryAge, random);
                }
            }
            else
            {
                previousCookie = previous.CanaryCookie ?? previous.PreviousCanaryCookie;
            }
        }
        return new RouteModel(config, [.. matchers], canaryCookie, primaryCookie, previousCookie);
    }

    private static bool IsToken(string? name)
    {
        if (string.IsNullOrEmpty(name)) return false;
        foreach (var ch in name)
        {
            if (ch <= ' ' || ch >= 127 || "()<>@,;:\\\"/[]?={}".Contains(ch, StringComparison.Ordinal)) return false;
        }
        return true;
    }

    private static bool IsAttributeValue(string? value) =>
        value is null || value.All(ch => ch >= ' ' && ch < 127 && ch != ';');
}
