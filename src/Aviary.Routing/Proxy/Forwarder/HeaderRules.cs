namespace Aviary.Routing.Proxy.Forwarder;

/// <summary>Which headers stay on their hop. The list follows RFC 9110 §7.6.1 plus the proxy headers YARP also drops.</summary>
internal static class HeaderRules
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Transfer-Encoding", "Upgrade", "Trailer",
        "Proxy-Authenticate", "Proxy-Authentication-Info", "Proxy-Authorization", "Proxy-Features", "Proxy-Instruction",
        "Security-Scheme", "ALPN", "Close", "Alt-Svc",
    };

    public static bool IsHopByHop(string name) => HopByHop.Contains(name) || (name.Length > 0 && name[0] == ':');

    /// <summary>Whether <paramref name="name"/> is listed in a Connection header's options (and so is hop-by-hop too).</summary>
    public static bool IsNamedIn(Microsoft.Extensions.Primitives.StringValues connection, string name)
    {
        for (var i = 0; i < connection.Count; i++)
        {
            var rest = (connection[i] ?? "").AsSpan();
            while (!rest.IsEmpty)
            {
                var comma = rest.IndexOf(',');
                var token = (comma < 0 ? rest : rest[..comma]).Trim();
                rest = comma < 0 ? [] : rest[(comma + 1)..];
                if (token.Equals(name, StringComparison.OrdinalIgnoreCase)) return true;
            }
        }
        return false;
    }

    public static bool HasNewLine(string? value) => value is not null && value.AsSpan().IndexOfAny('\r', '\n') >= 0;
}
