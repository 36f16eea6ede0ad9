using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Aviary.Core.Primitives;

/// <summary>
/// Short, stable hashes: <see cref="Sha256"/> for revisions, checksums and fingerprints (the one truncated SHA-256 of
/// the code base); <see cref="Fnv32aHex"/> where a tiny non-cryptographic hash will do (test fakes, simulations).
/// </summary>
public static class Hashing
{
    /// <summary>Length of <see cref="Sha256"/>: 16 lower-case hex digits, the first 64 bits of the digest.</summary>
    public const int Sha256Length = 16;

    /// <summary>SHA-256 of the UTF-8 bytes of <paramref name="text"/>, truncated to <see cref="Sha256Length"/> lower-case hex digits.</summary>
    public static string Sha256(string text)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), digest);
        return Convert.ToHexStringLower(digest[..(Sha256Length / 2)]);
    }

    /// <summary>FNV-1a (32-bit) of the UTF-8 bytes of <paramref name="text"/>, as 8 hex digits.</summary>
    public static string Fnv32aHex(string text)
    {
        const uint offset = 2166136261, prime = 16777619;
        var hash = offset;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash *= prime;
        }
        return hash.ToString("x8", CultureInfo.InvariantCulture);
    }
}
