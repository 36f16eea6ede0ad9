using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Aviary.Core.Abstractions;
using Aviary.Core.Primitives;
using Microsoft.Extensions.Logging;

namespace Aviary.Routing.HAProxy;

/// <summary>
/// A generated HAProxy: <c>haproxy -W -db -S master.sock -p haproxy.pid -f haproxy.cfg</c>, a child process in the
/// foreground in master-worker mode. Reloads go through the master CLI's <c>reload</c> (the same as SIGUSR2 to the
/// master), which also tells whether a reload failed; the server states are saved to the server state file first, so
/// that the new worker starts with the slots' addresses, weights and states. When the process exits unexpectedly (a
/// worker that dies takes the master with it), it is started again after a delay that doubles up to 30 s, and
/// <c>onStarted</c> lets the router apply its state to the new process. Disposal stops it gracefully (SIGUSR1), then
/// kills it after <see cref="HAProxyOptions.StopTimeout"/>.
/// </summary>
internal sealed class HAProxyProcess : IAsyncDisposable
{
    private static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private const int OutputLines = 30;

    private readonly HAProxyOptions _options;
    private readonly HAProxyPaths _paths;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<CancellationToken, Task> _onRestarted;
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Queue<string> _output = new();
    private readonly Lock _outputGate = new();
    private StreamWriter? _log;
    private Process? _process;
    private Task? _supervisor;
    private int _restarts;

    public HAProxyProcess(HAProxyOptions options, HAProxyPaths paths, TimeProvider time, ILogger logger, Func<CancellationToken, Task> onRestarted)
    {
        _options = options;
        _paths = paths;
        _time = time;
        _logger = logger;
        _onRestarted = onRestarted;
        Api = new RuntimeApiClient(paths.Socket, options.CommandTimeout, time);
        Master = new RuntimeApiClient(paths.MasterSocket, options.CommandTimeout, time);
    }

    /// <summary>The worker's stats socket.</summary>
    public RuntimeApiClient Api { get; }

    /// <summary>The master CLI.</summary>
    public RuntimeApiClient Master { get; }

    /// <summary>The master's process id while it runs.</summary>
    public int? MasterPid => _process is { } p && !HasExited(p) ? p.Id : null;

    public bool IsRunning => MasterPid is not null;

    /// <summary>Times the supervisor started HAProxy again after it died.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>The last lines HAProxy wrote, for error messages.</summary>
    public string RecentOutput()
    {
        lock (_outputGate) return string.Join(" | ", _output);
    }

    /// <summary>Starts HAProxy (the configuration must be written) and its supervisor; Ok when it already runs.</summary>
    public async Task<Outcome> StartAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            if (IsRunning) return Outcome.Ok;
            var started = await StartProcessAsync(cancellationToken).ConfigureAwait(false);
            if (started.Succeeded) _supervisor ??= Task.Run(() => SuperviseAsync(_stopping.Token), CancellationToken.None);
            return started;
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Makes the running HAProxy read its configuration again; starts it when it is not running.</summary>
    public async Task<Outcome> ReloadAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            if (!IsRunning)
            {
                var started = await StartProcessAsync(cancellationToken).ConfigureAwait(false);
                if (started.Succeeded) _supervisor ??= Task.Run(() => SuperviseAsync(_stopping.Token), CancellationToken.None);
                return started;
            }
            var oldPid = await Api.GetPidAsync(cancellationToken).ConfigureAwait(false);
            await SaveServerStateAsync(cancellationToken).ConfigureAwait(false);
            var before = await Master.ShowProcAsync(cancellationToken).ConfigureAwait(false);
            var failedBefore = before.Succeeded ? before.Value!.FirstOrDefault(p => p.Type == "master")?.FailedReloads ?? 0 : 0;
            var reload = await Master.ReloadAsync(cancellationToken).ConfigureAwait(false);
            if (!reload.Succeeded) return Outcome.Fail($"cannot reload HAProxy: {reload.Error}");

