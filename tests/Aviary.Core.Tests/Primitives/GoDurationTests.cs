using Aviary.Core.Primitives;

namespace Aviary.Core.Tests.Primitives;

public sealed class GoDurationTests
{
    [Theory]
    [InlineData("0", 0L)]
    [InlineData("0s", 0L)]
    [InlineData("-0s", 0L)]
    [InlineData("1s", 10_000_000L)]
    [InlineData("+1s", 10_000_000L)]
    [InlineData("-1s", -10_000_000L)]
    [InlineData("30s", 300_000_000L)]
    [InlineData("1m", 600_000_000L)]
    [InlineData("1m30s", 900_000_000L)]
    [InlineData("1h", 36_000_000_000L)]
    [InlineData("2h45m", 99_000_000_000L)]
    [InlineData("1.5h", 54_000_000_000L)]
    [InlineData("1.515s", 15_150_000L)]
    [InlineData(".5s", 5_000_000L)]
    [InlineData("5.s", 50_000_000L)]
    [InlineData("500ms", 5_000_000L)]
    [InlineData("100us", 1_000L)]
    [InlineData("100µs", 1_000L)]
    [InlineData("100μs", 1_000L)]
    [InlineData("300ns", 3L)]
    [InlineData("1h1m1s1ms", 36_610_010_000L)]
    [InlineData("2562047h", 92_233_692_000_000_000L)]
    public void TryParse_GoSyntax_ReturnsTheDuration(string text, long ticks)
    {
        Assert.True(GoDuration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromTicks(ticks), value);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("1")]
    [InlineData("10x")]
    [InlineData("1 s")]
    [InlineData(" 1s")]
    [InlineData("1s ")]
    [InlineData(".s")]
    [InlineData("1..5s")]
    [InlineData("1.5.5s")]
    [InlineData("-")]
    [InlineData("+")]
    [InlineData("1d")]
    [InlineData("1S")]
    [InlineData("1m-1s")]
    [InlineData("3000000h")]
    [InlineData("9223372036854775808ns")]
    [InlineData("99999999999999999999999999999s")]
    [InlineData("١s")]
    public void TryParse_NotAGoDuration_ReturnsFalse(string? text)
    {
        Assert.False(GoDuration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.Zero, value);
    }

    [Fact]
    public void TryParse_LargestGoDuration_IsAccepted()
    {
        // Go's limit is int64 nanoseconds: 9223372036854775807ns parses, one more does not.
        Assert.True(GoDuration.TryParse("9223372036854775807ns", out var max));
        Assert.Equal(TimeSpan.FromTicks(92_233_720_368_547_758L), max);
        Assert.True(GoDuration.TryParse("-9223372036854775808ns", out var min));
        Assert.Equal(TimeSpan.FromTicks(-92_233_720_368_547_758L), min);
    }

    [Fact]
    public void TryParse_ManyFractionDigits_IgnoresDigitsBeyondPrecision()
    {
        Assert.True(GoDuration.TryParse("1.00000000000000000000000000001s", out var value));
        Assert.Equal(TimeSpan.FromSeconds(1), value);
    }

    [Theory]
    [InlineData(0L, "0s")]
    [InlineData(15_150_000L, "1.515s")]
    [InlineData(5_000_000L, "500ms")]
    [InlineData(900_000_000L, "1m30s")]
    [InlineData(72_000_000_000L, "2h0m0s")]
    [InlineData(54_000_000_000L, "1h30m0s")]
    [InlineData(10_000_000L, "1s")]
    [InlineData(600_000_000L, "1m0s")]
    [InlineData(-10_000_000L, "-1s")]
    [InlineData(15_000L, "1.5ms")]
    [InlineData(15L, "1.5µs")]
    [InlineData(1L, "100ns")]
    [InlineData(36_610_010_000L, "1h1m1.001s")]
    [InlineData(12_345_678L, "1.2345678s")]
    public void Format_Duration_MatchesGo(long ticks, string expected) =>
        Assert.Equal(expected, GoDuration.Format(TimeSpan.FromTicks(ticks)));

    [Fact]
    public void Format_Extremes_DoesNotOverflow()
    {
        Assert.Equal("256204778h48m5.4775807s", GoDuration.Format(TimeSpan.MaxValue));
        Assert.Equal("-256204778h48m5.4775808s", GoDuration.Format(TimeSpan.MinValue));
    }

    [Theory]
    [InlineData("1.515s")]
    [InlineData("500ms")]
    [InlineData("1m30s")]
    [InlineData("2h0m0s")]
    [InlineData("0s")]
    [InlineData("-3m7.25s")]
    public void Format_ParsedGoString_RoundTrips(string text)
    {
        Assert.True(GoDuration.TryParse(text, out var value));
        Assert.Equal(text, GoDuration.Format(value));
    }
}
