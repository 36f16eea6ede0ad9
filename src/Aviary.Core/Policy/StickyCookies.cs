using System.Globalization;
using System.Text;
using Aviary.Core.Model;

namespace Aviary.Core.Policy;

/// <summary>
/// Flagger's session-affinity cookies (<c>analysis.sessionAffinity</c>), shared by every router that keeps users on the
/// arm they first landed on: the built-in proxy and the Istio and Gateway API routers. A cookie is <c>name=value</c>
/// with a random 10-letter value per rollout; the weighted route hands it out with <c>Set-Cookie</c> (attributes in
/// Flagger's order), a route matching the <c>Cookie</c> header against <see cref="MatchRegex"/> sends its holders to the
/// arm, and once the canary takes no traffic the cookie is expired with <c>Max-Age=-1</c>.
/// </summary>
public static class StickyCookies
{
    /// <summary>Flagger's default Max-Age of the canary cookie: 24 hours.</summary>
    public const int DefaultMaxAgeSeconds = 86400;

    private const string Letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    /// <summary>The canary cookie's Max-Age: <c>maxAge</c>, or 24 hours when it is unset or 0.</summary>
    public static long MaxAge(SessionAffinity affinity)
    {
        ArgumentNullException.ThrowIfNull(affinity);
        return affinity.MaxAge is > 0 and var m ? (long)m : DefaultMaxAgeSeconds;
    }

    /// <summary>A new cookie value: 10 random letters, as Flagger's.</summary>
    /// <param name="next">Returns a random integer in [0, n) for n.</param>
    public static string NewValue(Func<int, int> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        var value = new char[10];
        for (var i = 0; i < value.Length; i++) value[i] = Letters[next(Letters.Length)];
        return new string(value);
    }

    /// <summary>The <c>Set-Cookie</c> value that hands out <paramref name="name"/>=<paramref name="value"/>.</summary>
    public static string SetCookie(SessionAffinity affinity, string name, string value, long maxAgeSeconds)
    {
        ArgumentNullException.ThrowIfNull(affinity);
        var text = new StringBuilder();
        text.Append(name).Append('=').Append(value).Append("; Max-Age=").Append(maxAgeSeconds.ToString(CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(affinity.Domain)) text.Append("; Domain=").Append(affinity.Domain);
        if (affinity.HttpOnly == true) text.Append("; HttpOnly");
        if (affinity.Partitioned == true) text.Append("; Partitioned");
        if (!string.IsNullOrEmpty(affinity.Path)) text.Append("; Path=").Append(affinity.Path);
        if (!string.IsNullOrEmpty(affinity.SameSite)) text.Append("; SameSite=").Append(affinity.SameSite);
        if (affinity.Secure == true) text.Append("; Secure");
        return text.ToString();
    }

    /// <summary>The <c>Set-Cookie</c> value that deletes the cookie once the rollout ended.</summary>
    public static string Expire(string name, string value) => $"{name}={value}; Max-Age=-1";

    /// <summary>Flagger's regular expression for a <c>Cookie</c> header that carries the cookie.</summary>
    public static string MatchRegex(string name, string value) => $".*{name}.*{value}.*";

    /// <summary>The cookie a <see cref="MatchRegex"/> expression matches, or null when it is not one.</summary>
    public static (string Name, string Value)? ParseMatchRegex(string? regex)
    {
        if (regex is null || !regex.StartsWith(".*", StringComparison.Ordinal) || !regex.EndsWith(".*", StringComparison.Ordinal)) return null;
        var parts = regex.Split(".*");
        return parts is ["", { Length: > 0 } name, { Length: > 0 } value, ""] ? (name, value) : null;
    }
}
