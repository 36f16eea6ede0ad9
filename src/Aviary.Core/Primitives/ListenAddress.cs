using System.Globalization;
using System.Net;

namespace Aviary.Core.Primitives;

/// <summary>
/// An address a server listens on, written <c>HOST:PORT</c>: HOST is an IPv4 address, <c>[IPv6]</c>, <c>localhost</c>
/// (loopback) or <c>*</c> (every interface); PORT is 0 (the OS picks one) to 65535. The one parser every server's
/// listen flag uses.
/// </summary>
public readonly record struct ListenAddress(IPAddress Host, int Port)
{
    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says why, with an example.</summary>
    public static bool TryParse(string? text, out ListenAddress address, out string error)
    {
        address = default;
        error = "";
        var value = text?.Trim() ?? "";
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            error = $"'{value}' is not an address such as 127.0.0.1:8080 (HOST:PORT, port 0 to 65535)";
            return false;
        }
        if (ParseHost(value[..colon]) is not { } host)
        {
            error = $"'{value}': '{value[..colon]}' is not an IP address, [IPv6], localhost or *";
            return false;
        }
        address = new ListenAddress(host, port);
        return true;
    }

    /// <summary>A bind host: an IP address (IPv6 with or without brackets), <c>localhost</c>, or <c>*</c>/<c>+</c>/empty for any.</summary>
    public static IPAddress? ParseHost(string host) => host.Trim() switch
    {
        "localhost" => IPAddress.Loopback,
        "*" or "+" or "" => IPAddress.IPv6Any,
        var h => IPAddress.TryParse(h.Trim('[', ']'), out var ip) ? ip : null,
    };
}
