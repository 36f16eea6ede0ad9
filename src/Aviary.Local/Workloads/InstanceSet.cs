using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Primitives;
using Aviary.Local.Store;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Microsoft.Extensions.Logging;

namespace Aviary.Local.Workloads;

public enum InstanceState
{
    Starting,
    Ready,
    Exited,
    Stopping,
}

/// <summary>What an instance set should run: a template, its revision, how many, and where relative paths start.</summary>
public sealed record InstanceSetSpec(ProcessTemplate Template, string Revision, int Replicas, string BaseDir);

/// <summary>A snapshot of one instance, for views and tests.</summary>
public sealed record InstanceInfo(string Id, string Revision, int Port, int Pid, InstanceState State, int Restarts, string? LastError);

/// <summary>
/// The instances of one copy (primary or canary) of a workload, kept to a desired template and count like a
/// Deployment's ReplicaSets: crashed instances restart with backoff; a new template rolls in by surge (new
/// instances start, and an old one retires for each new one that is ready); only ready instances receive
/// traffic; an instance is taken out of the router, drained, and only then stopped.
/// </summary>
public sealed partial class InstanceSet : IAsyncDisposable
{
    private static readonly TimeSpan LoopPeriod = TimeSpan.FromMilliseconds(200);
    /// <summary>The waits before restarting an instance that exited: 1 s, doubling up to 30 s.</summary>
    private static readonly Backoff Restart = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));

    private readonly string _canary;
    private readonly string _name;
    private readonly BackendRole _role;
    private readonly IBackendRegistry _router;
    private readonly string _service;
    private readonly StateStore _store;
    private readonly string _logDir;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient _probe;
    private readonly TimeSpan _drainTimeout;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<Instance> _instances = [];
    private readonly ConcurrentDictionary<string, Task> _stopping = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Wakeup _wake;
    private InstanceSetSpec? _spec;
    private DateTimeOffset _waitingSince;
    private bool _wasReady;
    private string _published = "";
    private Task? _loop;

    public InstanceSet(string canary, string name, BackendRole role, IBackendRegistry router, string service, StateStore store, string logDir,
        TimeProvider time, ILogger logger, HttpClient probe, TimeSpan drainTimeout)
    {
        _canary = canary;
        _name = name;
        _role = role;
        _router = router;
        _service = service;
        _store = store;
        _logDir = logDir;
        _time = time;
        _logger = logger;
        _probe = probe;
        _drainTimeout = drainTimeout;
        _waitingSince = time.GetUtcNow();
        _wake = new Wakeup(time);
    }

    public string Role => _role == BackendRole.Primary ? "primary" : "canary";

    public InstanceSetSpec? Spec => _spec;

    /// <summary>Starts the supervision loop (every 200 ms, and at once after a change).</summary>
    public void Start() => _loop ??= Task.Run(() => LoopAsync(_stop.Token));

    /// <summary>Sets what should run; takes effect on the next pass of the loop.</summary>
    public void SetDesired(InstanceSetSpec spec)
    {
        var old = _spec;
        _spec = spec;
        if (old is null || old.Revision != spec.Revision || old.Replicas != spec.Replicas)
        {
            _waitingSince = _time.GetUtcNow();
            _wasReady = false;
        }
        _wake.Wake();
    }

    /// <summary>Scales to zero: every instance is drained and stopped.</summary>
    public void ScaleToZero()
    {
        if (_spec is { } s) SetDesired(s with { Replicas = 0 });
    }

    public IReadOnlyList<InstanceInfo> Snapshot()
    {
        lock (_instances)
            return _instances.Select(i => new InstanceInfo(i.Id, i.Revision, i.Port, i.Pid, i.State, i.Restarts, i.LastError)).ToList();
    }

    /// <summary>Whether the desired instances are available, as Flagger judges a Deployment.</summary>
    public Readiness Readiness(int thresholdPercent)
    {
        var spec = _spec;
        if (spec is null) return Core.Abstractions.Readiness.NotReady("not started yet", _waitingSince);
        List<Instance> all;
        lock (_instances) all = [.. _instances];
        if (spec.Replicas == 0) return Core.Abstractions.Readiness.IsReady;
        var current = all.Where(i => i.Revision == spec.Revision && i.State != InstanceState.Stopping).ToList();
        var ready = current.Count(i => i.State == InstanceState.Ready);
        var old = all.Count(i => i.Revision != spec.Revision && i.State != InstanceState.Exited);
        var needed = Math.Max(thresholdPercent > 0 ? 1 : 0, (int)(spec.Replicas * (thresholdPercent / 100.0)));
        if (ready >= needed && old == 0)
        {
            _wasReady = true;
            return Core.Abstractions.Readiness.IsReady;
        }
        if (_wasReady)
        {
            _wasReady = false;
            _waitingSince = _time.GetUtcNow();
        }
        var message = old > 0 && ready >= needed
            ? $"waiting for rollout to finish: {old} old replicas are pending termination"
            : $"waiting for rollout to finish: {ready} of {spec.Replicas} (readyThreshold {thresholdPercent}%) updated replicas are available";
        var problem = current.Where(i => i.LastError is not null).Select(i => $"{i.Id}: {i.LastError}").FirstOrDefault();
        if (problem is not null) message += $" ({problem})";
        return Core.Abstractions.Readiness.NotReady(message, _waitingSince);
    }

    /// <summary>Takes over a process from a previous run of the controller (found alive with the same start time).</summary>
    public void Adopt(InstanceRecord record)
    {
        lock (_instances)
        {
            _instances.Add(new Instance(record.Id, record.Revision, record.Port, record.LogPath)
            {
                Process = new StartedProcess(record.Pid, record.StartTicks, null),
                State = InstanceState.Starting,
                StartedAt = _time.GetUtcNow(),
                Adopted = true,
            });
        }
        LogAdopted(_logger, record.Id, record.Pid);
    }

    /// <summary>Waits until no instance is left (after <see cref="ScaleToZero"/>); false on timeout.</summary>
    public async Task<bool> WaitEmptyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + timeout;
        while (_time.GetUtcNow() < deadline)
        {
            lock (_instances)
                if (_instances.Count == 0 && _stopping.IsEmpty) return true;
            _wake.Wake();
            await Task.Delay(TimeSpan.FromMilliseconds(50), _time, cancellationToken);
        }
        return false;
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ReconcileAsync(cancellationToken);
                await _wake.WaitAsync(LoopPeriod, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogLoopError(_logger, _name, e);
                await Task.Delay(LoopPeriod, _time, CancellationToken.None);
            }
        }
    }

    /// <summary>One pass: notice exits, restart with backoff, probe, scale, roll, publish endpoints, stop the retired.</summary>
    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var spec = _spec;
            if (spec is null) return;
            var now = _time.GetUtcNow();
            NoticeExits(now);
            await ProbeAsync(spec, now, cancellationToken);
            Scale(spec, now);
            Publish();
            StopRetired();
        }
        finally
        {
            _gate.Release();
        }
    }

    private void NoticeExits(DateTimeOffset now)
    {
        lock (_instances)
        {
            foreach (var i in _instances.Where(i => i.State is InstanceState.Starting or InstanceState.Ready))
            {
                var exited = i.Process is null || (i.Process.Handle is { } h ? h.HasExited : !Processes.IsAlive(i.Process.Pid, i.Process.StartTicks));
                if (!exited) continue;
                var code = i.Process?.Handle is { HasExited: true } p ? p.ExitCode.ToString(CultureInfo.InvariantCulture) : "?";
                var last = Processes.LastLogLine(i.LogPath);
                i.LastError = $"exited with code {code}" + (last is null ? "" : $": {last}");
                i.State = InstanceState.Exited;
                i.Restarts++;
                var backoff = Restart.Delay(i.Restarts);
                i.RestartAt = now + backoff;
                Processes.Reap(i.Process?.Handle);
                _store.DeleteInstance(i.Id);
                LogExited(_logger, i.Id, i.LastError, backoff.TotalSeconds);
            }
        }
    }

    private async Task ProbeAsync(InstanceSetSpec spec, DateTimeOffset now, CancellationToken cancellationToken)
    {
        List<Instance> due;
        lock (_instances)
            due = _instances.Where(i => i.State is InstanceState.Starting or InstanceState.Ready && now >= i.NextProbe).ToList();
        if (due.Count == 0) return;
        var probe = spec.Template.ReadinessProbe;
        var period = TimeSpan.FromSeconds(probe?.PeriodSeconds ?? 1);
        var results = await Task.WhenAll(due.Select(i => ProbeOnceAsync(i, probe, now, cancellationToken)));
        lock (_instances)
        {
            for (var n = 0; n < due.Count; n++)
            {
                var i = due[n];
                if (i.State is not (InstanceState.Starting or InstanceState.Ready)) continue;
                // Probe starting instances often so that they take traffic as soon as they can.
                i.NextProbe = now + (i.State == InstanceState.Ready ? period : TimeSpan.FromMilliseconds(200));
                if (results[n] is null)
                {
                    i.ProbeFailures = 0;
                    if (i.State == InstanceState.Starting)
                    {
                        i.State = InstanceState.Ready;
                        i.LastError = null;
                    }
                }
                else if (i.State == InstanceState.Ready)
                {
                    if (++i.ProbeFailures >= (probe?.FailureThreshold ?? 3))
                    {
                        i.State = InstanceState.Starting;
                        i.LastError = $"readiness probe failed: {results[n]}";
                    }
                }
                else if (now - i.StartedAt > TimeSpan.FromSeconds(2))
                {
                    i.LastError = $"not ready: {results[n]}";
                }
            }
        }
    }

    /// <summary>Null when ready, else why not.</summary>
    private async Task<string?> ProbeOnceAsync(Instance instance, Probe? probe, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (probe?.InitialDelaySeconds is { } delay && now - instance.StartedAt < TimeSpan.FromSeconds(delay)) return "initial delay";
        using var timeout = Deadline.After(TimeSpan.FromSeconds(probe?.TimeoutSeconds ?? 1), _time, cancellationToken);
        try
        {
            if (probe is null)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(System.Net.IPAddress.Loopback, instance.Port, timeout.Token);
                return null;
            }
            using var response = await _probe.GetAsync(new Uri(instance.Address, probe.HttpGet.Path ?? "/"), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            return status is >= 200 and < 400 ? null : $"HTTP {status}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return "timed out";
        }
        catch (Exception e) when (e is HttpRequestException or SocketException or IOException)
        {
            return e.InnerException?.Message ?? e.Message;
        }
    }

    private void Scale(InstanceSetSpec spec, DateTimeOffset now)
    {
        lock (_instances)
        {
            // Exited instances of an old revision are not restarted.
            _instances.RemoveAll(i => i.State == InstanceState.Exited && i.Revision != spec.Revision);
            var current = _instances.Where(i => i.Revision == spec.Revision && i.State != InstanceState.Stopping).ToList();

            foreach (var i in current.Where(i => i.State == InstanceState.Exited && now >= i.RestartAt))
                Launch(i, spec);

            for (var n = current.Count; n < spec.Replicas; n++)
            {
                var instance = new Instance(NewId(spec.Revision), spec.Revision, 0, "");
                _instances.Add(instance);
                Launch(instance, spec);
            }

            // Too many of the current revision: stop the least useful first.
            foreach (var extra in current.OrderBy(i => i.State == InstanceState.Ready).ThenBy(i => i.StartedAt).Take(Math.Max(0, current.Count - spec.Replicas)))
                Retire(extra);

            // Rolling update: keep as many old instances as new ones are still missing.
            var readyNew = current.Count(i => i.State == InstanceState.Ready);
            var old = _instances.Where(i => i.Revision != spec.Revision && i.State != InstanceState.Stopping).ToList();
            var keep = spec.Replicas == 0 ? 0 : Math.Max(0, spec.Replicas - readyNew);
            foreach (var retired in old.OrderBy(i => i.State == InstanceState.Ready).ThenBy(i => i.StartedAt).Take(Math.Max(0, old.Count - keep)))
                Retire(retired);
        }
    }

    private void Launch(Instance instance, InstanceSetSpec spec)
    {
        var port = Processes.FreePort();
        var log = Path.Combine(_logDir, $"{instance.Id}.log");
        string Expand(string s) => s.Replace("{port}", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{name}", _name, StringComparison.Ordinal).Replace("{role}", Role, StringComparison.Ordinal)
            .Replace("{instance}", instance.Id, StringComparison.Ordinal);
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in spec.Template.Env ?? []) env[e.Name] = Expand(e.Value ?? "");
        env["AVIARY_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        env["AVIARY_INSTANCE"] = instance.Id;
        env["AVIARY_ROLE"] = Role;
        env["AVIARY_REVISION"] = spec.Revision;
        var workingDir = spec.Template.WorkingDir is { Length: > 0 } w ? Path.GetFullPath(w, spec.BaseDir) : spec.BaseDir;
        var launch = new ProcessLaunch(Expand(spec.Template.Command), (spec.Template.Args ?? []).Select(Expand).ToList(), env, workingDir, log);
        var (process, error) = Processes.Start(launch);
        instance.Port = port;
        instance.LogPath = log;
        instance.StartedAt = _time.GetUtcNow();
        instance.NextProbe = instance.StartedAt;
        instance.ProbeFailures = 0;
        if (process is null)
        {
            instance.State = InstanceState.Exited;
            instance.LastError = error;
            instance.Restarts++;
            instance.RestartAt = instance.StartedAt + Restart.Delay(instance.Restarts);
            LogStartFailed(_logger, instance.Id, error ?? "unknown error");
            return;
        }
        instance.Process = process;
        instance.State = InstanceState.Starting;
        _store.SaveInstance(new InstanceRecord(instance.Id, _canary, Role, instance.Revision, process.Pid, process.StartTicks, port, log));
        LogStarted(_logger, instance.Id, process.Pid, port);
    }

    private void Retire(Instance instance)
    {
        if (instance.State == InstanceState.Exited)
        {
            _instances.Remove(instance);
            return;
        }
        instance.State = InstanceState.Stopping;
    }

    private void Publish()
    {
        List<BackendEndpoint> endpoints;
        lock (_instances)
            endpoints = _instances.Where(i => i.State == InstanceState.Ready)
                .Select(i => new BackendEndpoint(i.Id, i.Address)).OrderBy(e => e.Id, StringComparer.Ordinal).ToList();
        var key = string.Join(",", endpoints.Select(e => e.Id));
        if (key == _published) return;
        _router.SetEndpoints(_service, _role, endpoints);
        _published = key;
    }

    private void StopRetired()
    {
        List<Instance> retiring;
        lock (_instances)
            retiring = _instances.Where(i => i.State == InstanceState.Stopping && !_stopping.ContainsKey(i.Id)).ToList();
        foreach (var i in retiring)
            _stopping[i.Id] = Task.Run(() => StopInstanceAsync(i));
    }

    /// <summary>Drain (no request in flight through the router), then SIGTERM, then SIGKILL after the grace period.</summary>
    private async Task StopInstanceAsync(Instance instance)
    {
        try
        {
            if (instance.Process is { } process)
            {
                await _router.DrainAsync(_service, instance.Id, _drainTimeout, CancellationToken.None);
                Processes.Signal(process.Pid, Processes.SIGTERM);
                var grace = TimeSpan.FromSeconds(_spec?.Template.TerminationGracePeriodSeconds ?? 10);
                var deadline = _time.GetUtcNow() + grace;
                while (IsRunning(process) && _time.GetUtcNow() < deadline)
                    await Task.Delay(TimeSpan.FromMilliseconds(50), _time, CancellationToken.None);
                if (IsRunning(process)) Processes.Signal(process.Pid, Processes.SIGKILL);
                if (process.Handle is { } h) await h.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5), _time, CancellationToken.None);
                Processes.Reap(process.Handle);
            }
            _store.DeleteInstance(instance.Id);
            LogStopped(_logger, instance.Id);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogLoopError(_logger, instance.Id, e);
        }
        finally
        {
            lock (_instances) _instances.Remove(instance);
            _stopping.TryRemove(instance.Id, out _);
        }
    }

    private static bool IsRunning(StartedProcess p) => p.Handle is { } h ? !h.HasExited : Processes.IsAlive(p.Pid, p.StartTicks);

    /// <summary>Stops every instance (controller shutdown, canary deleted).</summary>
    public async Task StopAllAsync(CancellationToken cancellationToken)
    {
        if (_spec is { } s) _spec = s with { Replicas = 0 };
        await ReconcileAsync(cancellationToken);
        await WaitEmptyAsync(TimeSpan.FromSeconds(30), cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
            }
        }
        await Task.WhenAll(_stopping.Values);
        _stop.Dispose();
        _gate.Dispose();
    }

    private string NewId(string revision) =>
        $"{_name}-{revision[..Math.Min(6, revision.Length)]}-{Convert.ToHexString(Guid.NewGuid().ToByteArray(), 0, 3).ToLowerInvariant()}";

    private sealed class Instance(string id, string revision, int port, string logPath)
    {
        public string Id { get; } = id;
        public string Revision { get; } = revision;
        public int Port { get; set; } = port;
        public string LogPath { get; set; } = logPath;
        public StartedProcess? Process { get; set; }
        public InstanceState State { get; set; } = InstanceState.Starting;
        public DateTimeOffset StartedAt { get; set; }
        public DateTimeOffset NextProbe { get; set; }
        public DateTimeOffset RestartAt { get; set; }
        public int ProbeFailures { get; set; }
        public int Restarts { get; set; }
        public string? LastError { get; set; }
        public bool Adopted { get; init; }
        public int Pid => Process?.Pid ?? 0;
        public Uri Address => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}");
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "started {Instance} (pid {Pid}, port {Port})")]
    private static partial void LogStarted(ILogger logger, string instance, int pid, int port);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "cannot start {Instance}: {Error}")]
    private static partial void LogStartFailed(ILogger logger, string instance, string error);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "{Instance} {Error}; restarting in {Seconds}s")]
    private static partial void LogExited(ILogger logger, string instance, string error, double seconds);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "stopped {Instance}")]
    private static partial void LogStopped(ILogger logger, string instance);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "adopted {Instance} (pid {Pid}) from a previous run")]
    private static partial void LogAdopted(ILogger logger, string instance, int pid);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "supervising {Name} failed")]
    private static partial void LogLoopError(ILogger logger, string name, Exception exception);
}
