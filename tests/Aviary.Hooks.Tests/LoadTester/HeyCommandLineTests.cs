using System.Text;
using Aviary.Hooks.LoadTester;

namespace Aviary.Hooks.Tests.LoadTester;

public sealed class HeyCommandLineTests
{
    private static LoadOptions Parse(params string[] args)
    {
        Assert.True(HeyCommandLine.TryParse(args, out var options, out var error), error);
        return options;
    }

    private static string Error(params string[] args)
    {
        Assert.False(HeyCommandLine.TryParse(args, out var options, out var error));
        Assert.Null(options);
        Assert.DoesNotContain('\n', error);
        return error;
    }

    [Fact]
    public void TryParse_FlaggerLoadTest_DurationRateConcurrency()
    {
        var options = Parse("-z", "1m", "-q", "10", "-c", "2", "http://podinfo-canary.test:9898/");

        Assert.Equal(new Uri("http://podinfo-canary.test:9898/"), options.Url);
        Assert.Equal(TimeSpan.FromMinutes(1), options.Duration);
        Assert.Equal(10, options.RateLimit);
        Assert.Equal(2, options.Concurrency);
    }

    [Fact]
    public void TryParse_UrlOnly_HeysDefaults()
    {
        var options = Parse("http://x/");

        Assert.Equal("GET", options.Method);
        Assert.Equal(200, options.Requests);
        Assert.Equal(50, options.Concurrency);
        Assert.Null(options.Duration);
        Assert.Equal(0, options.RateLimit);
        Assert.Equal(TimeSpan.FromSeconds(20), options.Timeout);
        Assert.Equal("text/html", options.ContentType);
        Assert.Equal("hey/0.0.1", options.UserAgent);
        Assert.Empty(options.Headers);
        Assert.True(options.Body.IsEmpty);
        Assert.False(options.DisableKeepAlives || options.DisableCompression || options.DisableRedirects || options.Steady);
    }

    [Fact]
    public void TryParse_EveryForm_Read()
    {
        var options = Parse(
            "--n=10", "-c=5", "-t", "0", "-m", "put", "-d", "body", "-T", "application/json", "-U", "tester",
            "-disable-keepalive", "-disable-compression=true", "-disable-redirects=false", "-cpus", "4", "-host", "h.test",
            "http://x/");

        Assert.Equal(10, options.Requests);
        Assert.Equal(5, options.Concurrency);
        Assert.Equal(TimeSpan.Zero, options.Timeout);
        Assert.Equal("PUT", options.Method);
        Assert.Equal("body", Encoding.UTF8.GetString(options.Body.Span));
        Assert.Equal("application/json", options.ContentType);
        Assert.Equal("tester hey/0.0.1", options.UserAgent);
        Assert.True(options.DisableKeepAlives);
        Assert.True(options.DisableCompression);
        Assert.False(options.DisableRedirects);
        Assert.Equal("h.test", options.Host);
    }