            var deadline = _time.GetUtcNow() + _options.StartTimeout;
            while (_time.GetUtcNow() < deadline)
            {
                await Task.Delay(PollInterval, _time, cancellationToken).ConfigureAwait(false);
                var procs = await Master.ShowProcAsync(cancellationToken).ConfigureAwait(false);
                if (procs.Succeeded && procs.Value!.FirstOrDefault(p => p.Type == "master") is { } master && master.FailedReloads > failedBefore)
                    return Outcome.Fail($"HAProxy did not take the new configuration (the previous one still runs): {RecentOutput()}");
                if (await CurrentWorkerAsync(cancellationToken).ConfigureAwait(false) is { } pid && (!oldPid.Succeeded || pid != oldPid.Value))
                {
                    HAProxyLog.Reloaded(_logger, pid);
                    return Outcome.Ok;
                }
            }
            return Outcome.Fail($"HAProxy did not answer within {_options.StartTimeout.TotalSeconds:0.#}s after a reload: {RecentOutput()}");
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// The worker's pid once both sockets answer for it: the worker's stats socket, and the master CLI listing it as
    /// its current worker. The worker can answer before the master listens on its CLI again (at start, and after the
    /// master re-executed itself for a reload), and the next reload needs the master.
    /// </summary>
    private async Task<int?> CurrentWorkerAsync(CancellationToken cancellationToken)
    {
        var pid = await Api.GetPidAsync(cancellationToken).ConfigureAwait(false);
        if (!pid.Succeeded) return null;
        var procs = await Master.ShowProcAsync(cancellationToken).ConfigureAwait(false);
        return procs.Succeeded && procs.Value!.Any(p => p.Type == "worker" && !p.Old && p.Pid == pid.Value) ? pid.Value : null;
    }

    private async Task SaveServerStateAsync(CancellationToken cancellationToken)
    {
        var state = await Api.ExecuteAsync("show servers state", cancellationToken).ConfigureAwait(false);
        if (!state.Succeeded || RuntimeApiClient.ParseServersState(state.Value!) is null) return;
        var temp = _paths.ServerState + ".tmp";
        await File.WriteAllTextAsync(temp, state.Value!, cancellationToken).ConfigureAwait(false);
        File.Move(temp, _paths.ServerState, overwrite: true);
    }

