namespace Aviary.Routing.Proxy.Configuration;

/// <summary>Reads one parameter of a raw query string (<c>?a=1&amp;b=2</c>) without building a dictionary.</summary>
internal static class QueryString
{
    /// <summary>The decoded value of the first parameter named <paramref name="name"/> (a name without '=' has the value ""), or null.</summary>
    public static string? TryGetFirst(string query, string name)
    {
        var rest = query.AsSpan();
        if (rest.StartsWith('?')) rest = rest[1..];
        while (!rest.IsEmpty)
        {
            var amp = rest.IndexOf('&');
            var pair = amp < 0 ? rest : rest[..amp];
            rest = amp < 0 ? [] : rest[(amp + 1)..];
            if (pair.IsEmpty) continue;
            var eq = pair.IndexOf('=');
            var rawName = eq < 0 ? pair : pair[..eq];
            if (!NameEquals(rawName, name)) continue;
            return eq < 0 ? "" : Decode(pair[(eq + 1)..]);
        }
        return null;
    }

    private static bool NameEquals(ReadOnlySpan<char> raw, string name) =>
        raw.IndexOfAny('%', '+') < 0 ? raw.SequenceEqual(name) : Decode(raw) == name;

    private static string Decode(ReadOnlySpan<char> raw)
    {
        var text = raw.ToString();
        if (raw.IndexOfAny('%', '+') < 0) return text;
        try
        {
            return Uri.UnescapeDataString(text.Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return text;
        }
    }
}
