using System.CommandLine;
using Aviary.Cli.Commands;

namespace Aviary.Cli;

/// <summary>The <c>aviary</c> command: one folder per verb under <c>Commands/</c>.</summary>
public static class CliApp
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("Aviary: automated canary releases, Flagger-compatible, with or without Kubernetes.");
        var io = new CliIO(stdout, stderr);
        foreach (var command in Verbs.All(io, TimeProvider.System)) root.Subcommands.Add(command);
        var config = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            // Our catch below reports bugs in one line; System.CommandLine's handler would print a stack trace.
            EnableDefaultExceptionHandler = false,
            // Ctrl-C and SIGTERM cancel the command's token; `run` then drains and stops its instances, which takes
            // longer than the 2 s System.CommandLine allows by default before it ends the process.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(60),
        };
        try
        {
            return await root.Parse(args).InvokeAsync(config, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug, not bad input: say so in one line and keep the trace out of the user's way.
            await stderr.WriteLineAsync($"aviary: internal error: {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("AVIARY_DEBUG") is "1") await stderr.WriteLineAsync(e.ToString());
            return 70;
        }
    }
}

/// <summary>Where a command writes; tests pass their own writers.</summary>
public sealed record CliIO(TextWriter Out, TextWriter Error);
