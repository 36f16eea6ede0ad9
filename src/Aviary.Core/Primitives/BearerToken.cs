using System.Security.Cryptography;
using System.Text;

namespace Aviary.Core.Primitives;

/// <summary>The one check of an <c>Authorization: Bearer TOKEN</c> header, used by every server that changes a release.</summary>
public static class BearerToken
{
    /// <summary>
    /// Whether <paramref name="authorization"/> carries exactly <paramref name="token"/>. The scheme is matched without
    /// regard to case (RFC 9110 §11.1); the token itself exactly, in constant time. No token configured never matches.
    /// </summary>
    public static bool Matches(string? authorization, string? token)
    {
        const string scheme = "Bearer ";
        if (string.IsNullOrEmpty(token) || authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            return false;
        var given = Encoding.UTF8.GetBytes(authorization[scheme.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(token));
    }
}
