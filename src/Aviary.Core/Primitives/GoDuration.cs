using System.Globalization;
using System.Text;

namespace Aviary.Core.Primitives;

/// <summary>
/// Durations written as Go writes them (<c>30s</c>, <c>1m30s</c>, <c>1.515s</c>, <c>500ms</c>), as Flagger's users do.
/// Parsing follows Go's <c>time.ParseDuration</c>, including its limit (about 2,562,047 hours); values are kept
/// to the 100 ns precision of <see cref="TimeSpan"/>.
/// </summary>
public static class GoDuration
{
    private const ulong Nanosecond = 1;
    private const ulong Microsecond = 1000 * Nanosecond;
    private const ulong Millisecond = 1000 * Microsecond;
    private const ulong Second = 1000 * Millisecond;
    private const ulong Minute = 60 * Second;
    private const ulong Hour = 60 * Minute;

    /// <summary>2^63: Go's durations are int64 nanoseconds.</summary>
    private const ulong Limit = 1UL << 63;

    private static readonly (string Unit, ulong Nanoseconds)[] Units =
    [
        ("ns", Nanosecond), ("us", Microsecond), ("µs", Microsecond), ("μs", Microsecond), ("ms", Millisecond),
        ("s", Second), ("m", Minute), ("h", Hour),
    ];

    /// <summary>
    /// Parses Go's duration syntax: an optional sign, then one or more decimal numbers (with optional fraction),
    /// each followed by a unit: ns, us (or µs), ms, s, m or h. A lone <c>0</c> needs no unit.
    /// </summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text)) return false;
        var s = text.AsSpan();
        var negative = false;
        if (s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s is "0") return true;
        if (s.IsEmpty) return false;

        ulong total = 0;
        while (!s.IsEmpty)
        {
            if (!(char.IsAsciiDigit(s[0]) || s[0] == '.')) return false;
            var consumed = LeadingInt(ref s, out var whole);
            if (consumed < 0) return false;
            var pre = consumed > 0;
            ulong fraction = 0;
            double scale = 1;
            var post = false;
            if (!s.IsEmpty && s[0] == '.')
            {
                s = s[1..];
                post = LeadingFraction(ref s, out fraction, out scale) > 0;
            }
            if (!pre && !post) return false;

            var u = 0;
            while (u < s.Length && s[u] != '.' && !char.IsAsciiDigit(s[u])) u++;
            if (u == 0) return false;
            var unitText = s[..u];
            s = s[u..];
            var unit = 0UL;
            foreach (var (name, ns) in Units)
                if (unitText.SequenceEqual(name)) unit = ns;
            if (unit == 0) return false;

            if (whole > Limit / unit) return false;
            var v = whole * unit;
            if (fraction > 0)
            {
                v += (ulong)(fraction * (unit / scale));
                if (v > Limit) return false;
            }
            total += v;
            if (total > Limit) return false;
        }
        if (!negative && total > Limit - 1) return false;
        var ticks = (long)(total / 100);
        value = TimeSpan.FromTicks(negative ? -ticks : ticks);
        return true;
    }

    /// <summary>Reads leading digits; returns how many, or -1 on overflow.</summary>
    private static int LeadingInt(ref ReadOnlySpan<char> s, out ulong value)
    {
        value = 0;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (value > (Limit - 1) / 10) return -1;
            value = value * 10 + (ulong)(s[i] - '0');
            if (value > Limit) return -1;
        }
        s = s[i..];
        return i;
    }

    /// <summary>Reads the digits after a decimal point; digits beyond what a ulong holds are ignored, as Go does.</summary>
    private static int LeadingFraction(ref ReadOnlySpan<char> s, out ulong value, out double scale)
    {
        value = 0;
        scale = 1;
        var overflow = false;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (overflow) continue;
            if (value > (Limit - 1) / 10)
            {
                overflow = true;
                continue;
            }
            var next = value * 10 + (ulong)(s[i] - '0');
            if (next > Limit)
            {
                overflow = true;
                continue;
            }
            value = next;
            scale *= 10;
        }
        s = s[i..];
        return i;
    }

    /// <summary>Formats like Go's <c>time.Duration.String()</c>: <c>1.515s</c>, <c>500ms</c>, <c>1m30s</c>, <c>2h0m0s</c>, <c>0s</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero) return "0s";
        var sb = new StringBuilder();
        // Unsigned magnitude: TimeSpan.MinValue has no positive counterpart.
        var ticks = value.Ticks < 0 ? (ulong)(-(value.Ticks + 1)) + 1 : (ulong)value.Ticks;
        if (value < TimeSpan.Zero) sb.Append('-');

        if (ticks < (ulong)TimeSpan.TicksPerSecond)
        {
            var ns = ticks * 100;
            if (ns < Microsecond) return sb.Append(Invariant(ns)).Append("ns").ToString();
            if (ns < Millisecond) return AppendFraction(sb, ns / Microsecond, ns % Microsecond, 3).Append("µs").ToString();
            return AppendFraction(sb, ns / Millisecond, ns % Millisecond, 6).Append("ms").ToString();
        }

        var hours = ticks / (ulong)TimeSpan.TicksPerHour;
        var rest = ticks % (ulong)TimeSpan.TicksPerHour;
        var minutes = rest / (ulong)TimeSpan.TicksPerMinute;
        rest %= (ulong)TimeSpan.TicksPerMinute;
        if (hours > 0) sb.Append(Invariant(hours)).Append('h');
        if (hours > 0 || minutes > 0) sb.Append(Invariant(minutes)).Append('m');
        return AppendFraction(sb, rest / (ulong)TimeSpan.TicksPerSecond, rest % (ulong)TimeSpan.TicksPerSecond, 7).Append('s').ToString();
    }

    private static StringBuilder AppendFraction(StringBuilder sb, ulong whole, ulong fraction, int digits)
    {
        sb.Append(Invariant(whole));
        if (fraction == 0) return sb;
        return sb.Append('.').Append(fraction.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0').TrimEnd('0'));
    }

    private static string Invariant(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
