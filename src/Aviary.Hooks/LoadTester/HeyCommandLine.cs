using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Aviary.Core.Primitives;

namespace Aviary.Hooks.LoadTester;

/// <summary>
/// Reads hey's command line into <see cref="LoadOptions"/>, so that a Flagger load-test command such as
/// <c>hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/</c> runs where hey is not installed.
/// Flags follow Go's flag package: one or two dashes, <c>-n 10</c> or <c>-n=10</c>, booleans alone or
/// <c>-flag=false</c>. Unlike hey, flags after the URL are read too (hey ignores them silently).
/// </summary>
public static class HeyCommandLine
{
    /// <summary>The usage line quoted in errors.</summary>
    public const string Usage = "usage: hey [options...] <url>";

    private enum Kind { Int, Float, Duration, Text, Bool }

    private static readonly Dictionary<string, Kind> Flags = new(StringComparer.Ordinal)
    {
        ["n"] = Kind.Int, ["c"] = Kind.Int, ["t"] = Kind.Int, ["cpus"] = Kind.Int,
        ["q"] = Kind.Float,
        ["z"] = Kind.Duration,
        ["m"] = Kind.Text, ["H"] = Kind.Text, ["d"] = Kind.Text, ["D"] = Kind.Text, ["T"] = Kind.Text,
        ["A"] = Kind.Text, ["a"] = Kind.Text, ["U"] = Kind.Text, ["host"] = Kind.Text, ["o"] = Kind.Text,
        ["x"] = Kind.Text, ["h"] = Kind.Text,
        ["h2"] = Kind.Bool, ["disable-compression"] = Kind.Bool, ["disable-keepalive"] = Kind.Bool,
        ["disable-redirects"] = Kind.Bool,
    };

    /// <summary>
    /// Parses hey's arguments (without the program name). Supported: -n -c -q -z -t -m -H (repeatable) -d -D -T -A
    /// -a -U -host -disable-keepalive -disable-compression -disable-redirects; -cpus is accepted and ignored.
    /// -x (proxy), -h2 and -o csv are refused as unsupported. Reading the -D file is the only I/O.
    /// </summary>
    public static bool TryParse(
        IReadOnlyList<string> args,
        [NotNullWhen(true)] out LoadOptions? options,
        [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(args);
        options = null;
        error = null;

        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        var headers = new List<string>();
        string? url = null;
        var flagsEnded = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (flagsEnded || arg.Length < 2 || arg[0] != '-')
            {
                if (url is not null) return Fail($"unexpected argument '{arg}' after the URL {url}", out error);
                url = arg;
                continue;
            }
            if (arg == "--")
            {
                flagsEnded = true;
                continue;
            }

            var name = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg[1..];
            string? inline = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                inline = name[(eq + 1)..];
                name = name[..eq];
            }
            if (name is "help" or "-help") return Fail(Usage, out error);
            if (!Flags.TryGetValue(name, out var kind)) return Fail($"flag provided but not defined: -{name}; {Usage}", out error);

            string raw;
            if (inline is not null) raw = inline;
            else if (kind == Kind.Bool) raw = "true";
            else if (i + 1 < args.Count) raw = args[++i];
            else return Fail($"flag needs an argument: -{name}", out error);

            if (!TryConvert(kind, raw, out var value))
                return Fail($"invalid value \"{raw}\" for flag -{name}: {Expected(kind)}", out error);
            if (name == "H") headers.Add((string)value);
            else values[name] = value;
        }

        T Get<T>(string name, T fallback) => values.TryGetValue(name, out var v) ? (T)v : fallback;

        if (values.ContainsKey("h")) return Fail("flag -h is deprecated, please use -H instead", out error);
        if (values.ContainsKey("x")) return Fail("flag -x (HTTP proxy) is not supported by Aviary's load tester", out error);
        if (Get("h2", false)) return Fail("flag -h2 is not supported by Aviary's load tester: it speaks HTTP/1.1", out error);
        if (Get("o", "") is { Length: > 0 } output)
            return Fail($"flag -o {output} is not supported by Aviary's load tester: only the summary is printed", out error);

        if (url is null) return Fail($"missing URL; {Usage}", out error);
        var n = Get("n", 200);
        var c = Get("c", 50);
        var duration = Get<TimeSpan?>("z", null);
        if (duration is { } z && z <= TimeSpan.Zero) duration = null; // hey: -z 0 means no duration
        if (duration is not null)
        {
            if (c <= 0) return Fail("-c cannot be smaller than 1", out error);
        }
        else
        {
            if (n <= 0 || c <= 0) return Fail("-n and -c cannot be smaller than 1", out error);
            if (n < c) return Fail("-n cannot be less than -c", out error);
        }
        var q = Get("q", 0.0);
        if (q < 0) return Fail("-q cannot be negative", out error);
        var t = Get("t", 20);
        if (t < 0) return Fail("-t cannot be negative (0 means no timeout)", out error);

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            return Fail($"invalid URL '{url}': expected an absolute http:// or https:// URL", out error);

        var method = Get("m", "GET").ToUpperInvariant();
        if (method.Length == 0 || !method.All(LoadOptions.IsTokenChar)) return Fail($"invalid method '{method}'", out error);

