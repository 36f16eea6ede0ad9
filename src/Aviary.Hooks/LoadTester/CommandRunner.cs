using Aviary.Core.Primitives;
using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Aviary.Hooks.LoadTester;

/// <summary>A command checked against the allowlist: a program and its arguments, or a hey run on the built-in generator.</summary>
internal sealed record PreparedCommand(string Text, string? Program, IReadOnlyList<string> Arguments, LoadOptions? Builtin);

/// <summary>How a command ended: its output (stdout and stderr as they came, or the built-in generator's summary).</summary>
internal sealed record CommandResult(bool Succeeded, string Output, string? Error);

/// <summary>
/// Runs the load tester's commands: never through a shell unless asked for (<c>bash -c</c> when bash is enabled),
/// only programs on the allowlist, hey on the built-in generator when so configured, each killed (with its children)
/// after the timeout or when the server stops. The token's variable is removed from the commands' environment.
/// </summary>
internal sealed class CommandRunner(LoadTesterOptions options, TimeProvider time, string? hiddenVariable)
{
    private const string Hey = "hey";

    /// <summary>Checks and prepares <paramref name="command"/>; <paramref name="shell"/> runs it with <c>bash -c</c>.</summary>
    public bool TryPrepare(string command, bool shell, [NotNullWhen(true)] out PreparedCommand? prepared, [NotNullWhen(false)] out string? error)
    {
        prepared = null;
        if (string.IsNullOrWhiteSpace(command))
        {
            error = "the command is empty";
            return false;
        }
        if (shell)
        {
            prepared = new PreparedCommand(command, Which("bash") ?? "bash", ["-c", command], null);
            error = null;
            return true;
        }
        if (!CommandWords.TrySplit(command, out var words, out error)) return false;
        var program = words[0];
        var isPath = program.Contains('/', StringComparison.Ordinal);
        var resolved = isPath ? (File.Exists(program) ? program : null) : Which(program);
        var allowed = options.AllowedPrograms.Contains(program, StringComparer.Ordinal)
            || (!isPath && resolved is not null && options.AllowedPrograms.Contains(resolved, StringComparer.Ordinal));
        if (!allowed)
        {
            error = $"program '{program}' is not allowed: the load tester runs only {string.Join(", ", options.AllowedPrograms)}";
            return false;
        }
        var isHey = program == Hey || program.EndsWith("/" + Hey, StringComparison.Ordinal);
        var builtin = isHey && (options.BuiltinHey == BuiltinHeyMode.Always || (options.BuiltinHey == BuiltinHeyMode.WhenMissing && resolved is null));
        var arguments = words.Skip(1).ToList();
        if (builtin)
        {
            if (!HeyCommandLine.TryParse(arguments, out var load, out error)) return false;
            prepared = new PreparedCommand(command, null, arguments, load);
            return true;
        }
        if (resolved is null)
        {
            error = isPath ? $"program '{program}' does not exist" : $"program '{program}' is not found on PATH";
            return false;
        }
        prepared = new PreparedCommand(command, resolved, arguments, null);
        return true;
    }

    /// <summary>Runs a prepared command to its end, its timeout, or <paramref name="cancellationToken"/>.</summary>
    public async Task<CommandResult> RunAsync(PreparedCommand command, CancellationToken cancellationToken)
    {
        using var timeout = Deadline.After(options.CommandTimeout, time, cancellationToken);
        var result = command.Builtin is { } load
            ? await RunBuiltinAsync(command, load, timeout.Token).ConfigureAwait(false)
            : await RunProcessAsync(command, timeout.Token).ConfigureAwait(false);
        if (timeout.IsCancellationRequested && !result.Succeeded && result.Error is null)
        {
            var why = cancellationToken.IsCancellationRequested ? "was stopped" : $"timed out after {Core.Primitives.GoDuration.Format(options.CommandTimeout)}";
            return result with { Error = $"command {command.Text} {why}" };
        }
        return result;
    }

    private async Task<CommandResult> RunBuiltinAsync(PreparedCommand command, LoadOptions load, CancellationToken cancellationToken)
    {
        // The generator stops at cancellation and still reports what completed, as hey does on a signal.
        var report = await new LoadGenerator(load, time).RunAsync(cancellationToken).ConfigureAwait(false);
        var summary = report.ToHeySummary();
        return cancellationToken.IsCancellationRequested ? new CommandResult(false, summary, null) : new CommandResult(true, summary, null);
    }

    private async Task<CommandResult> RunProcessAsync(PreparedCommand command, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(command.Program!)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in command.Arguments) info.ArgumentList.Add(argument);
        if (hiddenVariable is not null) info.Environment.Remove(hiddenVariable);

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return new CommandResult(false, "", $"command {command.Text} failed to start: {e.Message}");
        }
        process.StandardInput.Close();
        var output = new Output(options.MaxOutputChars);
        var readers = Task.WhenAll(output.ReadAsync(process.StandardOutput), output.ReadAsync(process.StandardError));
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            await readers.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It ended meanwhile.
            }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            return new CommandResult(false, output.ToString(), null);
        }
        var text = output.ToString();
        return process.ExitCode == 0
            ? new CommandResult(true, text, null)
            : new CommandResult(false, text, $"command {command.Text} failed: {text.Trim()}: exit status {process.ExitCode}");
    }

    /// <summary>Finds <paramref name="program"/> on PATH.</summary>
    internal static string? Which(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            var path = Path.Combine(dir, program);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>Output of both streams in arrival order, up to a limit.</summary>
    private sealed class Output(int limit)
    {
        private readonly Lock _gate = new();
        private readonly StringBuilder _text = new();
        private bool _cut;

        public async Task ReadAsync(StreamReader reader)
        {
            var buffer = new char[4096];
            int read;
            while ((read = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                lock (_gate)
                {
                    var room = limit - _text.Length;
                    if (room >= read) _text.Append(buffer, 0, read);
                    else
                    {
                        if (room > 0) _text.Append(buffer, 0, room);
                        _cut = true;
                    }
                }
            }
        }

        public override string ToString()
        {
            lock (_gate) return _cut ? _text + "\n[output cut]\n" : _text.ToString();
        }
    }
}
