using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Aviary.Metrics.Providers;

/// <summary>AWS credentials: an access key, its secret and, for temporary credentials, a session token.</summary>
internal sealed record AwsCredentials(string AccessKeyId, string SecretAccessKey, string? SessionToken = null)
{
    public override string ToString() => $"AwsCredentials({AccessKeyId}, secret hidden)";
}

/// <summary>
/// AWS Signature Version 4 for one HTTP request (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
/// the canonical request (method, URI-encoded path, sorted query, lowercased sorted headers, hashed payload), the string
/// to sign for the scope <c>date/region/service/aws4_request</c>, the derived signing key, and the
/// <c>Authorization</c> header. Checked against AWS's published test suite vectors. The AWS SDK is not available here,
/// so CloudWatch requests are signed with this.
/// </summary>
internal static class SigV4
{
    public const string Algorithm = "AWS4-HMAC-SHA256";

    /// <summary>The headers to add to a request (<c>x-amz-date</c>, <c>x-amz-security-token</c> when set, <c>Authorization</c>).</summary>
    /// <param name="headers">The headers that are signed, <c>host</c> included (names in any case).</param>
    /// <param name="query">The query string without '?', as sent (it is sorted and encoded for signing).</param>
    public static IReadOnlyList<KeyValuePair<string, string>> Sign(string method, string path, string query,
        IEnumerable<KeyValuePair<string, string>> headers, ReadOnlySpan<byte> payload, string region, string service,
        AwsCredentials credentials, DateTimeOffset time)
    {
        var amzDate = time.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var date = amzDate[..8];
        var all = headers.Select(h => new KeyValuePair<string, string>(h.Key.ToLowerInvariant(), h.Value)).ToList();
        all.RemoveAll(h => h.Key is "x-amz-date" or "authorization");
        all.Add(new("x-amz-date", amzDate));
        var added = new List<KeyValuePair<string, string>> { new("x-amz-date", amzDate) };
        if (credentials.SessionToken is { Length: > 0 } token)
        {
            all.Add(new("x-amz-security-token", token));
            added.Add(new("x-amz-security-token", token));
        }
        var (signedHeaders, signature) = Signature(method, path, query, all, Hex(SHA256.HashData(payload)), region, service, credentials.SecretAccessKey, amzDate);
        added.Add(new("Authorization",
            $"{Algorithm} Credential={credentials.AccessKeyId}/{date}/{region}/{service}/aws4_request, SignedHeaders={signedHeaders}, Signature={signature}"));
        return added;
    }

    /// <summary>The signed header names and the signature of a request whose headers (with <c>x-amz-date</c>) are given.</summary>
    internal static (string SignedHeaders, string Signature) Signature(string method, string path, string query,
        IReadOnlyList<KeyValuePair<string, string>> headers, string payloadHash, string region, string service, string secret, string amzDate)
    {
        var date = amzDate[..8];
        var canonicalHeaders = headers
            .GroupBy(h => h.Key.ToLowerInvariant(), StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Name: g.Key, Value: string.Join(",", g.Select(h => Collapse(h.Value)))))
            .ToList();
        var signedHeaders = string.Join(";", canonicalHeaders.Select(h => h.Name));
        var canonical = string.Join("\n",
            method.ToUpperInvariant(),
            CanonicalPath(path),
            CanonicalQuery(query),
            string.Concat(canonicalHeaders.Select(h => $"{h.Name}:{h.Value}\n")),
            signedHeaders,
            payloadHash);
        var scope = $"{date}/{region}/{service}/aws4_request";
        var toSign = $"{Algorithm}\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";
        var key = SigningKey(secret, date, region, service);
        return (signedHeaders, Hex(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(toSign))));
    }

    /// <summary>The derived key: HMAC chains of the date, region, service and <c>aws4_request</c>, from <c>AWS4</c> + secret.</summary>
    internal static byte[] SigningKey(string secret, string date, string region, string service)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secret), Encoding.UTF8.GetBytes(date));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(key, "aws4_request"u8.ToArray());
    }

    /// <summary>Each path segment URI-encoded once (non-S3 services normalize and encode the path).</summary>
    internal static string CanonicalPath(string path)
    {
        if (string.IsNullOrEmpty(path)) return "/";
        var segments = Uri.UnescapeDataString(path).Split('/');
        return string.Join("/", segments.Select(Encode));
    }

    /// <summary>Parameters sorted by encoded name then value, each <c>name=value</c> URI-encoded.</summary>
    internal static string CanonicalQuery(string query)
    {
        if (string.IsNullOrEmpty(query)) return "";
        return string.Join("&", query.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Select(p => (Name: Encode(Uri.UnescapeDataString(p[0].Replace('+', ' '))), Value: Encode(p.Length > 1 ? Uri.UnescapeDataString(p[1].Replace('+', ' ')) : "")))
            .OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => $"{p.Name}={p.Value}"));
    }

    /// <summary>RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is %XX of its UTF-8 bytes.</summary>
    internal static string Encode(string text)
    {
        var builder = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~') builder.Append(c);
            else builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return builder.ToString();
    }

    private static string Collapse(string value) => string.Join(" ", value.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries));

    internal static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
