using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace Aviary.Demo.Tests;

/// <summary>The built Aviary.Demo.dll run with <c>dotnet</c>, as the local runtime runs it.</summary>
public sealed partial class ProcessTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Sigterm_RequestInFlight_FinishesThenExits0()
    {
        using var demo = Start("--port", "0", "--version", "9.9.9");
        try
        {
            var address = await ReadAddressAsync(demo);
            using var client = new HttpClient { Timeout = Patience };
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri(address, "/healthz"))).StatusCode);

            var inFlight = client.GetAsync(new Uri(address, "/delay/2"));
            await Task.Delay(500); // time for the request to reach the server
            await SignalAsync(demo.Id, "TERM");

            using var response = await inFlight;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("""{"delay":2}""", await response.Content.ReadAsStringAsync());
            using var exit = new CancellationTokenSource(Patience, TimeProvider.System);
            await demo.WaitForExitAsync(exit.Token);
            Assert.Equal(0, demo.ExitCode);
            var rest = await demo.StandardOutput.ReadToEndAsync();
            Assert.Contains("demo 9.9.9 stopped", rest, StringComparison.Ordinal);
            Assert.Equal("", await demo.StandardError.ReadToEndAsync());
        }
        finally
        {
            Stop(demo);
        }
    }

    [Fact]
    public async Task BadFlag_OneLineOnStderr_Exits2()
    {
        using var demo = Start("--latency", "soon");
        try
        {
            using var exit = new CancellationTokenSource(Patience, TimeProvider.System);
            await demo.WaitForExitAsync(exit.Token);

            Assert.Equal(2, demo.ExitCode);
            Assert.Equal(
                "aviary-demo: invalid --latency 'soon': expected a duration such as 250ms, 1.5s or a number of milliseconds",
                (await demo.StandardError.ReadToEndAsync()).TrimEnd());
            Assert.Equal("", await demo.StandardOutput.ReadToEndAsync());
        }
        finally
        {
            Stop(demo);
        }
    }

    [Fact]
    public async Task EnvironmentVariables_Read_FlagsWin()
    {
        using var demo = Start(
            new Dictionary<string, string> { ["DEMO_VERSION"] = "3.1.4", ["DEMO_COLOR"] = "teal", ["DEMO_ERROR_RATE"] = "1" },
            "--port", "0", "--color", "navy");
        try
        {
            var address = await ReadAddressAsync(demo);
            using var client = new HttpClient { Timeout = Patience };

            using var root = await client.GetAsync(address);
            var version = await client.GetStringAsync(new Uri(address, "/version"));

            Assert.Equal(HttpStatusCode.InternalServerError, root.StatusCode);
            Assert.Contains("\"3.1.4\"", version, StringComparison.Ordinal);
            await SignalAsync(demo.Id, "TERM");
            using var exit = new CancellationTokenSource(Patience, TimeProvider.System);
            await demo.WaitForExitAsync(exit.Token);
            Assert.Equal(0, demo.ExitCode);
        }
        finally
        {
            Stop(demo);
        }
    }

    private static Process Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    private static Process Start(Dictionary<string, string> environment, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Aviary.Demo.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first");
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("DEMO_", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(name);
        foreach (var (name, value) in environment) info.Environment[name] = value;
        return Process.Start(info) ?? throw new InvalidOperationException("cannot start " + dll);
    }

    /// <summary>Reads stdout until the "listening on" line and returns the address it names.</summary>
    private static async Task<Uri> ReadAddressAsync(Process demo)
    {
        using var timeout = new CancellationTokenSource(Patience, TimeProvider.System);
        while (await demo.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            var match = ListeningLine().Match(line);
            if (match.Success) return new Uri(match.Groups[1].Value);
        }
        throw new InvalidOperationException("the demo exited before listening: " + await demo.StandardError.ReadToEndAsync());
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture) } })
            ?? throw new InvalidOperationException("cannot run kill");
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    private static void Stop(Process demo)
    {
        if (!demo.HasExited) demo.Kill(entireProcessTree: true);
    }

    [GeneratedRegex(@"listening on (http://\S+)")]
    private static partial Regex ListeningLine();
}