    private async Task<Outcome> StartProcessAsync(CancellationToken cancellationToken)
    {
        var executable = ResolveExecutable(_options.Executable);
        if (executable is null) return Outcome.Fail($"cannot start HAProxy: '{_options.Executable}' is not installed (not found in PATH or the sbin folders)");
        await StopStaleAsync().ConfigureAwait(false);
        foreach (var socket in new[] { _paths.Socket, _paths.MasterSocket }) File.Delete(socket);
        // A fresh process starts with every slot free; the router applies its state once it answers.
        await File.WriteAllTextAsync(_paths.ServerState, "1\n", cancellationToken).ConfigureAwait(false);

        var info = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _paths.Directory,
        };
        foreach (var arg in new[] { "-W", "-db", "-S", _paths.MasterSocket + ",mode,600", "-p", _paths.PidFile, "-f", _paths.Config })
            info.ArgumentList.Add(arg);
        _log ??= new StreamWriter(new FileStream(_paths.Log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        Process process;
        try
        {
            process = new Process { StartInfo = info, EnableRaisingEvents = true };
            process.OutputDataReceived += (_, e) => Output(e.Data);
            process.ErrorDataReceived += (_, e) => Output(e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.StandardInput.Close();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return Outcome.Fail($"cannot start HAProxy ({executable}): {e.Message}");
        }
        _process = process;

        var deadline = _time.GetUtcNow() + _options.StartTimeout;
        while (_time.GetUtcNow() < deadline)
        {
            if (HasExited(process))
            {
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                return Outcome.Fail($"HAProxy exited with code {process.ExitCode} at start: {RecentOutput()}");
            }
            if (await CurrentWorkerAsync(cancellationToken).ConfigureAwait(false) is { } pid)
            {
                HAProxyLog.Started(_logger, process.Id, pid, _paths.Config);
                return Outcome.Ok;
            }
            await Task.Delay(PollInterval, _time, cancellationToken).ConfigureAwait(false);
        }
        var output = RecentOutput();
        await KillAsync(process).ConfigureAwait(false);
        return Outcome.Fail($"HAProxy did not answer on {_paths.Socket} within {_options.StartTimeout.TotalSeconds:0.#}s: {output}");
    }

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        // The wait before a restart doubles while starts fail, up to MaxRestartDelay.
        var backoff = new Backoff(_options.RestartDelay, MaxRestartDelay);
        var failedStarts = 0;
        while (!stopping.IsCancellationRequested)
        {
            var process = _process;
            try
            {
                if (process is not null) await process.WaitForExitAsync(stopping).ConfigureAwait(false);
                var delay = backoff.Delay(failedStarts + 1);
                if (process is not null && !_stopping.IsCancellationRequested)
                    HAProxyLog.Died(_logger, process.ExitCode, RecentOutput(), delay);
                await Task.Delay(delay, _time, stopping).ConfigureAwait(false);

                await _lifecycle.WaitAsync(stopping).ConfigureAwait(false);
                Outcome started;
                try
                {
                    // A reload may have started it meanwhile.
                    started = IsRunning && _process != process ? Outcome.Ok : await StartProcessAsync(stopping).ConfigureAwait(false);
                }
                finally
                {
                    _lifecycle.Release();
                }
                if (!started.Succeeded)
                {
                    HAProxyLog.RestartFailed(_logger, started.Error!);
                    failedStarts++;
                    _process = null;
                    continue;
                }
                Interlocked.Increment(ref _restarts);
                failedStarts = 0;
                await _onRestarted(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                HAProxyLog.SupervisorError(_logger, e);
                try
                {
                    await Task.Delay(backoff.Delay(failedStarts + 1), _time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>An HAProxy of a previous run of this folder (its pid file names a process started with our
    /// configuration) would hold the ports: it is stopped first.</summary>
    private async Task StopStaleAsync()
    {
        if (_process is { } own && !HasExited(own)) return;
        if (!File.Exists(_paths.PidFile)) return;
        var text = (await File.ReadAllTextAsync(_paths.PidFile).ConfigureAwait(false)).Trim();
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return;
        string cmdline;
        try
        {
            cmdline = (await File.ReadAllTextAsync($"/proc/{pid}/cmdline").ConfigureAwait(false)).Replace('\0', ' ');
        }
        catch (IOException)
        {
            return;
        }
        if (!cmdline.Contains("haproxy", StringComparison.Ordinal) || !cmdline.Contains(_paths.Config, StringComparison.Ordinal)) return;
        try
        {
            using var stale = Process.GetProcessById(pid);
            HAProxyLog.StoppingStale(_logger, pid);
            stale.Kill(entireProcessTree: true);
            await stale.WaitForExitAsync().WaitAsync(_options.StopTimeout, _time).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Gone already, or not ours to stop.
        }
    }

    private void Output(string? line)
    {
        if (line is null) return;
        lock (_outputGate)
        {
            _output.Enqueue(line);
            while (_output.Count > OutputLines) _output.Dequeue();
            _log?.WriteLine(line);
        }
    }

    private static bool HasExited(Process process)
    {
        try
        {
            return process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    private async Task KillAsync(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10), _time).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Exited meanwhile.
        }
    }

    private static string? ResolveExecutable(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal)) return File.Exists(name) ? name : null;
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/local/sbin", "/sbin"]);
        return dirs.Where(d => d.Length > 0).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    /// <summary>Graceful stop (SIGUSR1: stop listening, finish the requests in flight), then kill after the stop timeout.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_supervisor is not null)
            {
                try
                {
                    await _supervisor.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
            if (_process is { } process)
            {
                if (!HasExited(process))
                {
                    _ = NativeMethods.Kill(process.Id, NativeMethods.SIGUSR1);
                    try
                    {
                        await process.WaitForExitAsync().WaitAsync(_options.StopTimeout, _time).ConfigureAwait(false);
                    }
                    catch (TimeoutException)
                    {
                        await KillAsync(process).ConfigureAwait(false);
                    }
                }
                HAProxyLog.Stopped(_logger, process.Id);
                process.Dispose();
                _process = null;
            }
            foreach (var socket in new[] { _paths.Socket, _paths.MasterSocket }) File.Delete(socket);
            lock (_outputGate)
            {
                _log?.Dispose();
                _log = null;
            }
        }
        finally
        {
            _lifecycle.Release();
        }
        _stopping.Dispose();
    }

    private static class NativeMethods
    {
        public const int SIGUSR1 = 10;

        public static int Kill(int pid, int signal) => kill(pid, signal);

        // Blittable signature: no marshalling code, so no unsafe block is needed.
        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        private static extern int kill(int pid, int sig);
    }
}