    [Fact]
    public void TryParse_RepeatedHeaders_LaterOfSameNameWins()
    {
        var options = Parse(
            "-H", "X-A: 1", "-H", "x-a: 2", "-H", "Cookie: canary=always", "-H", "Content-Type: text/plain", "-A", "*/*",
            "-a", "user:p:w", "http://x/");

        Assert.Equal(
            [new("x-a", "2"), new("Cookie", "canary=always"), new("Accept", "*/*"), new("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:p:w")))],
            options.Headers);
        Assert.Equal("text/plain", options.ContentType);
    }

    [Fact]
    public void TryParse_BodyFile_ReadAndWinsOverD()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "from file");

            var options = Parse("-d", "inline", "-D", file, "-m", "POST", "http://x/");

            Assert.Equal("from file", Encoding.UTF8.GetString(options.Body.Span));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void TryParse_ZeroDuration_CountMode()
    {
        var options = Parse("-z", "0", "-n", "5", "-c", "5", "http://x/");

        Assert.Null(options.Duration);
        Assert.Equal(5, options.Requests);
    }

    [Fact]
    public void TryParse_DurationSet_NLessThanCAllowed()
    {
        Assert.Equal(TimeSpan.FromSeconds(90), Parse("-z", "1m30s", "-n", "1", "-c", "10", "http://x/").Duration);
    }

    [Fact]
    public void TryParse_FlagsAfterUrl_Read()
    {
        Assert.Equal(3, Parse("http://x/", "-c", "3", "-n", "3").Concurrency);
    }

    [Theory]
    [InlineData("missing URL", "-n", "10")]
    [InlineData("flag provided but not defined: -k", "-k", "http://x/")]
    [InlineData("flag needs an argument: -n", "http://x/", "-n")]
    [InlineData("invalid value \"ten\" for flag -n: expected an integer", "-n", "ten", "http://x/")]
    [InlineData("invalid value \"fast\" for flag -q: expected a number", "-q", "fast", "http://x/")]
    [InlineData("invalid value \"1 minute\" for flag -z", "-z", "1 minute", "http://x/")]
    [InlineData("invalid value \"yes\" for flag -h2", "-h2=yes", "http://x/")]
    [InlineData("-n cannot be less than -c", "-n", "5", "-c", "10", "http://x/")]
    [InlineData("-n and -c cannot be smaller than 1", "-n", "0", "http://x/")]
    [InlineData("-c cannot be smaller than 1", "-z", "10s", "-c", "0", "http://x/")]
    [InlineData("-q cannot be negative", "-q", "-1", "http://x/")]
    [InlineData("-t cannot be negative", "-t", "-1", "http://x/")]
    [InlineData("invalid URL 'podinfo:9898'", "podinfo:9898")]
    [InlineData("invalid URL 'ftp://x/'", "ftp://x/")]
    [InlineData("invalid URL '/relative'", "/relative")]
    [InlineData("unexpected argument 'http://y/' after the URL http://x/", "http://x/", "http://y/")]
    [InlineData("invalid -H \"NoColon\"", "-H", "NoColon", "http://x/")]
    [InlineData("invalid -H \"X-Empty:\"", "-H", "X-Empty:", "http://x/")]
    [InlineData("invalid -H \"Bad Name: v\"", "-H", "Bad Name: v", "http://x/")]
    [InlineData("invalid -a \"user\"", "-a", "user", "http://x/")]
    [InlineData("invalid method 'GE T'", "-m", "GE T", "http://x/")]
    [InlineData("flag -x (HTTP proxy) is not supported", "-x", "proxy:3128", "http://x/")]
    [InlineData("flag -h2 is not supported", "-h2", "http://x/")]
    [InlineData("flag -o csv is not supported", "-o", "csv", "http://x/")]
    [InlineData("flag -h is deprecated, please use -H instead", "-h", "X: y", "http://x/")]
    [InlineData("cannot read the body file -D /nonexistent/body", "-D", "/nonexistent/body", "http://x/")]
    public void TryParse_BadInput_ClearError(string expected, params string[] args)
    {
        Assert.StartsWith(expected, Error(args), StringComparison.Ordinal);
    }

    [Fact]
    public void TryParseCommand_QuotedWords_SplitAsAShellDoes()
    {
        Assert.True(HeyCommandLine.TryParseCommand(
            """hey -z 1m -H 'Cookie: canary=always' -H "X-Note: say \"hi\"" -d it\'s http://x/""", out var options, out var error), error);

        Assert.Equal([new("Cookie", "canary=always"), new("X-Note", "say \"hi\"")], options.Headers);
        Assert.Equal("it's", Encoding.UTF8.GetString(options.Body.Span));
    }

    [Fact]
    public void TryParseCommand_PathToHey_Accepted()
    {
        Assert.True(HeyCommandLine.TryParseCommand("/usr/local/bin/hey -n 1 -c 1 http://x/", out _, out var error), error);
    }

    [Theory]
    [InlineData("curl http://x/", "not a hey command")]
    [InlineData("hey -z 1m http://x/ | tee out", "shell syntax '|'")]
    [InlineData("hey -z 1m http://x/ && echo done", "shell syntax '&'")]
    [InlineData("hey -z $DURATION http://x/", "shell syntax '$'")]
    [InlineData("hey -H 'X: 1 http://x/", "unterminated ' quote")]
    [InlineData("hey -z 1m", "missing URL")]
    [InlineData("", "not a hey command")]
    public void TryParseCommand_Unsupported_ClearError(string command, string expected)
    {
        Assert.False(HeyCommandLine.TryParseCommand(command, out _, out var error));

        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hey -z 1m http://x/", true)]
    [InlineData("  hey", true)]
    [InlineData("heyy http://x/", false)]
    [InlineData("curl -sd 'test' http://x/", false)]
    public void IsHeyCommand_FirstWord_Decides(string command, bool expected)
    {
        Assert.Equal(expected, HeyCommandLine.IsHeyCommand(command));
    }
}
