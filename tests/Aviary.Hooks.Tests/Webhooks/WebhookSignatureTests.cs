using Aviary.Hooks.Webhooks;

namespace Aviary.Hooks.Tests.Webhooks;

public sealed class WebhookSignatureTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly byte[] Secret = "secret"u8.ToArray();
    private static readonly byte[] Body = """{"name":"podinfo"}"""u8.ToArray();

    private static string Stamp(DateTimeOffset at) => at.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Compute_KnownVector_MatchesHmacSha256OfTimestampDotBody()
    {
        // HMAC-SHA256("secret", "1748779200.{\"name\":\"podinfo\"}"), computed independently.
        var expected = "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
            Secret, "1748779200.{\"name\":\"podinfo\"}"u8.ToArray()));

        Assert.Equal(expected, WebhookSignature.Compute(Secret, 1748779200, Body));
        Assert.Equal(1748779200, Now.ToUnixTimeSeconds());
    }

    [Fact]
    public void Verify_FreshSignature_True()
    {
        var signature = WebhookSignature.Compute(Secret, Now.ToUnixTimeSeconds(), Body);

        Assert.True(WebhookSignature.Verify(Secret, Stamp(Now), signature, Body, Now.AddMinutes(4)));
        Assert.True(WebhookSignature.Verify(Secret, Stamp(Now), signature, Body, Now.AddMinutes(-4)));
    }

    [Fact]
    public void Verify_Tampered_False()
    {
        var signature = WebhookSignature.Compute(Secret, Now.ToUnixTimeSeconds(), Body);

        Assert.False(WebhookSignature.Verify(Secret, Stamp(Now), signature, """{"name":"other"}"""u8, Now));
        Assert.False(WebhookSignature.Verify(Secret, Stamp(Now.AddSeconds(1)), signature, Body, Now));
        Assert.False(WebhookSignature.Verify("Secret"u8, Stamp(Now), signature, Body, Now));
    }

    [Fact]
    public void Verify_TooOld_False()
    {
        var signature = WebhookSignature.Compute(Secret, Now.ToUnixTimeSeconds(), Body);

        Assert.False(WebhookSignature.Verify(Secret, Stamp(Now), signature, Body, Now.AddMinutes(6)));
        Assert.True(WebhookSignature.Verify(Secret, Stamp(Now), signature, Body, Now.AddMinutes(6), TimeSpan.FromMinutes(10)));
    }

    [Theory]
    [InlineData(null, "sha256=00")]
    [InlineData("1748779200", null)]
    [InlineData("soon", "sha256=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("1748779200", "sha1=0000000000000000000000000000000000000000")]
    [InlineData("1748779200", "sha256=zz00000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("-1748779200", "sha256=0000000000000000000000000000000000000000000000000000000000000000")]
    public void Verify_Malformed_FalseWithoutThrowing(string? timestamp, string? signature)
    {
        Assert.False(WebhookSignature.Verify(Secret, timestamp, signature, Body, Now));
    }
}
