using Microsoft.Extensions.Logging;

namespace Aviary.Demo.Tests;

public sealed class CommandLineTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    private static DemoOptions Parse(params string[] args)
    {
        var parsed = DemoCommandLine.Parse(args, NoEnvironment);
        Assert.Null(parsed.Error);
        return Assert.IsType<DemoOptions>(parsed.Options);
    }

    private static string ParseError(string[] args, Func<string, string?>? environment = null)
    {
        var parsed = DemoCommandLine.Parse(args, environment ?? NoEnvironment);
        Assert.Null(parsed.Options);
        Assert.False(parsed.HelpRequested);
        Assert.NotNull(parsed.Error);
        Assert.DoesNotContain('\n', parsed.Error);
        return parsed.Error;
    }

    [Fact]
    public void Parse_Nothing_Defaults()
    {
        var options = Parse();

        Assert.Equal(9898, options.Port);
        Assert.Equal("127.0.0.1", options.Bind);
        Assert.Equal("1.0.0", options.Version);
        Assert.Equal("greetings from podinfo v1.0.0", options.EffectiveMessage);
        Assert.Equal(0, options.ErrorRate);
        Assert.Equal(TimeSpan.Zero, options.Latency);
        Assert.False(options.NeverReady);
        Assert.Null(options.Seed);
        Assert.Equal(LogLevel.Information, options.LogLevel);
    }

    [Fact]
    public void Parse_EveryFlag_Read()
    {
        var options = Parse(
            "--port", "5000", "--bind=0.0.0.0", "--version", "1.2.3", "--revision", "abc", "--color", "blue",
            "--message", "hi there", "--error-rate", "0.25", "--latency", "250ms", "--latency-jitter", "50",
            "--ready-delay", "1.5s", "--never-ready", "--seed", "-4", "--log-level", "warning");

        Assert.Equal(
            new DemoOptions
            {
                Port = 5000, Bind = "0.0.0.0", Version = "1.2.3", Revision = "abc", Color = "blue", Message = "hi there",
                ErrorRate = 0.25, Latency = TimeSpan.FromMilliseconds(250), LatencyJitter = TimeSpan.FromMilliseconds(50),
                ReadyDelay = TimeSpan.FromSeconds(1.5), NeverReady = true, Seed = -4, LogLevel = LogLevel.Warning,
            },
            options);
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("250", 250)]
    [InlineData("0", 0)]
    [InlineData("1s", 1000)]
    [InlineData("1.5s", 1500)]
    [InlineData("1m30s", 90_000)]
    [InlineData("500us", 0.5)]
    public void Parse_LatencyForms_Milliseconds(string text, double milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Parse("--latency", text).Latency);
    }

    [Fact]
    public void Parse_SingleDashAndBooleanValue_Accepted()
    {
        var options = Parse("-port", "1", "-never-ready=false");

        Assert.Equal(1, options.Port);
        Assert.False(options.NeverReady);
    }

    [Fact]
    public void Parse_Environment_ReadAndFlagsWin()
    {
        var environment = new Dictionary<string, string>
        {
            ["DEMO_VERSION"] = "2.0.0",
            ["DEMO_COLOR"] = "red",
            ["DEMO_ERROR_RATE"] = "0.5",
            ["DEMO_LATENCY"] = "100ms",
            ["DEMO_NEVER_READY"] = "true",
            ["DEMO_PORT"] = "7000",
        };

        var parsed = DemoCommandLine.Parse(["--color", "green", "--port", "7001"], environment.GetValueOrDefault);

        var options = Assert.IsType<DemoOptions>(parsed.Options);
        Assert.Equal("2.0.0", options.Version);
        Assert.Equal("green", options.Color);
        Assert.Equal(0.5, options.ErrorRate);
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.Latency);
        Assert.True(options.NeverReady);
        Assert.Equal(7001, options.Port);
    }

    [Theory]
    [InlineData("unknown flag --nope", "--nope")]
    [InlineData("flag --port needs a value", "--port")]
    [InlineData("invalid --port 'x'", "--port", "x")]
    [InlineData("invalid --port '70000'", "--port", "70000")]
    [InlineData("invalid --error-rate '1.5'", "--error-rate", "1.5")]
    [InlineData("invalid --error-rate '-0.1'", "--error-rate", "-0.1")]
    [InlineData("invalid --latency 'fast'", "--latency", "fast")]
    [InlineData("invalid --latency '-5ms'", "--latency", "-5ms")]
    [InlineData("invalid --latency '10parsecs'", "--latency", "10parsecs")]
    [InlineData("invalid --bind 'nowhere'", "--bind", "nowhere")]
    [InlineData("invalid --never-ready 'maybe'", "--never-ready=maybe")]
    [InlineData("invalid --log-level 'loud'", "--log-level", "loud")]
    [InlineData("unexpected argument 'serve'", "serve")]
    public void Parse_BadFlag_OneLineError(string expected, params string[] args)
    {
        Assert.StartsWith(expected, ParseError(args), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadEnvironment_NamesTheVariable()
    {
        var error = ParseError([], name => name == "DEMO_ERROR_RATE" ? "lots" : null);

        Assert.StartsWith("invalid DEMO_ERROR_RATE=lots", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Help_Requested()
    {
        Assert.True(DemoCommandLine.Parse(["--help"], NoEnvironment).HelpRequested);
    }

    [Fact]
    public async Task RunAsync_BadFlag_PrintsOneLineAndReturns2()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await DemoApp.RunAsync(["--error-rate", "2"], NoEnvironment, output, error, CancellationToken.None);

        Assert.Equal(2, code);
        Assert.Equal("", output.ToString());
        Assert.Equal("aviary-demo: invalid --error-rate '2': expected a fraction between 0 and 1, e.g. 0.1" + Environment.NewLine, error.ToString());
    }

    [Fact]
    public async Task RunAsync_Help_PrintsUsageAndReturns0()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await DemoApp.RunAsync(["--help"], NoEnvironment, output, error, CancellationToken.None);

        Assert.Equal(0, code);
        Assert.Contains("--error-rate", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_PortTaken_OneLineAndReturns1()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await DemoApp.RunAsync(
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--log-level", "none"],
            NoEnvironment, output, error, CancellationToken.None);

        Assert.Equal(1, code);
        var line = Assert.Single(error.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"aviary-demo: cannot listen on 127.0.0.1:{port}", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_Cancelled_StopsAndReturns0()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500), TimeProvider.System);
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await DemoApp.RunAsync(["--port", "0", "--log-level", "none"], NoEnvironment, output, error, cts.Token);

        Assert.Equal(0, code);
        Assert.Equal("", error.ToString());
    }
}
