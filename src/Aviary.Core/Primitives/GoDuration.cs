using System.Globalization;
using System.Text;

namespace Aviary.Core.Primitives;

/// <summary>Durations written as Go writes them (<c>30s</c>, <c>1m30s</c>, <c>1.515s</c>, <c>500ms</c>), as Flagger's users do.</summary>
public static class GoDuration
{
    private static readonly (string Unit, double Ticks)[] Units =
    [
        ("ns", 0.01), ("us", 10), ("µs", 10), ("μs", 10), ("ms", TimeSpan.TicksPerMillisecond),
        ("s", TimeSpan.TicksPerSecond), ("m", TimeSpan.TicksPerMinute), ("h", TimeSpan.TicksPerHour),
    ];

    /// <summary>Parses Go's duration syntax: a sequence of decimal numbers with units ns, us, ms, s, m or h.</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text) || text.Length > 64) return false;
        var s = text.AsSpan();
        var negative = false;
        if (s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s is "0") return true;
        if (s.IsEmpty) return false;
        double ticks = 0;
        while (!s.IsEmpty)
        {
            var i = 0;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (i == 0 || s[..i] is ".") return false;
            if (!double.TryParse(s[..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)) return false;
            s = s[i..];
            var j = 0;
            while (j < s.Length && !char.IsAsciiDigit(s[j]) && s[j] != '.') j++;
            if (j == 0) return false;
            var unit = s[..j].ToString();
            var match = Array.FindIndex(Units, u => u.Unit == unit);
            if (match < 0) return false;
            ticks += number * Units[match].Ticks;
            s = s[j..];
        }
        if (ticks > TimeSpan.MaxValue.Ticks) return false;
        value = TimeSpan.FromTicks((long)Math.Round(negative ? -ticks : ticks));
        return true;
    }

    /// <summary>Formats like Go's <c>time.Duration.String()</c>: <c>1.515s</c>, <c>500ms</c>, <c>1m30s</c>, <c>0s</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero) return "0s";
        var sb = new StringBuilder();
        if (value < TimeSpan.Zero)
        {
            sb.Append('-');
            value = value.Duration();
        }
        if (value < TimeSpan.FromSeconds(1))
        {
            var ns = value.Ticks * 100.0;
            var (scaled, unit) = ns < 1_000 ? (ns, "ns") : ns < 1_000_000 ? (ns / 1_000, "µs") : (ns / 1_000_000, "ms");
            return sb.Append(Decimal(scaled)).Append(unit).ToString();
        }
        var hours = (long)value.TotalHours;
        var minutes = value.Minutes;
        var seconds = value.Ticks % TimeSpan.TicksPerMinute / (double)TimeSpan.TicksPerSecond;
        if (hours > 0) sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        if (hours > 0 || minutes > 0) sb.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        return sb.Append(Decimal(seconds)).Append('s').ToString();
    }

    private static string Decimal(double d) => Math.Round(d, 9).ToString("0.#########", CultureInfo.InvariantCulture);
}
