using System.CommandLine;
using Aviary.Hooks.LoadTester;
using Microsoft.Extensions.Logging;

namespace Aviary.Cli.Commands.LoadTester;

/// <summary><c>aviary loadtester</c>: a flagger-loadtester compatible webhook receiver, with an allowlist and a token.</summary>
internal static class LoadTesterCommand
{
    public static Command Create(CliIO io, TimeProvider time)
    {
        var bind = new Option<string>("--bind") { Description = "Address to listen on (loopback by default).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (flagger-loadtester's default).", DefaultValueFactory = _ => 9090 };
        var state = new Option<string>("--state") { Description = "Where gate state is kept across restarts.", DefaultValueFactory = _ => Path.Combine(".aviary", "loadtester") };
        var allow = new Option<string[]>("--allow")
        {
            Description = "A program commands may run (repeatable; default: hey and curl; hey runs on the built-in generator when not installed).",
        };
        var builtin = new Option<string>("--builtin-hey") { Description = "when-missing, always or never.", DefaultValueFactory = _ => "when-missing" };
        builtin.AcceptOnlyFromAmong("when-missing", "always", "never");
        var bash = new Option<bool>("--enable-bash") { Description = "Run `type: bash` commands through bash -c (any shell text, no allowlist)." };
        var tokenFile = new Option<string?>("--token-file") { Description = "File with the token every call must carry (Authorization: Bearer) or sign with." };
        var tokenEnv = new Option<string?>("--token-env") { Description = "Environment variable with that token." };
        var command = new Command("loadtester", """
            Serve flagger-loadtester's API for webhooks: `cmd` runs a command in the background (once at a time),
            `bash` runs one and can return its output, and the gates /gate/check|open|close|approve|halt and
            /rollback/check|open|close keep their state across restarts. Only allowlisted programs run, never
            through a shell unless --enable-bash; with a token, unauthenticated calls are refused.

            Example:
              aviary loadtester --port 9090 --token-file .aviary/loadtester-token
            """) { bind, port, state, allow, builtin, bash, tokenFile, tokenEnv };
        command.SetAction(async (parse, ct) =>
        {
            var allowed = parse.GetValue(allow) is { Length: > 0 } list ? list : ["hey", "curl"];
            var options = new LoadTesterOptions
            {
                BindAddress = parse.GetValue(bind)!,
                Port = parse.GetValue(port),
                StateDirectory = parse.GetValue(state),
                AllowedPrograms = allowed,
                BuiltinHey = parse.GetValue(builtin) switch { "always" => BuiltinHeyMode.Always, "never" => BuiltinHeyMode.Never, _ => BuiltinHeyMode.WhenMissing },
                EnableBash = parse.GetValue(bash),
                TokenFile = parse.GetValue(tokenFile),
                TokenEnvironmentVariable = parse.GetValue(tokenEnv),
            };
            if (options.Validate() is { Count: > 0 } problems)
            {
                foreach (var p in problems) await io.Error.WriteLineAsync($"aviary loadtester: {p}");
                return 1;
            }
            using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
            try
            {
                await using var server = new LoadTesterServer(options, loggers, time);
                await server.StartAsync(ct);
                await io.Out.WriteLineAsync($"aviary loadtester listening on {server.Address} (allowed: {string.Join(", ", allowed)})");
                await Task.Delay(Timeout.InfiniteTimeSpan, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await server.StopAsync(CancellationToken.None);
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                await io.Error.WriteLineAsync($"aviary loadtester: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