        var contentType = Get("T", "text/html");
        var headerList = new List<KeyValuePair<string, string>>();
        void Set(string headerName, string headerValue)
        {
            headerList.RemoveAll(h => h.Key.Equals(headerName, StringComparison.OrdinalIgnoreCase));
            headerList.Add(new(headerName, headerValue));
        }
        foreach (var header in headers)
        {
            if (!TrySplitHeader(header, out var headerName, out var headerValue))
                return Fail($"invalid -H \"{header}\": expected \"Name: value\"", out error);
            if (headerName.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) contentType = headerValue;
            else Set(headerName, headerValue);
        }
        if (Get("A", "") is { Length: > 0 } accept) Set("Accept", accept);
        if (Get("a", "") is { Length: > 0 } auth)
        {
            var colon = auth.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == auth.Length - 1)
                return Fail($"invalid -a \"{auth}\": expected username:password", out error);
            Set("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(auth)));
        }

        // hey appends its own name to a User-Agent given with -H or -U.
        var userAgent = LoadOptions.DefaultUserAgent;
        var customAgent = headerList.FindLast(h => h.Key.Equals("User-Agent", StringComparison.OrdinalIgnoreCase)).Value;
        if (Get("U", "") is { Length: > 0 } u) customAgent = u;
        if (!string.IsNullOrEmpty(customAgent)) userAgent = customAgent + " " + LoadOptions.DefaultUserAgent;
        headerList.RemoveAll(h => h.Key.Equals("User-Agent", StringComparison.OrdinalIgnoreCase));

        byte[] body = Encoding.UTF8.GetBytes(Get("d", ""));
        if (Get("D", "") is { Length: > 0 } bodyFile)
        {
            try
            {
                body = File.ReadAllBytes(bodyFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
            {
                return Fail($"cannot read the body file -D {bodyFile}: {e.Message}", out error);
            }
        }

        options = new LoadOptions
        {
            Url = uri,
            Method = method,
            Headers = headerList,
            Body = body,
            ContentType = contentType,
            Host = Get<string?>("host", null) is { Length: > 0 } host ? host : null,
            UserAgent = userAgent,
            Concurrency = c,
            Requests = n,
            Duration = duration,
            RateLimit = q,
            Timeout = TimeSpan.FromSeconds(t),
            DisableKeepAlives = Get("disable-keepalive", false),
            DisableCompression = Get("disable-compression", false),
            DisableRedirects = Get("disable-redirects", false),
        };
        return true;
    }

    /// <summary>
    /// Parses a whole command as Flagger's load tester receives it (<c>hey -z 1m -q 10 -c 2 http://...</c>): words split
    /// as a POSIX shell splits them (quotes and backslashes), the first being <c>hey</c> or a path ending in <c>/hey</c>.
    /// Commands using other shell syntax (pipes, redirections, <c>&amp;&amp;</c>, substitutions) are refused.
    /// </summary>
    public static bool TryParseCommand(
        string command,
        [NotNullWhen(true)] out LoadOptions? options,
        [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(command);
        options = null;
        if (string.IsNullOrWhiteSpace(command)) return Fail($"not a hey command: '{command}'", out error);
        if (!CommandWords.TrySplit(command, out var words, out error)) return false;
        if (!IsHey(words)) return Fail($"not a hey command: '{command}'", out error);
        return TryParse(words.Skip(1).ToList(), out options, out error);
    }

    /// <summary>True when <paramref name="command"/> runs hey (its first word is hey), whatever its flags.</summary>
    public static bool IsHeyCommand(string command) => CommandWords.TrySplit(command, out var words, out _) && IsHey(words);

    private static bool IsHey(IReadOnlyList<string> words) => words[0] == "hey" || words[0].EndsWith("/hey", StringComparison.Ordinal);

    /// <summary>hey's header syntax: a name of word characters and dashes, a colon, optional spaces, a non-empty value.</summary>
    private static bool TrySplitHeader(string header, out string name, out string value)
    {
        name = value = "";
        var colon = header.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0) return false;
        name = header[..colon];
        value = header[(colon + 1)..].TrimStart(' ', '\t');
        return value.Length > 0 && name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-');
    }

    private static bool TryConvert(Kind kind, string raw, out object value)
    {
        value = raw;
        switch (kind)
        {
            case Kind.Text:
                return true;
            case Kind.Int:
                if (!int.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)) return false;
                value = i;
                return true;
            case Kind.Float:
                if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) || !double.IsFinite(f)) return false;
                value = f;
                return true;
            case Kind.Duration:
                if (!GoDuration.TryParse(raw, out var d)) return false;
                value = d;
                return true;
            case Kind.Bool:
                // Go's strconv.ParseBool.
                bool? b = raw switch
                {
                    "1" or "t" or "T" or "true" or "TRUE" or "True" => true,
                    "0" or "f" or "F" or "false" or "FALSE" or "False" => false,
                    _ => null,
                };
                if (b is null) return false;
                value = b.Value;
                return true;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }

    private static string Expected(Kind kind) => kind switch
    {
        Kind.Int => "expected an integer",
        Kind.Float => "expected a number",
        Kind.Duration => "expected a duration such as 30s, 1m or 1m30s",
        Kind.Bool => "expected true or false",
        _ => "invalid",
    };

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }
}
