using System.Net;
using Aviary.Core.Primitives;
using Microsoft.Extensions.Time.Testing;

namespace Aviary.Core.Tests.Primitives;

/// <summary>The one helper for each small concept: listen addresses, bearer tokens, truncated SHA-256, deadlines, backoff.</summary>
public sealed class SmallConceptsTests
{
    [Theory]
    [InlineData("127.0.0.1:8484", "127.0.0.1", 8484)]
    [InlineData("localhost:0", "127.0.0.1", 0)]
    [InlineData("[::1]:9090", "::1", 9090)]
    [InlineData("*:8080", "::", 8080)]
    [InlineData("0.0.0.0:65535", "0.0.0.0", 65535)]
    public void ListenAddress_AcceptsEveryHostForm(string text, string host, int port)
    {
        Assert.True(ListenAddress.TryParse(text, out var address, out var error), error);
        Assert.Equal(IPAddress.Parse(host), address.Host);
        Assert.Equal(port, address.Port);
    }

    [Theory]
    [InlineData("8080", "'8080' is not an address such as 127.0.0.1:8080 (HOST:PORT, port 0 to 65535)")]
    [InlineData("127.0.0.1:70000", "'127.0.0.1:70000' is not an address such as 127.0.0.1:8080 (HOST:PORT, port 0 to 65535)")]
    [InlineData("127.0.0.1:-1", "'127.0.0.1:-1' is not an address such as 127.0.0.1:8080 (HOST:PORT, port 0 to 65535)")]
    [InlineData("example.com:80", "'example.com:80': 'example.com' is not an IP address, [IPv6], localhost or *")]
    public void ListenAddress_RefusesWithTheReason(string text, string expected)
    {
        Assert.False(ListenAddress.TryParse(text, out _, out var error));
        Assert.Equal(expected, error);
    }

    [Theory]
    [InlineData("Bearer s3cret", true)]
    [InlineData("bearer s3cret", true)]
    [InlineData("Bearer  s3cret ", true)]
    [InlineData("Bearer S3CRET", false)]
    [InlineData("Bearer s3cre", false)]
    [InlineData("Basic s3cret", false)]
    [InlineData("s3cret", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void BearerToken_SchemeIgnoresCaseTheTokenDoesNot(string? header, bool matches)
    {
        Assert.Equal(matches, BearerToken.Matches(header, "s3cret"));
    }

    [Fact]
    public void BearerToken_NoTokenConfigured_NeverMatches()
    {
        Assert.False(BearerToken.Matches("Bearer ", ""));
        Assert.False(BearerToken.Matches("Bearer x", null));
    }

    [Fact]
    public void Sha256_Is16LowerHexDigitsOfTheDigest()
    {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad (FIPS 180-2, appendix B.1)
        Assert.Equal("ba7816bf8f01cfea", Hashing.Sha256("abc"));
        Assert.Equal(Hashing.Sha256Length, Hashing.Sha256("").Length);
    }

    [Fact]
    public void Deadline_FiresOnItsTimeProvider_NotTheRealClock()
    {
        var time = new FakeTimeProvider();
        using var deadline = Deadline.After(TimeSpan.FromSeconds(30), time);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(deadline.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(deadline.Token.IsCancellationRequested);
        Assert.True(deadline.Expired);
    }

    [Fact]
    public void Deadline_OuterCancellation_CancelsButHasNotExpired()
    {
        using var outer = new CancellationTokenSource();
        using var deadline = Deadline.After(TimeSpan.FromHours(1), new FakeTimeProvider(), outer.Token);
        outer.Cancel();
        Assert.True(deadline.IsCancellationRequested);
        Assert.False(deadline.Expired);
    }

    [Fact]
    public void Backoff_DoublesFromFirst_UpToMax()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(8));

        Assert.Equal([0, 250, 500, 1000, 2000, 4000, 8000, 8000], Enumerable.Range(0, 8).Select(n => (int)backoff.Delay(n).TotalMilliseconds));
        // A long run of failures does not overflow.
        Assert.Equal(TimeSpan.FromSeconds(8), backoff.Delay(100_000));
    }

    [Fact]
    public void Backoff_Jitter_LengthensByAtMostItsFraction()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4), Factor: 2, Jitter: 0.5);
        var random = new Random(7);

        foreach (var n in Enumerable.Range(1, 50))
        {
            var plain = backoff with { Jitter = 0 };
            var delay = backoff.Delay(n, random);
            Assert.InRange(delay, plain.Delay(n), plain.Delay(n) * 1.5);
        }
        Assert.Equal(TimeSpan.FromSeconds(2), backoff.Delay(2));
    }
}
