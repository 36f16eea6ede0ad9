using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Routing.Proxy.LoadBalancing;

namespace Aviary.Routing.Proxy.Configuration;

/// <summary>A session-affinity cookie of one rollout: its name, random value and the Set-Cookie value that hands it out.</summary>
internal sealed class StickyCookie
{
    private StickyCookie(string name, string value, string setCookie)
    {
        Name = name;
        Value = value;
        SetCookie = setCookie;
    }

    public string Name { get; }

    public string Value { get; }

    /// <summary>The Set-Cookie header value, with the attributes in Flagger's order.</summary>
    public string SetCookie { get; }

    /// <summary>The Set-Cookie value that deletes this cookie (Max-Age=-1), as Flagger sends once the rollout ended.</summary>
    public string ExpireSetCookie => StickyCookies.Expire(Name, Value);

    public StickyCookie WithAttributes(SessionAffinity affinity, long maxAgeSeconds) => Create(affinity, Name, Value, maxAgeSeconds);

    /// <summary>A new cookie with a random 10-letter value, like Flagger's.</summary>
    public static StickyCookie New(SessionAffinity affinity, string name, long maxAgeSeconds, SharedRandom random) =>
        Create(affinity, name, StickyCookies.NewValue(random.Next), maxAgeSeconds);

    private static StickyCookie Create(SessionAffinity affinity, string name, string value, long maxAgeSeconds) =>
        new(name, value, StickyCookies.SetCookie(affinity, name, value, maxAgeSeconds));

    /// <summary>Whether the Cookie header fields carry this cookie with this rollout's value.</summary>
    public bool IsIn(Microsoft.Extensions.Primitives.StringValues cookieHeaders)
    {
        for (var i = 0; i < cookieHeaders.Count; i++)
        {
            if (cookieHeaders[i] is { } header && Contains(header, Name, Value)) return true;
        }
        return false;
    }

    private static bool Contains(ReadOnlySpan<char> header, string name, string value)
    {
        while (!header.IsEmpty)
        {
            var semi = header.IndexOf(';');
            var pair = (semi < 0 ? header : header[..semi]).Trim(' ');
            header = semi < 0 ? [] : header[(semi + 1)..];
            var eq = pair.IndexOf('=');
            if (eq < 0) continue;
            if (pair[..eq].Trim(' ').SequenceEqual(name) && pair[(eq + 1)..].Trim(' ').Trim('"').SequenceEqual(value)) return true;
        }
        return false;
    }
}
