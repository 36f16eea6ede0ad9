using System.Globalization;
using System.Text;

namespace Aviary.Core.Primitives;

/// <summary>Short, stable, non-cryptographic hashes for revisions and checksums.</summary>
public static class Hashing
{
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
