using Aviary.Metrics.Providers;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// The SigV4 signer against AWS's published Signature Version 4 test suite (aws-sig-v4-test-suite, linked from
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html): credentials
/// <c>AKIDEXAMPLE</c>/<c>wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY</c>, 2015-08-30T12:36:00Z, us-east-1, service <c>service</c>,
/// host <c>example.amazonaws.com</c>.
/// </summary>
public sealed class SigV4Tests
{
    private static readonly AwsCredentials Example = new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    private static readonly DateTimeOffset At = new(2015, 8, 30, 12, 36, 0, TimeSpan.Zero);
    private static readonly KeyValuePair<string, string>[] Host = [new("Host", "example.amazonaws.com")];

    private static string Authorization(string method, string path, string query = "", AwsCredentials? credentials = null) =>
        SigV4.Sign(method, path, query, Host, [], "us-east-1", "service", credentials ?? Example, At).Single(h => h.Key == "Authorization").Value;

    private const string Prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=";

    [Theory]
    [InlineData("GET", "/", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")]                        // get-vanilla
    [InlineData("GET", "/", "Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")] // get-vanilla-query-order-key-case
    [InlineData("POST", "/", "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")]                       // post-vanilla
    [InlineData("GET", "/%E1%88%B4", "", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")]              // get-utf8
    public void Sign_AwsTestSuite_PublishedSignature(string method, string path, string query, string signature) =>
        Assert.Equal(Prefix + signature, Authorization(method, path, query));

    [Fact]
    public void Sign_AddsTheDateHeader()
    {
        var headers = SigV4.Sign("GET", "/", "", Host, [], "us-east-1", "service", Example, At);
        Assert.Equal("20150830T123600Z", headers.Single(h => h.Key == "x-amz-date").Value);
    }

    [Fact]
    public void Sign_SessionToken_SentAndSigned()
    {
        var headers = SigV4.Sign("GET", "/", "", Host, [], "us-east-1", "service", Example with { SessionToken = "token-1" }, At);
        Assert.Equal("token-1", headers.Single(h => h.Key == "x-amz-security-token").Value);
        Assert.Contains("SignedHeaders=host;x-amz-date;x-amz-security-token,", headers.Single(h => h.Key == "Authorization").Value, StringComparison.Ordinal);
    }

    [Fact]
    public void Credentials_ToString_HidesTheSecret() =>
        Assert.DoesNotContain("EXAMPLEKEY", Example.ToString(), StringComparison.Ordinal);
}
