using System.Globalization;

namespace Aviary.Demo;

/// <summary>
/// Durations on the demo's command line: Go-style (<c>250ms</c>, <c>1.5s</c>, <c>1m30s</c>; units us, ms, s, m, h)
/// or a bare number of milliseconds (<c>250</c>). Negative durations are rejected.
/// </summary>
internal static class DemoDuration
{
    private static readonly (string Unit, double Milliseconds)[] Units =
    [
        ("us", 0.001), ("µs", 0.001), ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000),
    ];

    /// <summary>Longest accepted duration: a day is plenty for a demo and keeps arithmetic far from overflow.</summary>
    private static readonly TimeSpan Max = TimeSpan.FromDays(1);

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var s = text.Trim();
        if (s.Length == 0) return false;
        if (double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var bare))
            return Accept(bare, out value);

        double total = 0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (i == start) return false;
            if (!double.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                return false;
            var unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.') i++;
            var unit = s.AsSpan(unitStart, i - unitStart);
            var factor = 0.0;
            foreach (var (name, ms) in Units)
                if (unit.SequenceEqual(name)) factor = ms;
            if (factor == 0) return false;
            total += number * factor;
        }
        return Accept(total, out value);
    }

    private static bool Accept(double milliseconds, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (double.IsNaN(milliseconds) || milliseconds < 0 || milliseconds > Max.TotalMilliseconds) return false;
        value = TimeSpan.FromMilliseconds(milliseconds);
        return true;
    }
}
