using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Aviary.Hooks.Webhooks;

/// <summary>
/// Aviary's webhook signature: <c>X-Aviary-Timestamp: &lt;unix seconds&gt;</c> and
/// <c>X-Aviary-Signature: sha256=&lt;lower-case hex of HMAC-SHA256(secret, timestamp + "." + body)&gt;</c>, where body is
/// the exact bytes sent. A receiver recomputes the HMAC with the shared secret and checks that the timestamp is recent,
/// which makes a captured call useless after <see cref="DefaultTolerance"/>.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The header holding <c>sha256=&lt;hex&gt;</c>.</summary>
    public const string SignatureHeader = "X-Aviary-Signature";

    /// <summary>The header holding the signing time in unix seconds.</summary>
    public const string TimestampHeader = "X-Aviary-Timestamp";

    private const string Prefix = "sha256=";

    /// <summary>How far the timestamp may be from the receiver's clock, either way: 5 minutes.</summary>
    public static TimeSpan DefaultTolerance { get; } = TimeSpan.FromMinutes(5);

    /// <summary>The value of <see cref="SignatureHeader"/> for <paramref name="body"/> signed at <paramref name="unixSeconds"/>.</summary>
    public static string Compute(ReadOnlySpan<byte> secret, long unixSeconds, ReadOnlySpan<byte> body) =>
        Prefix + Convert.ToHexStringLower(Mac(secret, unixSeconds.ToString(CultureInfo.InvariantCulture), body));

    /// <summary>
    /// True when <paramref name="signature"/> is the HMAC of <paramref name="body"/> and <paramref name="timestamp"/>
    /// under <paramref name="secret"/> and the timestamp is within <paramref name="tolerance"/> (default
    /// <see cref="DefaultTolerance"/>) of <paramref name="now"/>. Missing or malformed headers are false, never an
    /// exception; the comparison takes the same time whatever the signature.
    /// </summary>
    /// <param name="timestamp">The <see cref="TimestampHeader"/> value as received.</param>
    /// <param name="signature">The <see cref="SignatureHeader"/> value as received.</param>
    public static bool Verify(
        ReadOnlySpan<byte> secret,
        string? timestamp,
        string? signature,
        ReadOnlySpan<byte> body,
        DateTimeOffset now,
        TimeSpan? tolerance = null)
    {
        if (secret.IsEmpty || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signature)) return false;
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) return false;
        if (!signature.StartsWith(Prefix, StringComparison.Ordinal) || signature.Length != Prefix.Length + 64) return false;
        var given = new byte[32];
        if (Convert.FromHexString(signature.AsSpan(Prefix.Length), given, out _, out var written) != System.Buffers.OperationStatus.Done || written != 32)
            return false;
        var skew = now.ToUnixTimeSeconds() - seconds;
        if (Math.Abs(skew) > (tolerance ?? DefaultTolerance).TotalSeconds) return false;
        return CryptographicOperations.FixedTimeEquals(Mac(secret, timestamp, body), given);
    }

    private static byte[] Mac(ReadOnlySpan<byte> secret, string timestamp, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
        hmac.AppendData(Encoding.ASCII.GetBytes(timestamp + "."));
        hmac.AppendData(body);
        return hmac.GetHashAndReset();
    }
}
